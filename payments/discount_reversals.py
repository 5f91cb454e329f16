"""Early-payment discounts taken back when the money that paid the bill in time goes back.

A discount is earned only by paying the whole bill (or the installment, on an installment
plan) in full, less the discount, by the pay-by date (payments.discounts; s. 197.162 F.S.).
When a refund, a voided counter payment or a lost dispute re-opens any part of what a
discount was for, that bill (or installment) is no longer paid in full in time: the whole
discount is taken back, not a share of it, whichever payment earned it. A refund that gives
back only the credit a payment left re-opens nothing and takes back nothing.

Taking a discount back writes one DISCOUNT_REVERSED settlement per piece the discount settled
(installment and receivable), gives the installment and the invoice their balance back, and
reverses the discount's journal entry (debit the receivable, credit the discount account).
An entry is reversed at most once (ledger.posting.reverse_entry, a unique `reverses_id`), and
a discount taken back has nothing left to take: a second refund, a retried event or a later
take-back changes nothing. A payment received later within a discount period earns the
discount in force that day again (payments.discounts.offers_of).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from billing.invoices import refresh_status
from billing.models import Invoice, Settlement, SettlementKind
from core.audit import Actor, record
from ledger.models import JournalEntry
from ledger.posting import LedgerError, reverse_entry

#: The journal entries of honoured discounts (payments.discounts.settle_discounts).
SOURCE_TYPE = "discount"


def standing_discounts(session: Session, invoice: Invoice) -> list[tuple[JournalEntry, int]]:
    """The invoice's honoured discounts not taken back: (their journal entry, the installment
    they are for, or 0 for the whole bill), oldest first."""
    ids = {invoice.number: 0} | {
        f"{invoice.number}/{i.number}": i.number for i in invoice.installments
    }
    later = aliased(JournalEntry)
    entries = session.scalars(
        sa.select(JournalEntry)
        .where(
            JournalEntry.source_type == SOURCE_TYPE,
            JournalEntry.source_id.in_(list(ids)),
            JournalEntry.reverses_id.is_(None),
            ~sa.exists().where(later.reverses_id == JournalEntry.id),
        )
        .order_by(JournalEntry.seq)
    ).all()
    return [(entry, ids[entry.source_id]) for entry in entries]


def _live_pieces(session: Session, invoice: Invoice, number: int) -> dict[tuple[int, int], int]:
    """What discounts still take off the invoice: (installment, receivable GL id) -> cents; for
    one installment's discount, that installment's only."""
    query = sa.select(
        Settlement.installment_number,
        Settlement.receivable_gl_id,
        Settlement.kind,
        Settlement.amount_cents,
    ).where(
        Settlement.invoice_id == invoice.id,
        Settlement.charge_id.is_(None),
        Settlement.kind.in_([SettlementKind.DISCOUNT, SettlementKind.DISCOUNT_REVERSED]),
    )
    if number:
        query = query.where(Settlement.installment_number == number)
    live: dict[tuple[int, int], int] = defaultdict(int)
    for installment, gl_id, kind, cents in session.execute(query):
        live[(installment, gl_id)] += -cents if kind.reopens else cents
    return {key: cents for key, cents in live.items() if cents > 0}


def _give_back(
    session: Session, invoice: Invoice, pieces: dict[tuple[int, int], int], on: date, cause: str
) -> None:
    """Record the DISCOUNT_REVERSED settlements and give the installments their balance back."""
    for (number, gl_id), cents in sorted(pieces.items()):
        session.add(
            Settlement(
                invoice_id=invoice.id,
                installment_number=number,
                charge_id=None,
                receivable_gl_id=gl_id,
                kind=SettlementKind.DISCOUNT_REVERSED,
                source_id=cause,
                amount_cents=cents,
                settled_on=on,
            )
        )
        invoice.balance_cents += cents
        for installment in invoice.installments:
            if installment.number == number:
                installment.balance_cents += cents
    with session.no_autoflush:
        refresh_status(session, invoice)
    session.flush()


def _take_back(
    session: Session,
    actor: Actor,
    invoice: Invoice,
    entry: JournalEntry,
    number: int,
    on: date,
    *,
    cause: str,
    because: str,
) -> int:
    """Take back one honoured discount in full; returns its cents."""
    pieces = _live_pieces(session, invoice, number)
    cents = sum(pieces.values())
    entered = sum(line.credit_cents for line in entry.lines if line.account_id is not None)
    if cents != entered:
        raise LedgerError(
            f"the discount of entry {entry.seq} credited {entered} cents but its settlements "
            f"still take {cents} off invoice {invoice.number}"
        )
    _give_back(session, invoice, pieces, on, cause)
    what = f"invoice {invoice.number}" + (f" installment {number}" if number else "")
    reverse_entry(
        session,
        entry,
        actor=actor,
        entry_date=on,
        memo=f"Early-payment discount on {what} taken back: {because}; "
        "no longer paid in full in time",
    )
    record(
        session,
        actor,
        "discount.taken_back",
        invoice,
        installment=number,
        amount_cents=cents,
        because=because,
    )
    return cents


def take_back_discounts(
    session: Session,
    actor: Actor,
    reopened: Collection[tuple[int, int]],
    on: date,
    *,
    cause: str,
    because: str,
) -> int:
    """Take back every honoured discount whose bill (or installment) a take-back re-opened.

    `reopened` holds the (invoice id, installment number) pieces re-opened; `cause` is the
    settlements' source ("refund:12"), `because` the staff's words for the entry's memo.
    Returns the cents taken back; nothing when no discount stood on what was re-opened.
    """
    total = 0
    by_invoice: dict[int, set[int]] = defaultdict(set)
    for invoice_id, number in reopened:
        by_invoice[invoice_id].add(number)
    for invoice_id in sorted(by_invoice):
        invoice = session.get(Invoice, invoice_id)
        for entry, number in standing_discounts(session, invoice):
            if number and number not in by_invoice[invoice_id]:
                continue  # another installment's discount: that installment is still paid
            total += _take_back(
                session, actor, invoice, entry, number, on, cause=cause, because=because
            )
    return total


def taken_back_by(session: Session, cause: str) -> list[tuple[str, int]]:
    """The discounts a take-back took back: (invoice number, cents), in invoice order."""
    rows = session.execute(
        sa.select(Invoice.number, sa.func.sum(Settlement.amount_cents))
        .join(Invoice, Invoice.id == Settlement.invoice_id)
        .where(
            Settlement.kind == SettlementKind.DISCOUNT_REVERSED,
            Settlement.source_id == cause,
        )
        .group_by(Invoice.number)
        .order_by(Invoice.number)
    ).all()
    return [(number, int(cents)) for number, cents in rows]
