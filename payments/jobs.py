"""Scheduled payment work: the stuck-payment janitor and processor fees (see scheduler.py).

Each function takes (session, JobContext), commits as it goes, returns counts
and is idempotent: running it twice does nothing new.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.deposit_checks import due_for_refund
from core.calendar import town_date, town_zone
from core.db import utcnow
from core.jobs import JobContext
from payments.ach_returns import return_debit
from payments.cards import fill_card_details
from payments.convenience_fees import charged_cents
from payments.deposit_refunds import refund_earned_deposits
from payments.fees import record_processor_fees
from payments.gateway import PaymentError, StripeGateway
from payments.models import (
    Channel,
    EventStatus,
    Payment,
    PaymentStatus,
    ReconciliationKind,
    StripeEvent,
    Tender,
)
from payments.online import settle_from_intent
from payments.reconcile import reconcile
from payments.reconcile_queue import flag, flag_unknown_to_stripe
from payments.services import fail_payment, mark_payment
from payments.webhooks import (
    RETRY_LIMIT,
    STRIPE,
    SUCCEEDED,
    process_alone,
    retry_delay,
    settle_waiting,
    waiting_successes,
)

#: Stripe statuses of an intent that has not been paid and still could be.
OPEN_AT_STRIPE = ("requires_payment_method", "requires_confirmation", "requires_action")


def janitor(session: Session, context: JobContext) -> dict:
    """Settle what webhooks left behind; bring stale payments up to what Stripe says.

    1. Stored successes waiting (a receiver died) or failed and due again are
       settled (payments.webhooks.settle_waiting); other failed events due
       again are processed once more, up to their retry limit.
    2. Online payments pending or processing for longer than
       PAYMENT_STALE_MINUTES are looked up at Stripe: succeeded ones are
       settled exactly as the webhook would have, failed ones failed,
       canceled ones canceled; ones the resident left unpaid for longer than
       PAYMENT_ABANDON_HOURS are canceled at Stripe and here, so a late
       confirmation cannot take money for a payment we no longer show.
    3. Payments whose charge Stripe gave no answer to (status unknown) are looked
       up at Stripe at once, stale or not: by their intent, else by the intent
       whose metadata names the payment. Found, the payment follows it as in 2;
       not found (Stripe never got the charge), it is pending again and its payer
       may pay it.
    A Stripe that cannot be reached fails the run (the next run tries again).
    """
    config = context.config
    counts = dict.fromkeys(
        (
            "events_settled",
            "events_retried",
            "events_flagged",
            "settled",
            "failed",
            "canceled",
            "processing",
            "waiting",
            "unknown_at_stripe",
            "not_charged",
        ),
        0,
    )
    if context.dry_run:
        counts["events_settled"] = waiting_successes(session)
    else:
        counts["events_settled"] = settle_waiting(
            session, batch=config["WEBHOOK_BATCH_SIZE"], zone=town_zone(config)
        )
        now = utcnow()
        for row in session.scalars(
            sa.select(StripeEvent).where(
                StripeEvent.status == EventStatus.FAILED,
                StripeEvent.type != SUCCEEDED,
                StripeEvent.attempts < RETRY_LIMIT,
            )
        ).all():
            if row.processed_at is None or row.processed_at + retry_delay(row.attempts) <= now:
                process_alone(session, row.id, town_zone(config))
                counts["events_retried"] += 1
        session.commit()
        for row in session.scalars(
            sa.select(StripeEvent).where(
                StripeEvent.status == EventStatus.FAILED, StripeEvent.attempts >= RETRY_LIMIT
            )
        ).all():
            counts["events_flagged"] += flag(
                session,
                context.actor,
                ReconciliationKind.EVENT_FAILED,
                row.id,
                payment=None,
                ours={
                    "event": row.id,
                    "type": row.type,
                    "attempts": row.attempts,
                    "error": row.error,
                },
                theirs={"object": (row.payload.get("data") or {}).get("object", {}).get("id")},
                suggestion=(
                    f"This {row.type} event still failed after {row.attempts} tries: read its "
                    "error, fix what it names, and settle or refund by hand if needed."
                ),
            )
        session.commit()
    stale_before = utcnow() - timedelta(minutes=config["PAYMENT_STALE_MINUTES"])
    abandon_before = utcnow() - timedelta(hours=config["PAYMENT_ABANDON_HOURS"])
    stale = session.scalars(
        sa.select(Payment.id)
        .where(
            Payment.channel == Channel.ONLINE,
            Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.PROCESSING)),
            Payment.created_at < stale_before,
        )
        .order_by(Payment.id)
    ).all()
    unknown = session.scalars(
        sa.select(Payment.id).where(Payment.status == PaymentStatus.UNKNOWN).order_by(Payment.id)
    ).all()
    if not stale and not unknown:
        return counts
    with StripeGateway.from_config(config) as gateway:
        for payment_id in unknown:
            outcome = _resolve_unknown(session, gateway, payment_id, abandon_before, context)
            counts[outcome] += 1
            if context.dry_run:
                session.rollback()
            else:
                session.commit()
        for payment_id in stale:
            outcome = _bring_up_to_date(session, gateway, payment_id, abandon_before, context)
            counts[outcome] += 1
            if context.dry_run:
                session.rollback()
            else:
                session.commit()
    return counts


def _bring_up_to_date(session, gateway, payment_id, abandon_before, context) -> str:
    """What became of one stale payment: settled, failed, canceled, processing or waiting."""
    payment = session.scalar(sa.select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        return "waiting"  # a webhook got there first
    if payment.stripe_payment_intent_id is None:
        if payment.created_at < abandon_before:
            mark_payment(session, context.actor, payment, PaymentStatus.CANCELED)
            return "canceled"
        return "waiting"
    try:
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except PaymentError as error:
        if error.http_status != 404:
            raise
        if not context.dry_run:
            flag_unknown_to_stripe(session, context.actor, payment)
        return "unknown_at_stripe"
    return _follow(session, gateway, payment, intent, abandon_before, context)


#: How long before our record of a payment Stripe's clock may date its intent.
CLOCK_SLACK = timedelta(hours=1)


def _resolve_unknown(session, gateway, payment_id, abandon_before, context) -> str:
    """What Stripe did with a charge it gave no answer to: the payment follows its intent, or,
    if Stripe never got the charge, is pending again (not_charged) for its payer to retry."""
    payment = session.scalar(sa.select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment.status != PaymentStatus.UNKNOWN:
        return "waiting"  # a webhook got there first
    intent = None
    if payment.stripe_payment_intent_id is not None:
        try:
            intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        except PaymentError as error:
            if error.http_status != 404:
                raise
    if intent is None:
        intent = gateway.find_payment_intent(
            metadata=("payment_id", str(payment.id)),
            created_after=payment.created_at - CLOCK_SLACK,
        )
    # NOTE: pending first, whatever Stripe says: then the payment follows its intent exactly as
    # a stale pending one does (settled, failed, canceled, processing, or left to its payer).
    mark_payment(session, context.actor, payment, PaymentStatus.PENDING)
    if intent is None:
        payment.stripe_payment_intent_id = None
        return "not_charged"
    payment.stripe_payment_intent_id = intent.id
    return _follow(session, gateway, payment, intent, abandon_before, context)


def _follow(session, gateway, payment, intent, abandon_before, context) -> str:
    """Bring a pending or processing payment to what Stripe says of its intent."""
    if intent.status == "succeeded":
        if intent.amount_cents != charged_cents(session, payment):
            return "waiting"  # a different amount is for reconciliation, never settled blindly
        settle_from_intent(session, STRIPE, payment, intent, town_zone(context.config))
        return "settled"
    if intent.status == "canceled":
        mark_payment(session, context.actor, payment, PaymentStatus.CANCELED)
        return "canceled"
    if intent.status == "processing":
        mark_payment(session, context.actor, payment, PaymentStatus.PROCESSING)
        return "processing"
    if intent.last_error is not None and intent.status == "requires_payment_method":
        if payment.tender == Tender.BANK_DEBIT and payment.status == PaymentStatus.PROCESSING:
            # NOTE: the bank sent the debit back and its event was missed: a return like any
            # other (its code, fee and block), dated when we learn of it.
            return_debit(
                session,
                context.actor,
                payment,
                stripe_code=intent.last_error.code or intent.last_error.decline_code,
                on=town_date(utcnow(), town_zone(context.config)),
            )
            return "failed"
        fail_payment(
            session,
            context.actor,
            payment,
            code=intent.last_error.decline_code or intent.last_error.code,
            message=intent.last_error.message or "The payment failed.",
        )
        return "failed"
    if intent.status in OPEN_AT_STRIPE and payment.created_at < abandon_before:
        if not context.dry_run:
            gateway.cancel_payment_intent(intent.id)
        mark_payment(session, context.actor, payment, PaymentStatus.CANCELED)
        return "canceled"
    return "waiting"


def processor_fees(session: Session, context: JobContext) -> dict:
    """Post the processor fees Stripe now knows (payments.fees); fill in the cards still unknown
    (payments.cards)."""
    if context.dry_run:
        pending = session.scalar(
            sa.select(sa.func.count())
            .select_from(Payment)
            .where(
                Payment.status == PaymentStatus.SUCCEEDED,
                Payment.stripe_payment_intent_id.is_not(None),
                Payment.fee_cents.is_(None),
            )
        )
        return {"unknown_fees": pending}
    with StripeGateway.from_config(context.config) as gateway:
        report = record_processor_fees(session, context.actor, gateway, on=context.as_of)
        cards = fill_card_details(session, context.actor, gateway)
    return {
        "recorded": report.recorded,
        "not_yet": report.not_yet,
        "fee_cents": report.fee_cents,
        "cards_filled": cards,
    }


def reconcile_stripe(session: Session, context: JobContext) -> dict:
    """Match Stripe's PaymentIntents and refunds to our payments (payments.reconcile)."""
    with StripeGateway.from_config(context.config) as gateway:
        return reconcile(
            session,
            gateway,
            context.actor,
            as_of=context.as_of,
            currency=context.config["CURRENCY"],
            zone=town_zone(context.config),
            dry_run=context.dry_run,
        )


def refund_deposits(session: Session, context: JobContext) -> dict:
    """Refund the deposits that the rule's months of good payment history have earned.

    A retry after a failure refunds each card once: the Stripe refund's key is the deposit's.
    """
    if context.dry_run:
        due = due_for_refund(session, context.as_of)
        return {"deposits": len(due), "cents": sum(d.held_cents for d in due)}
    with StripeGateway.from_config(context.config) as gateway:
        counts = refund_earned_deposits(
            session, context.actor, as_of=context.as_of, gateway=gateway
        )
    session.commit()
    return counts
