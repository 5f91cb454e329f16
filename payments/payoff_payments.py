"""Paying a tax payoff quote (docs/payoff-quotes.md): at the counter, through the API, or by
applying a lockbox or bill-pay item whose reference is the quote number.

A quote payment first posts the penalties and interest due by its date (the normal penalty
assessment, on the parcel's tax invoices only), then settles the parcel's tax invoices and
nothing else of the owner's account. What it pays beyond what the parcel owes — all of it
when the owner or another payer has already settled the parcel, the penalties projected past
the payment's date when it comes early — becomes the account's credit and at once a refund
of that payment to send to its payer (refunds payable: a check from the town). Paid after the
good-through date, it settles what it covers and the rest stays owed; the clerks' payoff page
lists it.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import PayoffOutcome, PayoffPayment, PayoffQuote, QuoteStatus
from billing.payoff import open_tax_invoices, tax_invoice_ids
from billing.penalty_service import assess_penalties
from billing.position import account_position
from core.audit import Actor, record
from core.money import format_cents
from ledger import chart
from payments.counter import COUNTER_TENDERS, REFERENCE_MAX_LENGTH
from payments.lockbox_queue import QueueRefused, mark_applied, take_waiting
from payments.models import (
    CashDrawer,
    Channel,
    Payment,
    RemittanceFile,
    RemittanceItem,
    RemittanceKind,
    Tender,
)
from payments.refunds import refund_payment
from payments.services import PaymentRefused, settle_payment


def parcel_owes(session: Session, quote: PayoffQuote, on: date) -> int:
    """What the parcel's tax invoices owe on a date, as the account position says."""
    position = account_position(session, quote.account_id, on)
    ids = tax_invoice_ids(session, quote.parcel_id)
    return sum(position.by_invoice.get(i, 0) for i in ids)


def pay_quote(
    session: Session,
    actor: Actor,
    quote: PayoffQuote,
    *,
    amount_cents: int,
    payer_name: str,
    channel: Channel,
    tender: Tender,
    on: date,
    cash_gl: str,
    rounding: str,
    town_state: str = "",
    reference: str | None = None,
    drawer: CashDrawer | None = None,
) -> PayoffPayment:
    """Take a payment against a quote: settle the parcel's tax, refund any excess; flushes."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentRefused("amount_cents", "enter an amount greater than zero")
    if not (payer_name or "").strip() or len(payer_name.strip()) > 200:
        raise PaymentRefused("payer_name", "enter who paid (at most 200 characters)")
    # NOTE: the penalties due by the payment's date are posted first, by the normal assessment,
    # so what the payment settles and what the ledger says agree.
    assess_penalties(
        session,
        actor,
        as_of=on,
        rounding=rounding,
        town_state=town_state,
        invoice_ids=[i.id for i in open_tax_invoices(session, quote.parcel_id)],
    )
    payment = Payment(
        account_id=quote.account_id,
        channel=channel,
        tender=tender,
        amount_cents=amount_cents,
        invoice_ids=tax_invoice_ids(session, quote.parcel_id),
        tender_reference=(reference or "").strip()[:REFERENCE_MAX_LENGTH] or quote.number,
        created_by=actor.label,
        drawer_id=drawer.id if drawer is not None else None,
    )
    session.add(payment)
    session.flush()
    record(session, actor, "payment.record", payment, amount_cents=amount_cents, quote=quote.number)
    receipt = settle_payment(session, actor, payment, on=on, cash_gl=cash_gl)
    assert receipt is not None  # a new payment always settles
    return _close_quote(session, actor, quote, payment, receipt.credit_cents, payer_name, on)


def _close_quote(
    session: Session,
    actor: Actor,
    quote: PayoffQuote,
    payment: Payment,
    excess: int,
    payer_name: str,
    on: date,
) -> PayoffPayment:
    """Record what the payment did to the quote, refund its excess and mark the quote paid."""
    still_owed = parcel_owes(session, quote, on)
    applied = payment.amount_cents - excess
    late = on > quote.good_through
    outcome = (
        PayoffOutcome.REFUNDED
        if applied == 0
        else PayoffOutcome.LATE
        if late and still_owed
        else PayoffOutcome.SETTLED
    )
    row = PayoffPayment(
        quote_id=quote.id,
        payment_id=payment.id,
        payer_name=payer_name.strip(),
        paid_on=on,
        outcome=outcome,
        applied_cents=applied,
        refund_cents=excess,
        still_owed_cents=still_owed,
    )
    if excess:
        refund = refund_payment(
            session,
            actor,
            payment,
            amount_cents=excess,
            reason=f"Payoff quote {quote.number}: paid {format_cents(excess)} more than the "
            f"parcel's tax owed on {on.isoformat()}; to be sent back to {payer_name.strip()}",
            on=on,
            resident_text="Returned: more than the property tax owed",
        )
        row.refund_id = refund.id
    session.add(row)
    if not still_owed and quote.status != QuoteStatus.PAID:
        quote.status, quote.paid_on = QuoteStatus.PAID, on
    session.flush()
    record(
        session,
        actor,
        f"payoff.{outcome.value}",
        quote,
        payment=payment.id,
        payer=payer_name.strip(),
        applied_cents=applied,
        refund_cents=excess,
        still_owed_cents=still_owed,
    )
    return row


def pay_quote_at_counter(
    session: Session,
    actor: Actor,
    quote: PayoffQuote,
    *,
    drawer: CashDrawer,
    amount_cents: int,
    tender: Tender,
    reference: str | None,
    payer_name: str,
    on: date,
    rounding: str,
    town_state: str = "",
) -> PayoffPayment:
    """Cash, a check or a money order taken into the clerk's open drawer against a quote."""
    if drawer.closed_at is not None or drawer.opened_by != actor.label:
        raise PaymentRefused("drawer", "take counter payments into your own open drawer")
    if tender not in COUNTER_TENDERS:
        raise PaymentRefused("tender", "the counter takes cash, checks and money orders")
    if tender != Tender.CASH and not (reference or "").strip():
        raise PaymentRefused("reference", "enter the check or money order number")
    return pay_quote(
        session,
        actor,
        quote,
        amount_cents=amount_cents,
        payer_name=payer_name,
        channel=Channel.COUNTER,
        tender=tender,
        on=on,
        cash_gl=chart.CASH_DRAWER,
        rounding=rounding,
        town_state=town_state,
        reference=reference,
        drawer=drawer,
    )


def apply_item_to_quote(
    session: Session,
    actor: Actor,
    item: RemittanceItem,
    quote: PayoffQuote | None,
    *,
    note: str,
    on: date,
    rounding: str,
    town_state: str = "",
) -> PayoffPayment:
    """Apply a waiting lockbox or bill-pay item, all of its amount, to a payoff quote; flushes.

    The item's money waits on 2040 (payments.lockbox); the quote payment takes it from there.
    A quote replaced by a newer one is refused (the newer one names what is owed); a quote
    past its good-through date is taken, as a late payment. QueueRefused, nothing changed,
    when the item or the quote cannot be used.
    """
    item = take_waiting(session, item, note)
    if quote is None:
        raise QueueRefused("quote", "no payoff quote has this number")
    if quote.status == QuoteStatus.SUPERSEDED:
        raise QueueRefused(
            "quote",
            f"payoff quote {quote.number} was replaced by a newer quote for "
            f"{quote.requester_name}: apply the item to that one",
        )
    kind = session.scalar(sa.select(RemittanceFile.kind).where(RemittanceFile.id == item.file_id))
    paid = pay_quote(
        session,
        actor,
        quote,
        amount_cents=item.amount_cents,
        payer_name=(item.payer_name or "").strip() or quote.requester_name,
        channel=Channel.MAIL,
        tender=Tender.CHECK if kind == RemittanceKind.LOCKBOX else Tender.BILL_PAY,
        on=on,
        cash_gl=chart.REMITTANCES_HELD,
        rounding=rounding,
        town_state=town_state,
        reference=item.reference,
    )
    mark_applied(
        session,
        actor,
        item,
        payment_id=paid.payment_id,
        account_id=quote.account_id,
        note=note,
        quote=quote.number,
        outcome=paid.outcome.value,
    )
    return paid


def late_payments(session: Session) -> list[PayoffPayment]:
    """Quote payments made after their good-through date that left tax owed (the clerks look)."""
    return list(
        session.scalars(
            sa.select(PayoffPayment)
            .where(PayoffPayment.outcome == PayoffOutcome.LATE)
            .order_by(PayoffPayment.id.desc())
        )
    )


__all__ = [
    "QueueRefused",
    "apply_item_to_quote",
    "late_payments",
    "parcel_owes",
    "pay_quote",
    "pay_quote_at_counter",
]
