"""Which account a remittance item pays: by our account number or, for a while after the
conversion, by the account's former number (accounts.services.FormerNumbers).

Reads the accounts of a whole file in a few queries, so a file of 20,000 items does not ask
20,000 times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, AccountStatus
from accounts.services import FormerNumbers
from core.checkdigit import is_valid_luhn
from core.db import among

#: How many references one query asks for.
CHUNK = 5000


@dataclass(frozen=True)
class Found:
    """An account as a remittance item sees it."""

    id: int
    number: str
    closed: bool
    #: Found by its former number (docs/conversion.md), not by ours.
    by_former_number: bool = False


@dataclass(frozen=True)
class Missing:
    """Why no account takes a reference: the exception queue's reason and its words."""

    reason: str
    detail: str


def _rows(session: Session, column, values: list[str]) -> list:
    """The accounts whose column is one of the values, a chunk at a time."""
    rows = []
    for start in range(0, len(values), CHUNK):
        rows += session.execute(
            sa.select(
                Account.id,
                Account.number,
                Account.status,
                Account.former_number,
                Account.converted_on,
            ).where(among(session, column, values[start : start + CHUNK]))
        ).all()
    return rows


class AccountFinder:
    """Looks up the accounts of many references at once, then answers one at a time."""

    def __init__(
        self,
        session: Session,
        *,
        numbers: Iterable[str],
        former: Iterable[str],
        accepted: FormerNumbers,
    ):
        self.accepted = accepted
        self.by_number = {r.number: r for r in _rows(session, Account.number, sorted(set(numbers)))}
        wanted = sorted({text.strip().upper() for text in former if text and text.strip()})
        self.by_former = {
            r.former_number.upper(): r
            for r in _rows(session, sa.func.upper(Account.former_number), wanted)
        }

    def number(self, number: str) -> Found | Missing:
        """The account with our number (eight digits with their Luhn check digit)."""
        row = self.by_number.get(number)
        if row is None:
            return Missing("unknown_account", f"no account has the number {number}")
        return Found(row.id, row.number, row.status == AccountStatus.CLOSED)

    def former(self, text: str) -> Found | Missing | None:
        """The account with this former number while it is accepted; None if no account has it."""
        row = self.by_former.get((text or "").strip().upper())
        if row is None:
            return None
        if not self.accepted.accepts(row.converted_on):
            return Missing(
                "former_number_expired",
                f"{text.strip()} is the former number of account {row.number}, no longer "
                f"accepted ({self.accepted.days} days after the conversion on {row.converted_on})",
            )
        return Found(row.id, row.number, row.status == AccountStatus.CLOSED, by_former_number=True)

    def reference(self, text: str) -> Found | Missing:
        """A bill-pay account reference: our number (spaces and dashes ignored), or a former one."""
        former = self.former(text)
        if former is not None:
            return former
        digits = "".join(ch for ch in text if ch not in " -")
        if len(digits) == 8 and digits.isascii() and digits.isdigit():
            if not is_valid_luhn(digits):
                return Missing("bad_check_digit", f"{digits}: the check digit does not match")
            return self.number(digits)
        return Missing("unknown_account", f"no account has the number {text.strip()!r}")


def digits_of(text: str | None) -> str:
    """An account reference without its spaces and dashes."""
    return "".join(ch for ch in (text or "") if ch not in " -")
