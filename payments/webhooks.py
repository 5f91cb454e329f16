"""Stripe webhook events: stored first by their id, then dispatched by type.

Every handler is safe to run twice and in any order: a success settles a
payment once; a failure that arrives after a success changes nothing; an
event naming no payment of ours is kept as "unmatched" for the clerks'
reconciliation queue. An event whose handler raises is kept with its error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import chart
from core.audit import Actor, record
from core.db import utcnow
from payments.disputes import close_dispute, open_dispute
from payments.models import EventStatus, Payment, PaymentStatus, Refund, RefundStatus, StripeEvent
from payments.services import fail_payment, mark_payment, settle_payment

STRIPE = Actor("stripe", None, "stripe webhook", "stripe")


def store_event(session: Session, event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event by its id; returns (row, new?). A replay finds the stored row."""
    row = session.get(StripeEvent, event["id"])
    if row is not None:
        return row, False
    row = StripeEvent(
        id=event["id"], type=event["type"], payload=event, status=EventStatus.RECEIVED
    )
    session.add(row)
    session.flush()
    return row, True


def _payment_of(session: Session, intent: dict) -> Payment | None:
    """Our payment for a PaymentIntent: by the id in its metadata, else by the intent id."""
    payment_id = (intent.get("metadata") or {}).get("payment_id", "")
    payment = None
    if payment_id.isdigit():
        payment = session.get(Payment, int(payment_id))
    if payment is None and intent.get("id"):
        payment = session.scalar(
            sa.select(Payment).where(Payment.stripe_payment_intent_id == intent["id"])
        )
    if payment is not None and payment.stripe_payment_intent_id not in (None, intent.get("id")):
        return None  # the metadata names a payment that belongs to another intent
    return payment


def _event_day(event: dict):
    """The date an event happened (UTC), the ledger date of what it settles."""
    created = event.get("created")
    return (
        datetime.fromtimestamp(created, UTC).date() if isinstance(created, int) else utcnow().date()
    )


def on_succeeded(session: Session, event: dict, payment: Payment, intent: dict) -> None:
    """Settle the payment: allocate, post, issue the receipt (once)."""
    received = intent.get("amount_received") or intent.get("amount")
    if received != payment.amount_cents:
        raise ValueError(
            f"Stripe received {received} cents for payment {payment.id} of {payment.amount_cents}"
        )
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = intent["id"]
    settle_payment(session, STRIPE, payment, on=_event_day(event), cash_gl=chart.STRIPE_CLEARING)


def on_failed(session: Session, event: dict, payment: Payment, intent: dict) -> None:
    """Record why the payment failed; nothing is allocated."""
    error = intent.get("last_payment_error") or {}
    fail_payment(
        session,
        STRIPE,
        payment,
        code=error.get("decline_code") or error.get("code"),
        message=error.get("message") or "The payment failed.",
    )


def on_processing(session: Session, event: dict, payment: Payment, intent: dict) -> None:
    """A bank debit in flight: pending, not paid."""
    mark_payment(session, STRIPE, payment, PaymentStatus.PROCESSING)


def on_canceled(session: Session, event: dict, payment: Payment, intent: dict) -> None:
    """The intent was canceled before it succeeded."""
    mark_payment(session, STRIPE, payment, PaymentStatus.CANCELED)


HANDLERS: dict[str, Callable[[Session, dict, Payment, dict], None]] = {
    "payment_intent.succeeded": on_succeeded,
    "payment_intent.payment_failed": on_failed,
    "payment_intent.processing": on_processing,
    "payment_intent.canceled": on_canceled,
}


REFUND_EVENTS = ("charge.refunded", "refund.updated", "charge.refund.updated")
REFUND_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def on_refund(session: Session, event: dict) -> EventStatus:
    """Bring our refunds up to what Stripe says of them; a refund we never made is unmatched."""
    obj = event["data"]["object"]
    refunds = (obj.get("refunds") or {}).get("data", []) if obj.get("object") == "charge" else [obj]
    matched = False
    for item in refunds:
        refund = session.scalar(sa.select(Refund).where(Refund.stripe_refund_id == item.get("id")))
        if refund is None:
            continue
        matched = True
        status = REFUND_STATUS.get(item.get("status"), refund.status)
        if status != refund.status:
            record(
                session, STRIPE, f"refund.{status.value}", refund, stripe_status=item.get("status")
            )
            refund.status = status
    return EventStatus.PROCESSED if matched else EventStatus.UNMATCHED


DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.closed")


def on_dispute(session: Session, event: dict) -> EventStatus:
    """Hold the funds of a new dispute; settle a closed one as won or lost."""
    obj = event["data"]["object"]
    payment = session.scalar(
        sa.select(Payment).where(Payment.stripe_payment_intent_id == obj.get("payment_intent"))
    )
    if payment is None:
        return EventStatus.UNMATCHED
    day = _event_day(event)
    dispute = open_dispute(
        session,
        STRIPE,
        payment,
        stripe_id=obj["id"],
        amount_cents=obj["amount"],
        reason=obj.get("reason"),
        on=day,
    )
    if event["type"] == "charge.dispute.closed" and obj.get("status") in ("won", "lost"):
        close_dispute(session, STRIPE, dispute, won=obj["status"] == "won", on=day)
    return EventStatus.PROCESSED


def process_event(session: Session, row: StripeEvent) -> EventStatus:
    """Run the event's handler in the caller's transaction and set its status."""
    row.attempts += 1
    handler = HANDLERS.get(row.type)
    if row.type in REFUND_EVENTS:
        row.status = on_refund(session, row.payload)
    elif row.type in DISPUTE_EVENTS:
        row.status = on_dispute(session, row.payload)
    elif handler is None:
        row.status = EventStatus.IGNORED
    else:
        intent = row.payload["data"]["object"]
        payment = _payment_of(session, intent)
        if payment is None:
            row.status = EventStatus.UNMATCHED
        else:
            handler(session, row.payload, payment, intent)
            row.status = EventStatus.PROCESSED
    row.processed_at, row.error = utcnow(), None
    session.flush()
    return row.status
