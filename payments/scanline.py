"""The remittance stub's scan line: what a lockbox or the counter reads off a paper payment.

Pure module. It sits in payments because the lockbox import reads it; notices, which
prints it, imports it from here (notices.scanline names the same functions). Format (docs/notices.md): 27 digits, no separators in the
barcode —

    AAAAAAAA CCCCCCCCCC YYYYMMDD K
    account  amount due  due date  Luhn check digit over the 26 digits before it
    (8)      in cents (10)  (8)     (1)

Printed in groups of those widths separated by spaces; `parse` accepts either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.checkdigit import is_valid_luhn, with_luhn

LENGTH = 27


class ScanLineError(ValueError):
    """A scan line that cannot be taken: `reason` is "unreadable" or "bad_check_digit"."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ScanLine:
    """What a scan line says."""

    account_number: str
    amount_cents: int
    due_date: date


def scan_line(account_number: str, amount_cents: int, due_date: date) -> str:
    """The 27 digits of a stub's scan line."""
    if len(account_number) != 8 or not account_number.isdigit():
        raise ValueError(f"an account number has 8 digits, not {account_number!r}")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ValueError(f"the amount must be whole cents, not {amount_cents!r}")
    if not 0 <= amount_cents < 10**10:
        raise ValueError(f"the amount {amount_cents} does not fit in 10 digits of cents")
    return with_luhn(f"{account_number}{amount_cents:010d}{due_date:%Y%m%d}")


def printed(line: str) -> str:
    """The scan line in groups, as printed under the barcode."""
    return f"{line[:8]} {line[8:18]} {line[18:26]} {line[26:]}"


def parse(text: str) -> ScanLine:
    """Read a scan line (with or without spaces); ValueError if it is malformed or its check fails."""
    digits = "".join(text.split())
    if len(digits) != LENGTH or not digits.isascii() or not digits.isdigit():
        raise ScanLineError("unreadable", f"a scan line has {LENGTH} digits")
    if not is_valid_luhn(digits):
        raise ScanLineError("bad_check_digit", "the scan line's check digit does not match")
    if not is_valid_luhn(digits[:8]):
        raise ScanLineError("bad_check_digit", "the scan line's account number is not valid")
    try:
        day = date(int(digits[18:22]), int(digits[22:24]), int(digits[24:26]))
    except ValueError:
        raise ScanLineError("unreadable", "the scan line's due date is not a date") from None
    return ScanLine(digits[:8], int(digits[8:18]), day)
