"""Maple Falls' export from the system it leaves: the conversion files (docs/conversion.md)
that `munibill demo load` converts, as a town's clerks would.

The old system kept 24 months of monthly reads; some households were late with the
last bill, a few are delinquent for months with penalties, a few prepaid, and the
businesses and some renters left deposits.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

#: Households (by index) late with the last old bill, delinquent for three, and in credit.
LATE = {3, 8, 14, 22, 27, 33, 38, 44}
DELINQUENT = {0, 17, 41}
PREPAID = {11, 30}
#: Households that rent and left a deposit; every business left one.
RENTERS = {2, 12, 25, 36}
#: Every household that rents its home from the landlord (one moved in before deposits were asked).
TENANTS = RENTERS | {5}
#: The landlord who owns the tenants' homes: the last account of the export, with no service.
LANDLORD = {
    "holder_name": "Fox River Rentals LLC",
    "mail_street": "410 Main Street",
    "mail_city": "Maple Falls",
    "mail_state": "WI",
    "mail_zip": "54901-2210",
    "email": "foxriverrentals@example.org",
    "phone": "(920) 555-2400",
    "language": "en",
    "paperless": False,
}


def former_number(index: int) -> str:
    """The account's number in the old system."""
    return f"MF-{index + 1:05d}"


@dataclass
class Export:
    """The rows of each file, as the old system writes them."""

    rows: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, name: str, **row) -> None:
        """One row of one file."""
        self.rows.setdefault(name, []).append(
            {k: "" if v is None else str(v) for k, v in row.items()}
        )

    def write(self, folder: Path) -> None:
        """Write every file with its header."""
        for name, rows in self.rows.items():
            with (folder / name).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)


def _cents(cents: int) -> str:
    """Dollars and cents as the old system prints them."""
    return f"{cents // 100}.{cents % 100:02d}"


def _bill(export: Export, rng: random.Random, index: int, month_end: date, business: bool) -> int:
    """One unpaid old bill for the month ending month_end (water, sewer, trash); its total."""
    issue = month_end + timedelta(days=1)
    classes = {"water": rng.randint(2_800, 6_500), "sewer": rng.randint(2_200, 5_200)}
    if business:
        classes = {kind: cents * 4 for kind, cents in classes.items()}
    else:
        classes["trash"] = 1_800
    for kind, cents in classes.items():
        export.add(
            "balances.csv",
            former_number=former_number(index),
            receivable_class=kind,
            amount=_cents(cents),
            bill_date=issue,
            due_date=issue + timedelta(days=21),
            period_start=month_end.replace(day=1),
            period_end=month_end,
            reference=f"{month_end:%y%m}{index + 1:04d}",
        )
    return sum(classes.values())


def balances(
    export: Export, rng: random.Random, index: int, ends: list[date], business: bool
) -> None:
    """What the household owed on the conversion day: the last bill, three with penalties, or credit."""
    if index in PREPAID:
        export.add(
            "balances.csv",
            former_number=former_number(index),
            receivable_class="credit",
            amount="40.00",
        )
    if index in LATE or index in DELINQUENT:
        _bill(export, rng, index, ends[-2], business)
    if index in DELINQUENT:
        owed = _bill(export, rng, index, ends[-3], business) + _bill(
            export, rng, index, ends[-4], business
        )
        charged = ends[-3] + timedelta(days=1)
        export.add(
            "balances.csv",
            former_number=former_number(index),
            receivable_class="penalties",
            amount=_cents(max(100, owed // 100)),
            bill_date=charged,
            due_date=charged + timedelta(days=21),
            reference=f"LC{index + 1:04d}",
        )


def deposit(export: Export, rng: random.Random, index: int, business: bool) -> None:
    """The deposit a business or a renter left when service started."""
    if not business and index not in RENTERS:
        return
    held = date(2018, 1, 15) + timedelta(days=rng.randint(0, 6 * 365))
    export.add(
        "deposits.csv",
        former_number=former_number(index),
        amount="250.00" if business else "100.00",
        held_since=held,
        reference=f"D-{index + 1:04d}",
    )


def reads(export: Export, meter: str, registers: list[tuple[date, int]], dial_digits: int) -> None:
    """The meter's last reading and its consumption by month before it."""
    last_on, last = registers[-1]
    export.add("readings.csv", meter_id=meter, read_on=last_on, reading=last)
    limit = 10**dial_digits
    for (start, before), (end, after) in pairwise(registers):
        export.add(
            "history.csv",
            meter_id=meter,
            period_start=start,
            period_end=end,
            consumption=(after - before) % limit,
        )
