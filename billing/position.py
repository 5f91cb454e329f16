"""The one account position: what an account owes as of a date, by receivable class.

A class is what a resident reads as one kind of debt and a clerk as one receivable: each
utility service (water, sewer, ...), each tax year's installment, the penalties and interest
of the utility bills and those of each tax year, and other charges. For each class the
position gives what was billed, paid, credited and adjusted up to the date, what is owed,
what of it is past due and for how many days; beside the classes, the credit the town holds
for the account. Every page, notice, stub, scan line and report that shows a balance reads
it here (docs/billing.md, "The account position"); none adds up rows itself.

It is read from the subledger with the business date of each fact, by one query that
billing/position_pieces.py defines (and the clerks' dashboard aggregates for the whole town). It
equals the ledger's receivables for the account and each GL account as of the same date
(tests/billing/test_position.py, over random histories); the credit is the ledger's unapplied
credit for the account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from billing import position_pieces
from billing.models import (
    Invoice,
    InvoiceKind,
)
from ledger.balances import accounts_credit

UTILITY, TAX, OTHER = "utility", "tax", "other"
#: The groups in the order documents list them.
GROUPS = (UTILITY, TAX, OTHER)


@dataclass(frozen=True, order=True)
class Receivable:
    """A receivable class: one kind of debt, as a resident reads it and a clerk books it."""

    #: utility, tax or other.
    group: str
    #: The tax year of a tax class; 0 otherwise.
    tax_year: int = 0
    #: The installment of a tax class (0: the bill as a whole).
    installment: int = 0
    #: The service of a utility class (its code); "" for charges and other classes.
    service: str = ""
    #: True for the penalties and interest of the group (and tax year).
    charges: bool = False


@dataclass(frozen=True)
class ClassPosition:
    """What one class of an account came to as of the date."""

    receivable: Receivable
    billed_cents: int
    paid_cents: int
    credited_cents: int
    adjusted_cents: int
    past_due_cents: int
    #: The earliest due date of what is still owed, or None when nothing is.
    due_date: date | None
    #: How many days the oldest past-due amount is late (0 when nothing is past due).
    days_past_due: int

    @property
    def owed_cents(self) -> int:
        """Billed less paid, credited and adjusted."""
        return self.billed_cents - self.paid_cents - self.credited_cents - self.adjusted_cents


@dataclass(frozen=True)
class Position:
    """An account's position as of a date: its classes and the credit held for it."""

    account_id: int
    as_of: date
    classes: tuple[ClassPosition, ...]
    credit_cents: int
    #: What each invoice in force still owes (its principal and charges), by invoice id.
    by_invoice: dict[int, int] = field(default_factory=dict)
    #: What each installment of a tax invoice still owes (with its charges), by (invoice id,
    #: installment number); 0 is an invoice without installments.
    by_installment: dict[tuple[int, int], int] = field(default_factory=dict)

    def of(
        self, group: str | None = None, tax_year: int | None = None
    ) -> tuple[ClassPosition, ...]:
        """The classes of one group (and tax year), or all of them."""
        return tuple(
            c
            for c in self.classes
            if (group is None or c.receivable.group == group)
            and (tax_year is None or c.receivable.tax_year == tax_year)
        )

    def owed_cents(self, group: str | None = None, tax_year: int | None = None) -> int:
        """What is owed, in all or in one group (and tax year)."""
        return sum(c.owed_cents for c in self.of(group, tax_year))

    def past_due_cents(self, group: str | None = None, tax_year: int | None = None) -> int:
        """What of it is past due."""
        return sum(c.past_due_cents for c in self.of(group, tax_year))

    def days_past_due(self, group: str | None = None, tax_year: int | None = None) -> int:
        """How late the oldest past-due amount is, in days."""
        return max((c.days_past_due for c in self.of(group, tax_year)), default=0)

    def billed_cents(
        self, group: str | None = None, tax_year: int | None = None, *, charges: bool = False
    ) -> int:
        """What was billed up to the date: principal, or (charges=True) penalties and interest."""
        return sum(
            c.billed_cents for c in self.of(group, tax_year) if c.receivable.charges == charges
        )

    def settled_cents(self, group: str | None = None, tax_year: int | None = None) -> int:
        """What payments, credits and adjustments took off up to the date."""
        return sum(
            c.paid_cents + c.credited_cents + c.adjusted_cents for c in self.of(group, tax_year)
        )

    def owed_by_group(self) -> dict[str, int]:
        """What is owed in each group that owes anything, in the documents' order."""
        owed = {group: self.owed_cents(group) for group in GROUPS}
        return {group: cents for group, cents in owed.items() if cents}


def group_of(invoice: Invoice) -> tuple[str, int | None]:
    """The group an invoice belongs to: (utility, None) or (tax, its tax year)."""
    return group_of_kind(invoice.kind, invoice.period_start)


def group_of_kind(kind: InvoiceKind, period_start: date) -> tuple[str, int | None]:
    """The group of an invoice of a kind and period."""
    return (TAX, period_start.year) if kind == InvoiceKind.TAX else (UTILITY, None)


@dataclass
class _Piece:
    """One thing an invoice bills: a service's principal, an installment, or a charge."""

    receivable: Receivable
    due_date: date
    invoice_id: int
    billed: int = 0
    paid: int = 0
    credited: int = 0
    adjusted: int = 0

    @property
    def owed(self) -> int:
        return self.billed - self.paid - self.credited - self.adjusted


def account_position(session: Session, account_id: int, as_of: date) -> Position:
    """What one account owes as of a date, by class, and the credit held for it."""
    return positions(session, [account_id], as_of)[account_id]


def positions(session: Session, account_ids: Iterable[int], as_of: date) -> dict[int, Position]:
    """The positions of many accounts as of one date, with two queries."""
    wanted = sorted(set(account_ids))
    pieces: dict[int, list[_Piece]] = defaultdict(list)
    for row in session.execute(position_pieces.of_accounts(), {"as_of": as_of, "accounts": wanted}):
        receivable = Receivable(
            row.grp, int(row.tax_year), int(row.installment), row.service, bool(row.charges)
        )
        pieces[row.account_id].append(
            _Piece(
                receivable,
                row.due,
                row.invoice_id,
                int(row.billed),
                int(row.paid),
                int(row.credited),
                int(row.adjusted),
            )
        )
    credit = accounts_credit(session, wanted, as_of)
    return {
        account_id: Position(
            account_id,
            as_of,
            _classes(pieces[account_id], as_of),
            credit[account_id],
            _by_invoice(pieces[account_id]),
            _by_installment(pieces[account_id]),
        )
        for account_id in wanted
    }


def _by_invoice(pieces: Iterable[_Piece]) -> dict[int, int]:
    """What each invoice still owes."""
    owed: dict[int, int] = defaultdict(int)
    for piece in pieces:
        owed[piece.invoice_id] += piece.owed
    return dict(owed)


def _by_installment(pieces: Iterable[_Piece]) -> dict[tuple[int, int], int]:
    """What each installment of each invoice still owes."""
    owed: dict[tuple[int, int], int] = defaultdict(int)
    for piece in pieces:
        owed[(piece.invoice_id, piece.receivable.installment)] += piece.owed
    return dict(owed)


def _classes(pieces: Iterable[_Piece], as_of: date) -> tuple[ClassPosition, ...]:
    """Pieces summed by class; what is owed after its due date is past due."""
    grouped: dict[Receivable, list[_Piece]] = defaultdict(list)
    for piece in pieces:
        grouped[piece.receivable].append(piece)
    classes = []
    for receivable in sorted(grouped):
        parts = grouped[receivable]
        owing = [p for p in parts if p.owed > 0]
        late = [p for p in owing if p.due_date < as_of]
        classes.append(
            ClassPosition(
                receivable=receivable,
                billed_cents=sum(p.billed for p in parts),
                paid_cents=sum(p.paid for p in parts),
                credited_cents=sum(p.credited for p in parts),
                adjusted_cents=sum(p.adjusted for p in parts),
                past_due_cents=sum(p.owed for p in late),
                due_date=min((p.due_date for p in owing), default=None),
                days_past_due=max(((as_of - p.due_date).days for p in late), default=0),
            )
        )
    return tuple(classes)
