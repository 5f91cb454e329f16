"""What a clerk or supervisor does about an item of the reconciliation queue.

Each action re-reads Stripe's side first (the evidence in the item may be
days old), makes our books agree with what happened, closes the item with
what was done and why, and is audited; all in the caller's transaction.

- settle: Stripe took the money for a payment of ours we never settled (it
  was recorded failed or canceled, or the clerk matches an unknown intent to
  a payment still pending): settle it as the webhook would have.
- record: Stripe took money naming no payment of ours: record it as a card
  payment of the account it belongs to, and settle it (anything beyond what
  the account owes is its credit).
- settle_taken: Stripe took another amount than the payment was for: the
  payment becomes what Stripe took, then settles (less stays owed, more is credit).
- refund: give back at Stripe money that is not in our books (a payment we
  never settled, an intent naming nobody) or the part Stripe took beyond the
  payment; the refund is kept on the item so the next run does not flag it.
- write_off: Stripe took a little less than the payment: the payment settles
  in full and the town bears the difference (5100 write-offs against Stripe
  clearing), only up to RECONCILIATION_WRITE_OFF_LIMIT_CENTS.
- cancel: our payment names an intent Stripe still does not know: cancel it.
- record_refund: Stripe paid back part of a payment of ours outside the
  app: record the refund with that Stripe refund, as a refund made here would be.

Settling, recording and canceling make our books say what Stripe says: a
clerk does them. Refunds and write-offs move or give up money: a supervisor
does them.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.money import format_cents
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.convenience_fees import charged_cents
from payments.gateway import PaymentError, StripeGateway, StripePaymentIntent
from payments.models import (
    Channel,
    Payment,
    PaymentStatus,
    ReconciliationItem,
    ReconciliationKind,
    ReconciliationStatus,
    Refund,
    RefundStatus,
    Tender,
)
from payments.online import settle_from_intent
from payments.reconcile_queue import AlreadyResolved, resolve
from payments.refunds import refundable_cents, take_back
from payments.services import mark_payment

MIN_REASON, MAX_REASON = 5, 400

#: Which actions each kind of item offers, in the order the page shows them.
ACTIONS: dict[ReconciliationKind, tuple[str, ...]] = {
    ReconciliationKind.UNKNOWN_HERE: ("settle", "record", "refund"),
    ReconciliationKind.FAILED_HERE: ("settle", "refund"),
    ReconciliationKind.AMOUNT_MISMATCH: ("settle_taken", "refund", "write_off"),
    ReconciliationKind.UNKNOWN_TO_STRIPE: ("cancel",),
    ReconciliationKind.REFUND_NOT_RECORDED: ("record_refund",),
}
#: Actions that move money out or give it up: a supervisor's ("approve"); the others are "write".
SUPERVISOR_ACTIONS = frozenset({"refund", "write_off"})
LABELS = {
    "settle": "Settle the payment",
    "record": "Record it as a payment of an account",
    "settle_taken": "Settle what Stripe took",
    "refund": "Refund at Stripe",
    "write_off": "Write off the difference",
    "cancel": "Cancel our payment",
    "record_refund": "Record the refund",
}


class ActionRefused(ValueError):
    """The action cannot be taken on this item now; the message says why."""


def permission_for(action: str) -> str:
    """The permission an action needs."""
    return "approve" if action in SUPERVISOR_ACTIONS else "write"


def _checked(item: ReconciliationItem, action: str, reason: str) -> str:
    if item.status == ReconciliationStatus.RESOLVED:
        raise AlreadyResolved(f"Item {item.id} was resolved by {item.resolved_by}.")
    if action not in ACTIONS.get(item.kind, ()):
        raise ActionRefused(
            f"A {item.kind.value.replace('_', ' ')} item cannot be {action.replace('_', ' ')}d; "
            "resolve it with a note instead."
        )
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ActionRefused(f"Say why, in {MIN_REASON} to {MAX_REASON} characters.")
    return reason


def _close(
    session: Session, actor: Actor, item: ReconciliationItem, action: str, done: str, reason: str
) -> None:
    item.action = action
    resolve(session, actor, item, f"{done} Reason: {reason}"[:500])
    record(session, actor, f"reconciliation.{action}", item, done=done, reason=reason)


def _succeeded_intent(gateway: StripeGateway, item: ReconciliationItem) -> StripePaymentIntent:
    """Stripe's intent now; refused unless Stripe still holds the money for it."""
    intent = gateway.retrieve_payment_intent(_intent_id(item))
    if intent.status != "succeeded":
        raise ActionRefused(
            f"Stripe now says intent {intent.id} is {intent.status}: nothing was taken. "
            "Run reconciliation again or resolve the item with a note."
        )
    return intent


def _intent_id(item: ReconciliationItem) -> str:
    if item.kind == ReconciliationKind.REFUND_NOT_RECORDED:
        return (item.theirs or {}).get("intent") or ""
    return item.stripe_id


def _intent_is_free(session: Session, intent_id: str, payment: Payment | None = None) -> None:
    other = session.scalar(sa.select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    if other is not None and other is not payment:
        raise ActionRefused(f"Intent {intent_id} is already payment {other.id}'s.")


def _settle(
    session: Session, actor: Actor, payment: Payment, intent: StripePaymentIntent, zone: ZoneInfo
) -> str:
    payment.stripe_payment_intent_id = intent.id
    receipt = settle_from_intent(session, actor, payment, intent, zone)
    if receipt is None:
        raise ActionRefused(f"Payment {payment.id} was settled already.")
    return f"Payment {payment.id} settled, receipt {receipt.number}."


def settle(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    reason: str,
    zone: ZoneInfo,
    payment: Payment | None = None,
) -> str:
    """Settle the item's payment (or, for an unknown intent, the pending one the clerk names)."""
    reason = _checked(item, "settle", reason)
    if item.kind == ReconciliationKind.FAILED_HERE:
        payment = session.get(Payment, item.payment_id)
    if payment is None:
        raise ActionRefused("Name the payment of ours Stripe took this money for.")
    if payment.status not in (
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
    ):
        raise ActionRefused(f"Payment {payment.id} is {payment.status.value}: it cannot settle.")
    if payment.channel != Channel.ONLINE:
        raise ActionRefused(f"Payment {payment.id} was not a card payment.")
    if payment.stripe_payment_intent_id not in (None, item.stripe_id):
        raise ActionRefused(
            f"Payment {payment.id} is for intent {payment.stripe_payment_intent_id}, not this one."
        )
    intent = _succeeded_intent(gateway, item)
    if intent.amount_cents != charged_cents(session, payment):
        raise ActionRefused(
            f"Stripe took {format_cents(intent.amount_cents)}, payment {payment.id} is for "
            f"{format_cents(payment.amount_cents)}: record it as a payment instead."
        )
    _intent_is_free(session, intent.id, payment)
    session.refresh(payment, with_for_update=True)
    done = _settle(session, actor, payment, intent, zone)
    item.payment_id = payment.id
    _close(session, actor, item, "settle", done, reason)
    return done


def record_unknown(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    account: Account | None,
    reason: str,
    zone: ZoneInfo,
) -> str:
    """Record Stripe's payment naming nobody as a card payment of `account`, and settle it."""
    reason = _checked(item, "record", reason)
    if account is None:
        raise ActionRefused("Name the account this money was paid for.")
    intent = _succeeded_intent(gateway, item)
    _intent_is_free(session, intent.id)
    payment = Payment(
        account_id=account.id,
        channel=Channel.ONLINE,
        tender=Tender.CARD,
        amount_cents=intent.amount_cents,
        invoice_ids=[],
        created_by=actor.label,
        stripe_payment_intent_id=intent.id,
    )
    session.add(payment)
    session.flush()
    record(
        session,
        actor,
        "payment.record",
        payment,
        amount_cents=intent.amount_cents,
        reconciliation_item=item.id,
    )
    done = f"Recorded for account {account.number}. " + _settle(
        session, actor, payment, intent, zone
    )
    item.payment_id = payment.id
    _close(session, actor, item, "record", done, reason)
    return done


def _unsettled(session: Session, item: ReconciliationItem) -> Payment:
    """The item's payment, locked; refused once it is settled."""
    payment = session.get(Payment, item.payment_id)
    session.refresh(payment, with_for_update=True)
    if payment.status == PaymentStatus.SUCCEEDED:
        raise ActionRefused(f"Payment {payment.id} was settled already.")
    return payment


def settle_taken(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    reason: str,
    zone: ZoneInfo,
) -> str:
    """The payment becomes what Stripe took, and settles."""
    reason = _checked(item, "settle_taken", reason)
    payment = _unsettled(session, item)
    intent = _succeeded_intent(gateway, item)
    was = payment.amount_cents
    payment.amount_cents = intent.amount_cents
    record(session, actor, "payment.amount", payment, was_cents=was, now_cents=intent.amount_cents)
    done = (
        f"Payment {payment.id} changed from {format_cents(was)} to what Stripe took, "
        f"{format_cents(intent.amount_cents)}. " + _settle(session, actor, payment, intent, zone)
    )
    _close(session, actor, item, "settle_taken", done, reason)
    return done


def refund(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    reason: str,
    zone: ZoneInfo,
) -> str:
    """Give back at Stripe what our books do not hold: all of it, or what it took beyond the payment."""
    reason = _checked(item, "refund", reason)
    intent = _succeeded_intent(gateway, item)
    payment = session.get(Payment, item.payment_id) if item.payment_id else None
    if payment is not None:
        session.refresh(payment, with_for_update=True)
    if item.kind == ReconciliationKind.AMOUNT_MISMATCH:
        cents = intent.amount_cents - payment.amount_cents
        if cents <= 0:
            raise ActionRefused(
                f"Stripe took {format_cents(intent.amount_cents)}, less than the payment's "
                f"{format_cents(payment.amount_cents)}: there is nothing to give back. "
                "Settle what Stripe took, or write off the difference."
            )
        if payment.status == PaymentStatus.SUCCEEDED:
            raise ActionRefused(f"Payment {payment.id} was settled already.")
        done = _settle(session, actor, payment, intent, zone)
    else:
        if payment is not None and payment.status == PaymentStatus.SUCCEEDED:
            raise ActionRefused(
                f"Payment {payment.id} is settled now: refund it from its account page."
            )
        cents, done = intent.amount_cents, ""
    stripe_refund = gateway.create_refund(
        payment_intent_id=intent.id,
        amount_cents=cents,
        idempotency_key=f"munibill-reconciliation-{item.id}",
    )
    item.stripe_refund_id = stripe_refund.id
    done = f"{done} {format_cents(cents)} refunded at Stripe ({stripe_refund.id}).".strip()
    _close(session, actor, item, "refund", done, reason)
    return done


def write_off(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    reason: str,
    zone: ZoneInfo,
    limit_cents: int,
    on: date,
) -> str:
    """Settle the payment in full; the town bears what Stripe took less (up to the limit)."""
    reason = _checked(item, "write_off", reason)
    payment = _unsettled(session, item)
    intent = _succeeded_intent(gateway, item)
    short = payment.amount_cents - intent.amount_cents
    if short <= 0:
        raise ActionRefused(
            "Stripe took more than the payment: settle what Stripe took, or refund the difference."
        )
    if short > limit_cents:
        raise ActionRefused(
            f"The difference, {format_cents(short)}, is over the {format_cents(limit_cents)} "
            "that may be written off: settle what Stripe took and let the account owe the rest."
        )
    settled = _settle(session, actor, payment, intent, zone)
    post_entry(
        session,
        [
            Posting(chart.WRITE_OFFS, debit_cents=short),
            Posting(chart.STRIPE_CLEARING, credit_cents=short),
        ],
        entry_date=on,
        source_type="reconciliation",
        source_id=item.id,
        actor=actor,
        memo=f"Reconciliation item {item.id} written off: Stripe took {short} cents less "
        f"for payment {payment.id}: {reason}",
    )
    done = f"{settled} {format_cents(short)} written off."
    _close(session, actor, item, "write_off", done, reason)
    return done


def cancel(
    session: Session, actor: Actor, item: ReconciliationItem, gateway: StripeGateway, *, reason: str
) -> str:
    """Cancel our payment whose intent Stripe still does not know."""
    reason = _checked(item, "cancel", reason)
    payment = session.get(Payment, item.payment_id)
    try:
        intent = gateway.retrieve_payment_intent(item.stripe_id)
    except PaymentError as error:
        if error.http_status != 404:
            raise
    else:
        raise ActionRefused(
            f"Stripe knows intent {intent.id} now ({intent.status}): leave the payment to "
            "its webhook and resolve this item with a note."
        )
    session.refresh(payment, with_for_update=True)
    if not mark_payment(session, actor, payment, PaymentStatus.CANCELED):
        raise ActionRefused(f"Payment {payment.id} is {payment.status.value}: nothing to cancel.")
    done = f"Payment {payment.id} canceled: Stripe never knew its intent."
    _close(session, actor, item, "cancel", done, reason)
    return done


def record_refund(
    session: Session,
    actor: Actor,
    item: ReconciliationItem,
    gateway: StripeGateway,
    *,
    reason: str,
    on: date,
) -> str:
    """Book the refund Stripe made outside the app, as a refund made here would have been."""
    reason = _checked(item, "record_refund", reason)
    if item.payment_id is None:
        raise ActionRefused(
            "Stripe's refund is of a payment we do not have: resolve the item with a note."
        )
    found = gateway.retrieve_refund(item.stripe_id)
    if found.status not in ("succeeded", "pending"):
        raise ActionRefused(f"Stripe now says refund {found.id} is {found.status}.")
    payment = session.get(Payment, item.payment_id)
    session.refresh(payment, with_for_update=True)
    if found.amount_cents > refundable_cents(session, payment):
        raise ActionRefused(
            f"Stripe refunded {format_cents(found.amount_cents)}; payment {payment.id} has "
            f"{format_cents(refundable_cents(session, payment))} left to refund."
        )
    row = Refund(
        payment_id=payment.id,
        amount_cents=found.amount_cents,
        reason=f"Made at Stripe: {reason}"[:500],
        status=RefundStatus.SUCCEEDED if found.status == "succeeded" else RefundStatus.PENDING,
        requested_by=actor.label,
        stripe_refund_id=found.id,
        refunded_on=on,
    )
    session.add(row)
    session.flush()
    debits = take_back(
        session,
        actor,
        payment,
        found.amount_cents,
        on,
        cause=f"refund:{row.id}",
        because=f"refund {row.id} of payment {payment.id}, made at Stripe",
        making=row,
    )
    post_entry(
        session,
        [*debits, Posting(chart.STRIPE_CLEARING, credit_cents=found.amount_cents)],
        entry_date=on,
        source_type="refund",
        source_id=row.id,
        actor=actor,
        memo=f"Refund {row.id} of payment {payment.id}, made at Stripe: {reason}",
    )
    record(session, actor, "refund.create", row, payment=payment.id, stripe_refund=found.id)
    done = (
        f"Refund {row.id} of {format_cents(found.amount_cents)} recorded for payment {payment.id}."
    )
    _close(session, actor, item, "record_refund", done, reason)
    return done
