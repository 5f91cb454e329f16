"""Recording, settling and failing payments.

A payment is recorded (pending) before anything reaches Stripe; it settles
invoices only when a verified success arrives (webhook or reconciliation).
Settling is idempotent and serialised per account, so two successes for the
same invoice at the same moment leave one paid invoice and the rest as credit.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing import chart
from billing.chart import gl_codes
from billing.invoices import refresh_status
from billing.ledger import Posting, account_receivable, post_entry
from billing.models import (
    Account,
    Invoice,
    InvoiceCharge,
    InvoiceStatus,
    Settlement,
    SettlementKind,
)
from billing.numbering import next_number
from billing.receivables import fill, outstanding_by_receivable
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from payments.allocation import Allocation, Owed, allocate
from payments.models import CashDrawer, Channel, Payment, PaymentStatus, Receipt, Tender

OPEN = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class PaymentRefused(ValueError):
    """A payment that cannot be made; `field` names what is wrong, nothing was recorded."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _open_invoices(session: Session, account_id: int, *, lock: bool = False) -> list[Invoice]:
    """The account's invoices that still owe something, oldest due first."""
    query = (
        sa.select(Invoice)
        .where(Invoice.account_id == account_id, Invoice.status.in_(OPEN))
        .options(selectinload(Invoice.installments), selectinload(Invoice.lines))
        .order_by(Invoice.due_date, Invoice.id)
    )
    if lock:
        # NOTE: one settlement at a time per account: concurrent successes queue here.
        query = query.with_for_update(of=Invoice)
    return list(session.scalars(query))


def owed_items(session: Session, invoices: list[Invoice]) -> list[Owed]:
    """Everything the invoices still owe, as the allocation module sees it."""
    charges = session.scalars(
        sa.select(InvoiceCharge).where(
            InvoiceCharge.invoice_id.in_([i.id for i in invoices]),
            InvoiceCharge.balance_cents > 0,
            InvoiceCharge.waived_at.is_(None),
        )
    ).all()
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


def _chosen(session: Session, account: Account, invoice_numbers: list[str]) -> list[Invoice]:
    """The invoices a payer chose, each checked to be the account's and still open."""
    invoices = []
    for number in dict.fromkeys(invoice_numbers):  # each chosen bill once, in the order given
        invoice = session.scalar(sa.select(Invoice).where(Invoice.number == number))
        if invoice is None or invoice.account_id != account.id:
            raise PaymentRefused(
                "invoices", f"invoice {number} is not a bill of account {account.number}"
            )
        if invoice.status not in OPEN:
            raise PaymentRefused(
                "invoices", f"invoice {number} is {invoice.status.value.replace('_', ' ')}"
            )
        invoices.append(invoice)
    return invoices


def record_payment(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    amount_cents: int,
    invoice_numbers: list[str],
    channel: Channel,
    tender: Tender,
    minimum_cents: int = 100,
    drawer: CashDrawer | None = None,
) -> Payment:
    """Check the amount against what is owed and record a pending payment; flushes."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentRefused("amount_cents", "enter an amount greater than zero")
    chosen = _chosen(session, account, invoice_numbers)
    invoices = chosen or _open_invoices(session, account.id)
    owed = sum(item.balance_cents for item in owed_items(session, invoices))
    if owed == 0:
        raise PaymentRefused("invoices", "nothing is owed on this account")
    if amount_cents > owed:
        raise PaymentRefused(
            "amount_cents", f"the most you can pay is {format_cents(owed)}, what is owed"
        )
    if amount_cents < min(minimum_cents, owed):
        raise PaymentRefused(
            "amount_cents", f"the least you can pay is {format_cents(min(minimum_cents, owed))}"
        )
    payment = Payment(
        account_id=account.id,
        channel=channel,
        tender=tender,
        amount_cents=amount_cents,
        invoice_ids=[i.id for i in chosen],
        created_by=actor.label,
        drawer_id=drawer.id if drawer is not None else None,
    )
    session.add(payment)
    session.flush()
    record(
        session,
        actor,
        "payment.record",
        payment,
        amount_cents=amount_cents,
        invoices=[i.number for i in chosen],
    )
    return payment


def _apply(
    session: Session,
    payment: Payment,
    allocation: Allocation,
    invoices: dict[int, Invoice],
    on: date,
) -> list[Posting]:
    """Lower the balances the allocation settles (on the already locked invoices); return the receivable credits."""
    codes = gl_codes(session)
    penalty_gl = {code: gl_id for gl_id, code in codes.items()}[chart.PENALTY_RECEIVABLE]
    credits: list[Posting] = []
    for part in allocation.parts:
        invoice = invoices[part.invoice_id]
        if part.charge_id is not None:
            charge = session.get(InvoiceCharge, part.charge_id)
            charge.balance_cents -= part.cents
            pieces = {penalty_gl: part.cents}
        else:
            pieces = fill(outstanding_by_receivable(session, invoice), part.cents)
            invoice.balance_cents -= part.cents
            for installment in invoice.installments:
                if installment.number == part.installment_number:
                    installment.balance_cents -= part.cents
        for gl_id, cents in pieces.items():
            session.add(
                Settlement(
                    invoice_id=invoice.id,
                    installment_number=part.installment_number,
                    charge_id=part.charge_id,
                    receivable_gl_id=gl_id,
                    kind=SettlementKind.PAYMENT,
                    source_id=str(payment.id),
                    amount_cents=cents,
                    settled_on=on,
                )
            )
            credits.append(Posting(codes[gl_id], credit_cents=cents, account_id=invoice.account_id))
        session.flush()
    for invoice_id in {part.invoice_id for part in allocation.parts}:
        refresh_status(session, invoices[invoice_id])
    return credits


def settle_payment(
    session: Session, actor: Actor, payment: Payment, *, on: date, cash_gl: str
) -> Receipt | None:
    """Apply a succeeded payment to what its account owes, post it and issue its receipt.

    Safe to call twice: a payment already settled returns None and changes nothing.
    """
    session.refresh(payment, with_for_update=True)
    if payment.status == PaymentStatus.SUCCEEDED:
        return None
    invoices = _open_invoices(session, payment.account_id, lock=True)
    allocation = allocate(
        payment.amount_cents,
        owed_items(session, invoices),
        only_invoices=payment.invoice_ids or None,
    )
    owed_before = account_receivable(session, payment.account_id)
    postings = [Posting(cash_gl, debit_cents=payment.amount_cents)]
    postings += _apply(session, payment, allocation, {i.id: i for i in invoices}, on)
    if allocation.credit_cents:
        postings.append(
            Posting(
                chart.UNAPPLIED_CREDITS,
                credit_cents=allocation.credit_cents,
                account_id=payment.account_id,
            )
        )
    payment.status, payment.succeeded_at = PaymentStatus.SUCCEEDED, utcnow()
    payment.failure_code = payment.failure_message = None
    receipt = Receipt(
        number=f"R-{on.year}-{next_number(session, 'receipt', on.year):06d}",
        payment_id=payment.id,
        account_id=payment.account_id,
        amount_cents=payment.amount_cents,
        tender=payment.tender,
        paid=[
            {
                "invoice": p.invoice_number,
                "installment": p.installment_number,
                "category": p.category,
                "cents": p.cents,
            }
            for p in allocation.parts
        ],
        credit_cents=allocation.credit_cents,
        balance_after_cents=owed_before - allocation.applied_cents,
    )
    session.add(receipt)
    record(
        session,
        actor,
        "payment.settle",
        payment,
        receipt=receipt.number,
        credit_cents=allocation.credit_cents,
    )
    # NOTE: posted last: the ledger head is locked from here to the commit, so keep that short.
    post_entry(
        session,
        postings,
        entry_date=on,
        source_type="payment",
        source_id=payment.id,
        actor=actor,
        memo=f"Payment {payment.id} ({payment.tender.value}) for account {payment.account.number}",
    )
    return receipt


def fail_payment(
    session: Session, actor: Actor, payment: Payment, *, code: str | None, message: str
) -> bool:
    """Record why a payment failed, unless it already succeeded (a late failure changes nothing)."""
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        return False
    payment.status, payment.failure_code, payment.failure_message = (
        PaymentStatus.FAILED,
        code,
        message[:500],
    )
    record(session, actor, "payment.fail", payment, code=code, message=message[:200])
    return True


def mark_payment(session: Session, actor: Actor, payment: Payment, status: PaymentStatus) -> bool:
    """Move a pending payment to processing or canceled; a settled or failed one stays as it is."""
    if (
        payment.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING)
        or payment.status == status
    ):
        return False
    payment.status = status
    record(session, actor, f"payment.{status.value}", payment)
    return True
