"""Stripe's events about bank debits, in whatever order and however often they come.

The debit's states (docs/payments.md, "Bank account (ACH)"): pending -> processing
(`payment_intent.processing`; shown as pending) -> succeeded (`payment_intent.succeeded`,
settled on the town's date of the event) or failed; a settled debit may still be
returned (`charge.failed`, or `payment_intent.payment_failed` after the success) and
becomes returned. `payments.ach_returns` does the reversal once per payment, so a
failure told twice (Stripe sends both events for one return) changes nothing the
second time. What contradicts the books goes to the clerks' reconciliation queue with
its reason, never settled: a success after a return; a return of a debit we never made.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor
from core.calendar import town_date, town_date_of_timestamp
from core.db import utcnow
from payments.ach_models import AchReturn
from payments.ach_returns import return_debit
from payments.models import EventStatus, Payment, PaymentStatus, ReconciliationKind, Tender
from payments.reconcile_queue import flag
from payments.services import fail_payment

STRIPE = Actor("stripe", None, "stripe webhook", "stripe")
CHARGE_FAILED = "charge.failed"
BANK_METHOD = "us_bank_account"


def _day(event: dict, zone: ZoneInfo):
    """The town's date of the event: the ledger date of the return."""
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        return town_date_of_timestamp(created, zone)
    return town_date(utcnow(), zone)


def _is_bank(obj: dict) -> bool:
    """Whether an intent or charge is a US bank debit (by its method types or details)."""
    types = obj.get("payment_method_types") or []
    details = obj.get("payment_method_details") or {}
    return BANK_METHOD in types or details.get("type") == BANK_METHOD


def _fingerprint(holder: dict | None) -> str | None:
    """The bank account's fingerprint in a payment method or a charge's method details."""
    bank = (holder or {}).get(BANK_METHOD) if isinstance(holder, dict) else None
    value = (bank or {}).get("fingerprint")
    return value[:64] if isinstance(value, str) and value else None


def on_bank_failure(session: Session, event: dict, payment: Payment, zone: ZoneInfo) -> EventStatus:
    """A bank debit failed or came back (payment_intent.payment_failed): its return, once.

    A debit still pending here never reached the bank (our confirmation marks it processing):
    Stripe refused it, which is a plain failure, with no return code and no fee.
    """
    error = event["data"]["object"].get("last_payment_error") or {}
    if payment.status == PaymentStatus.PENDING:
        fail_payment(
            session,
            STRIPE,
            payment,
            code=error.get("code") or error.get("decline_code"),
            message=error.get("message") or "The debit was refused.",
        )
        return EventStatus.PROCESSED
    return_debit(
        session,
        STRIPE,
        payment,
        stripe_code=error.get("code") or error.get("decline_code"),
        on=_day(event, zone),
        event_id=event.get("id"),
        fingerprint=_fingerprint(error.get("payment_method")),
    )
    return EventStatus.PROCESSED


def _payment_of_charge(session: Session, charge: dict) -> Payment | None:
    """Our payment a charge belongs to (by its intent), locked."""
    intent = charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    if not intent_id:
        return None
    return session.scalar(
        sa.select(Payment)
        .where(Payment.stripe_payment_intent_id == intent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def on_charge_failed(session: Session, event: dict, zone: ZoneInfo) -> EventStatus:
    """A failed charge: a bank debit's return (once); a card's is told by its intent's event."""
    charge = event["data"]["object"]
    payment = _payment_of_charge(session, charge)
    if payment is None:
        return unmatched_bank_failure(session, event)
    if payment.tender != Tender.BANK_DEBIT:
        return EventStatus.IGNORED
    return_debit(
        session,
        STRIPE,
        payment,
        stripe_code=charge.get("failure_code"),
        on=_day(event, zone),
        event_id=event.get("id"),
        fingerprint=_fingerprint(charge.get("payment_method_details")),
    )
    return EventStatus.PROCESSED


def unmatched_bank_failure(session: Session, event: dict) -> EventStatus:
    """An event naming no payment of ours; a bank return among them goes to the clerks' queue."""
    obj = event["data"]["object"]
    failed = event["type"] in (CHARGE_FAILED, "payment_intent.payment_failed")
    if failed and _is_bank(obj):
        error = obj.get("last_payment_error") or {}
        flag(
            session,
            STRIPE,
            ReconciliationKind.RETURN_NOT_OURS,
            obj.get("id") or event["id"],
            payment=None,
            ours={},
            theirs={
                "event": event["id"],
                "type": event["type"],
                "amount": obj.get("amount"),
                "failure_code": obj.get("failure_code") or error.get("code"),
            },
            suggestion="The bank returned a debit that names no payment of ours: nothing was "
            "reversed. Check Stripe's dashboard for whose debit it was.",
        )
    return EventStatus.UNMATCHED


def returned_already(session: Session, event: dict, payment: Payment) -> bool:
    """A success for a bank debit already returned or failed by its bank: queued, never settled."""
    if payment.tender != Tender.BANK_DEBIT or payment.status not in (
        PaymentStatus.RETURNED,
        PaymentStatus.FAILED,
    ):
        return False
    returned = session.scalar(sa.select(AchReturn).where(AchReturn.payment_id == payment.id))
    if returned is None:
        return False
    intent = event["data"]["object"]
    flag(
        session,
        STRIPE,
        ReconciliationKind.ACH_OUT_OF_ORDER,
        intent.get("id") or event["id"],
        payment=payment,
        ours={
            "payment": payment.id,
            "status": payment.status.value,
            "return_code": returned.return_code,
            "returned_on": returned.returned_on.isoformat(),
        },
        theirs={"event": event["id"], "type": event["type"], "status": intent.get("status")},
        suggestion="Stripe says this bank debit succeeded after its bank returned it. Nothing "
        "was settled again: ask Stripe which is right before settling or closing it.",
    )
    return True
