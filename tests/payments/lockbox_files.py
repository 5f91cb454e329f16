"""Bank files as the banks send them, built for the tests: BAI lockbox, CSV lockbox and an
RPPS-style bill-pay file (the layouts under payments/lockbox_layouts/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass
class Check:
    """One check in a lockbox with the stub it came with (or a bill-pay payment)."""

    amount_cents: int
    scan_line: str = ""
    check_number: str = ""
    account: str = ""
    payer: str = "RESIDENT"


def _fixed(text: str, width: int) -> str:
    assert len(text) <= width, (len(text), text)
    return text.ljust(width)


def bai(
    checks: list[Check],
    deposit: date,
    *,
    per_batch: int = 50,
    lockbox: str = "0012345",
    batch_totals: dict[str, tuple[int, int]] | None = None,
    trailer_records: int | None = None,
) -> bytes:
    """A BAI lockbox transmission: header, service, batches of 5/6/7, service total, trailer."""
    day = f"{deposit:%y%m%d}"
    lines = [
        f"101{'MUNIBILL':>10}{'BANKORIGIN':>10}{day}0630",
        f"2{'MUNIBILL':>10}{'BANKORIGIN':>10}",
    ]
    for first in range(0, len(checks), per_batch):
        batch = f"{first // per_batch + 1:03d}"
        chunk = checks[first : first + per_batch]
        lines.append(f"5{batch}000{lockbox}{day}")
        for n, check in enumerate(chunk, start=1):
            lines.append(
                f"6{batch}{n:03d}{check.amount_cents:010d}{'071000013':9}{'4417001234':10}"
                f"{check.check_number:>10}{check.scan_line:27}"
            )
        count, cents = (batch_totals or {}).get(
            batch, (len(chunk), sum(c.amount_cents for c in chunk))
        )
        lines.append(f"7{batch}999{lockbox}{day}{count:03d}{cents:010d}")
    lines.append(
        f"8000000{lockbox}{day}{len(checks):04d}{sum(c.amount_cents for c in checks):010d}"
    )
    lines.append(f"9{(trailer_records or len(lines) + 1):06d}")
    return ("\n".join(_fixed(line, 80) for line in lines) + "\n").encode("ascii")


def csv_lockbox(checks: list[Check], deposit: date, *, per_batch: int = 50) -> bytes:
    """The comma-separated lockbox layout: H, D..., BT per batch, FT."""
    lines = [f"H,LB12345,{deposit:%Y-%m-%d}"]
    for first in range(0, len(checks), per_batch):
        batch = first // per_batch + 1
        chunk = checks[first : first + per_batch]
        for n, c in enumerate(chunk, start=1):
            lines.append(
                f"D,{batch},{n},{c.check_number},{c.amount_cents / 100:.2f},{c.scan_line},"
                f'"{c.payer}",{c.account}'
            )
        lines.append(f"BT,{batch},{len(chunk)},{sum(c.amount_cents for c in chunk) / 100:.2f}")
    total = sum(c.amount_cents for c in checks)
    lines.append(f"FT,{len(lines) + 1},{len(checks)},{total / 100:.2f}")
    return ("\r\n".join(lines) + "\r\n").encode()


def rpps(payments: list[Check], deposit: date, *, batch_number: int = 1) -> bytes:
    """A bill-pay file in the NACHA layout: 1, 5, 6..., 8, 9, padded to blocks of ten."""
    day = f"{deposit:%y%m%d}"
    lines = [
        f"101 091000019 999999999{day}0700A094101{'MUNIBILL':23}{'RPPS':23}{'':8}",
        f"5220{'RPPS BILL PAY':16}{'':20}{'9101036151':10}CIEBILL PAY  {day}{day}   1"
        f"09100001{batch_number:07d}",
    ]
    for n, p in enumerate(payments, start=1):
        lines.append(
            f"622{'999999992':9}{p.account:17}{p.amount_cents:010d}{'':15}{p.payer[:22]:22}"
            f"  0{p.check_number or f'09100001{n:07d}':>15}"
        )
    total = sum(p.amount_cents for p in payments)
    lines.append(
        f"8220{len(payments):06d}{0:010d}{0:012d}{total:012d}{'9101036151':10}{'':19}{'':6}"
        f"09100001{batch_number:07d}"
    )
    lines.append(f"9{1:06d}{1:06d}{len(payments):08d}{0:010d}{0:012d}{total:012d}{'':39}")
    while len(lines) % 10:
        lines.append("9" * 94)
    return ("\n".join(_fixed(line, 94) for line in lines) + "\n").encode("ascii")
