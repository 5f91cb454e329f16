"""The delinquent property tax roll as of a date: every parcel whose tax installments are past
due on that date, with what of each is unpaid principal and what penalties and interest, as the
one position reads them (docs/liens.md, "The delinquent roll").

The figures come from billing.position_pieces, the one query billing.position is made of: each
piece is an installment's principal or a penalty or interest charge on it, with what was billed,
paid, credited and adjusted by the date. A piece is delinquent when it still owes something and
its due date is before the date, exactly as the position counts it past due; so a parcel's roll
lines add up to its owner's past-due tax in billing.position (one parcel per account) and to the
ledger's receivables.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, Parcel
from billing import position_pieces
from billing.models import Invoice
from core.money import format_cents


class LienError(ValueError):
    """A roll, sale list or certification that cannot be made; nothing was written."""


@dataclass(frozen=True)
class RollLine:
    """One delinquent installment of one parcel's tax year."""

    parcel_id: int
    parcel_number: str
    account_id: int
    account_number: str
    owner: str
    situs: str
    property_class: str
    exemption_flags: tuple[str, ...]
    tax_year: int
    #: 0: a bill without installments.
    installment: int
    due_date: date
    days_late: int
    principal_cents: int
    #: Penalties and interest booked by the date and still unpaid.
    charges_cents: int
    #: The tax invoices the line is of.
    invoice_ids: tuple[int, ...] = ()

    @property
    def total_cents(self) -> int:
        """Principal, penalties and interest."""
        return self.principal_cents + self.charges_cents


@dataclass(frozen=True)
class Roll:
    """The delinquent roll as of a date, parcel by parcel, oldest tax year first."""

    as_of: date
    lines: tuple[RollLine, ...]

    @property
    def principal_cents(self) -> int:
        return sum(line.principal_cents for line in self.lines)

    @property
    def charges_cents(self) -> int:
        return sum(line.charges_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.charges_cents

    @property
    def parcel_count(self) -> int:
        return len({line.parcel_id for line in self.lines})

    def by_parcel(self) -> dict[int, list[RollLine]]:
        """The lines of each parcel, in the roll's order."""
        found: dict[int, list[RollLine]] = defaultdict(list)
        for line in self.lines:
            found[line.parcel_id].append(line)
        return dict(found)


def refuse_future(as_of: date, today: date) -> None:
    """A roll is of what happened: a date after today is refused with the reason."""
    if as_of > today:
        raise LienError(
            f"as_of: {as_of.isoformat()} is after today ({today.isoformat()}); the roll shows "
            "what was delinquent on a day that has come (a payoff quote projects a later day)"
        )


def delinquent_roll(session: Session, as_of: date, *, today: date) -> Roll:
    """The delinquent roll as of a date (today or before), from the one position's pieces."""
    refuse_future(as_of, today)
    table = position_pieces.pieces(as_of)
    query = (
        sa.select(
            table.c.account_id,
            table.c.invoice_id,
            table.c.tax_year,
            table.c.installment,
            table.c.charges,
            table.c.due,
            (table.c.billed - table.c.paid - table.c.credited - table.c.adjusted).label("owed"),
            Parcel,
            Account.number,
            Account.holder_name,
        )
        .join(Invoice, Invoice.id == table.c.invoice_id)
        .join(Parcel, Parcel.id == Invoice.parcel_id)
        .join(Account, Account.id == table.c.account_id)
        .where(table.c.grp == "tax", table.c.due < as_of)
    )
    sums: dict[tuple, list[int]] = {}
    facts: dict[tuple, tuple] = {}
    invoices: dict[tuple, set[int]] = defaultdict(set)
    for row in session.execute(query):
        owed = int(row.owed)
        if owed <= 0:
            continue
        key = (row.Parcel.id, int(row.tax_year), int(row.installment), row.account_id)
        cents = sums.setdefault(key, [0, 0])
        cents[1 if row.charges else 0] += owed
        earliest = facts.get(key, (None, None, None, row.due))[3]
        facts[key] = (row.Parcel, row.number, row.holder_name, min(earliest, row.due))
        invoices[key].add(row.invoice_id)
    lines = [
        _line(key, facts[key], cents, as_of, tuple(sorted(invoices[key])))
        for key, cents in sums.items()
    ]
    lines.sort(key=lambda x: (x.parcel_number, x.tax_year, x.installment, x.account_number))
    return Roll(as_of, tuple(lines))


def _line(
    key: tuple, fact: tuple, cents: list[int], as_of: date, invoice_ids: tuple[int, ...]
) -> RollLine:
    parcel, number, holder, due = fact
    return RollLine(
        parcel_id=parcel.id,
        parcel_number=parcel.parcel_number,
        account_id=key[3],
        account_number=number,
        owner=holder,
        situs=f"{parcel.situs_street}, {parcel.situs_city} {parcel.situs_zip}",
        property_class=parcel.property_class.lower(),
        exemption_flags=tuple(str(f).lower() for f in parcel.exemption_flags or ()),
        tax_year=key[1],
        installment=key[2],
        due_date=due,
        days_late=(as_of - due).days,
        principal_cents=cents[0],
        charges_cents=cents[1],
        invoice_ids=invoice_ids,
    )


#: The roll's CSV columns (docs/liens.md); amounts are dollars with two decimals.
ROLL_COLUMNS = (
    "parcel_number",
    "owner",
    "situs",
    "account",
    "tax_year",
    "installment",
    "due_date",
    "days_late",
    "principal",
    "penalties_interest",
    "total",
)


def dollars(cents: int) -> str:
    """Cents as plain dollars ("1234.56"), as files carry them."""
    return format_cents(cents, symbol="").replace(",", "")


def roll_csv(roll: Roll) -> str:
    """The roll as CSV: a header row, one row per delinquent installment, a TOTAL row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROLL_COLUMNS)
    for line in roll.lines:
        writer.writerow(
            [
                line.parcel_number,
                line.owner,
                line.situs,
                line.account_number,
                line.tax_year,
                line.installment,
                line.due_date.isoformat(),
                line.days_late,
                dollars(line.principal_cents),
                dollars(line.charges_cents),
                dollars(line.total_cents),
            ]
        )
    writer.writerow(
        [
            "TOTAL",
            f"{roll.parcel_count} parcels",
            f"as of {roll.as_of.isoformat()}",
            "",
            "",
            "",
            "",
            "",
            dollars(roll.principal_cents),
            dollars(roll.charges_cents),
            dollars(roll.total_cents),
        ]
    )
    return out.getvalue()
