"""What the accounts of a batch of payments owe, read once under lock and kept current as the
payments settle (payments.services, payments.settle_new).

`owed_items` and `Book.owed` give what is owed as the allocation module sees it
(payments.allocation): principal per installment, and the charges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, InvoiceStatus
from billing.receivables import outstanding_by_receivables
from core.db import among
from ledger.balances import accounts_receivable
from payments.allocation import Owed
from payments.discounts import offers_of

OPEN = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


def _owed_charges(session: Session, invoice_ids: list[int]) -> list[InvoiceCharge]:
    """The penalties and interest still owed on the invoices (unwaived, with a balance)."""
    if not invoice_ids:
        return []
    return list(
        session.scalars(
            sa.select(InvoiceCharge)
            .where(
                among(session, InvoiceCharge.invoice_id, invoice_ids),
                InvoiceCharge.balance_cents > 0,
                InvoiceCharge.waived_at.is_(None),
            )
            .order_by(InvoiceCharge.id)
        )
    )


def owed_items(session: Session, invoices: list[Invoice]) -> list[Owed]:
    """Everything the invoices still owe, as the allocation module sees it."""
    return _owed(invoices, _owed_charges(session, [i.id for i in invoices]))


def _owed(invoices: list[Invoice], charges: list[InvoiceCharge]) -> list[Owed]:
    """The invoices' principal (per installment) and their charges, as allocation items."""
    items = []
    for invoice in invoices:
        parts = [(i.number, i.due_date, i.balance_cents) for i in invoice.installments] or [
            (0, invoice.due_date, invoice.balance_cents)
        ]
        for number, due, balance in parts:
            if balance > 0:
                items.append(
                    Owed(invoice.id, invoice.number, due, number, None, "principal", None, balance)
                )
    due_of = {(i.id, n.number): n.due_date for i in invoices for n in i.installments}
    by_id = {i.id: i for i in invoices}
    for charge in charges:
        if charge.balance_cents <= 0 or charge.invoice_id not in by_id:
            continue
        invoice = by_id[charge.invoice_id]
        due = due_of.get((invoice.id, charge.installment_number), invoice.due_date)
        items.append(
            Owed(
                invoice.id,
                invoice.number,
                due,
                charge.installment_number,
                charge.id,
                charge.category.value,
                charge.assessed_on,
                charge.balance_cents,
            )
        )
    return items


class Book:
    """What the accounts of a batch owe, read once under lock and kept current as payments settle."""

    def __init__(self) -> None:
        self.invoices: dict[int, list] = defaultdict(list)
        self.charges: dict[int, list[InvoiceCharge]] = defaultdict(list)
        self.outstanding: dict[int, dict[int, int]] = {}
        self.offers: dict = defaultdict(list)
        self.receivable: dict[int, int] = {}
        self.numbers: dict[int, str] = {}

    @classmethod
    def locked(cls, session: Session, account_ids: set[int]) -> Book:
        """The book of some accounts, their open invoices loaded as rows of the session, locked."""
        # NOTE: invoices are locked in id order, the same order in every batch, so
        # two batches touching the same account queue instead of deadlocking.
        invoices = session.scalars(
            sa.select(Invoice)
            .where(Invoice.account_id.in_(account_ids), Invoice.status.in_(OPEN))
            .options(selectinload(Invoice.installments))
            .order_by(Invoice.id)
            .with_for_update(of=Invoice)
        ).all()
        book = cls()
        book.add(session, invoices, account_ids)
        return book

    def add(self, session: Session, invoices: Sequence, account_ids: set[int]) -> None:
        """Take in the open invoices of some accounts (Invoice rows, or objects with the same
        fields) and read what else they owe."""
        for invoice in sorted(invoices, key=lambda i: (i.due_date, i.id)):
            self.invoices[invoice.account_id].append(invoice)
        ids = [i.id for i in invoices]
        for charge in _owed_charges(session, ids):
            self.charges[charge.invoice_id].append(charge)
        self.outstanding.update(outstanding_by_receivables(session, ids))
        self.offers.update(offers_of(session, ids))
        self.receivable.update(accounts_receivable(session, account_ids))
        self.numbers.update(
            session.execute(
                sa.select(Account.id, Account.number).where(among(session, Account.id, account_ids))
            ).all()
        )

    def open_invoices(self, account_id: int) -> list[Invoice]:
        """The account's invoices that still owe something now, oldest due first."""
        return [i for i in self.invoices[account_id] if i.status in OPEN]

    def owed(self, account_id: int) -> list[Owed]:
        """What the account owes now, as allocation items."""
        invoices = self.open_invoices(account_id)
        return _owed(invoices, [c for i in invoices for c in self.charges[i.id]])

    def refresh_status(self, invoice: Invoice) -> None:
        """Open, partially paid or paid from the balances held here (as billing.refresh_status)."""
        if invoice.balance_cents == 0 and not any(
            c.balance_cents for c in self.charges[invoice.id]
        ):
            invoice.status = InvoiceStatus.PAID
        elif invoice.balance_cents < invoice.total_cents:
            invoice.status = InvoiceStatus.PARTIALLY_PAID
        else:
            invoice.status = InvoiceStatus.OPEN
