"""Stripe webhook events: stored first by their id, then dispatched by type.

Every handler is safe to run twice and in any order: a success settles a
payment once; a failure that arrives after a success changes nothing; an
event naming no payment of ours is kept as "unmatched" for the clerks'
reconciliation queue. An event whose handler raises is kept with its error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.calendar import town_date, town_date_of_timestamp
from core.db import utcnow
from core.text import only_digits
from ledger import chart
from ledger.models import JournalEntry, LedgerHead
from ledger.posting import Posting, post_entry
from payments.ach_events import (
    CHARGE_FAILED,
    on_bank_failure,
    on_charge_failed,
    returned_already,
    unmatched_bank_failure,
)
from payments.ach_events import STRIPE as ACH_STRIPE
from payments.cards import note_card
from payments.convenience_fees import own_line_fees
from payments.disputes import close_dispute, open_dispute
from payments.fee_charges import is_fee_intent, is_fee_refund, settle_fee_intent
from payments.gateway import card_of_intent
from payments.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
    Tender,
)
from payments.refunds import refund_failed
from payments.services import fail_payment, mark_payment, settle_payments

STRIPE = ACH_STRIPE  # one actor for every webhook
SUCCEEDED = "payment_intent.succeeded"
#: How often a stored success whose settlement failed is tried again before it waits for a clerk.
RETRY_LIMIT = 8
#: The PostgreSQL advisory lock held by the one settler at work.
SETTLER_LOCK = 0x6D62_7365
log = logging.getLogger(__name__)


def store_event(session: Session, event: dict) -> bool:
    """Store a verified event by its id, in one statement; False when that id is already stored."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stored = session.execute(
        insert(StripeEvent)
        .values(
            id=event["id"],
            type=event["type"],
            payload=event,
            status=EventStatus.RECEIVED,
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    ).scalar()
    return stored is not None


def claim(session: Session, event_id: str) -> list[StripeEvent]:
    """Lock one unfinished event for processing; [] when it is finished or another process holds it."""
    return list(
        session.scalars(
            sa.select(StripeEvent)
            .where(
                StripeEvent.id == event_id,
                StripeEvent.status.in_((EventStatus.RECEIVED, EventStatus.FAILED)),
            )
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )


def claim_successes(session: Session, *, limit: int) -> list[StripeEvent]:
    """Lock up to `limit` stored successes waiting to be settled, oldest first, then failed ones due again.

    On PostgreSQL the lock skips rows another settler holds, so settlers
    running side by side share the waiting events out. On SQLite a first,
    empty write takes the database's write lock, so settlers queue instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            sa.update(StripeEvent).where(sa.false()).values(attempts=StripeEvent.attempts)
        )
    rows = list(
        session.scalars(
            sa.select(StripeEvent)
            .where(StripeEvent.status == EventStatus.RECEIVED, StripeEvent.type == SUCCEEDED)
            .order_by(StripeEvent.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    if len(rows) < limit:
        now = utcnow()
        rows += [
            row
            for row in session.scalars(
                sa.select(StripeEvent)
                .where(
                    StripeEvent.status == EventStatus.FAILED,
                    StripeEvent.type == SUCCEEDED,
                    StripeEvent.attempts < RETRY_LIMIT,
                )
                .order_by(StripeEvent.processed_at)
                .limit(limit - len(rows))
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if row.processed_at is None or row.processed_at + retry_delay(row.attempts) <= now
        ]
    return rows


def retry_delay(attempts: int) -> timedelta:
    """How long a failed event waits before it is tried again: 1, 2, 4 ... minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def settle_waiting(session: Session, *, batch: int, zone: ZoneInfo) -> int:
    """Settle the stored successes waiting to be settled, a batch per transaction, until none is left.

    On PostgreSQL one settler works at a time (an advisory lock tried, never
    waited for): while it settles a batch, the next one gathers, so under load
    the batches grow and each success costs little; a receiver that finds
    the lock taken leaves its event to the settler at work. Whoever lets the
    lock go looks once more afterwards, so no event is left behind.

    A batch that raises is rolled back and its events are tried one at a time,
    so one bad event is kept with its error and does not hold back the others.
    Returns how many events were taken.
    """
    single = session.get_bind().dialect.name == "postgresql"
    taken, idle = 0, 0
    while idle < 3:
        if single and not session.scalar(
            sa.select(sa.func.pg_try_advisory_xact_lock(SETTLER_LOCK))
        ):
            session.rollback()
            return taken
        rows = claim_successes(session, limit=batch)
        if not rows:
            session.rollback()  # lets the lock go; then one more look
            if not (single and _waiting(session)):
                return taken
            idle += 1
            continue
        idle = 0
        ids = [row.id for row in rows]
        taken += len(ids)
        try:
            process_events(session, rows, zone)
            session.commit()
        except Exception:  # noqa: BLE001 - retried one at a time below
            session.rollback()
            log.warning("a batch of %d webhook events failed; trying them one at a time", len(ids))
            for event_id in ids:
                process_alone(session, event_id, zone)
    return taken


def waiting_successes(session: Session) -> int:
    """How many stored successes wait to be settled."""
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(StripeEvent)
        .where(StripeEvent.status == EventStatus.RECEIVED, StripeEvent.type == SUCCEEDED)
    )


def _waiting(session: Session) -> bool:
    """Whether a stored success waits to be settled (ends the read's transaction)."""
    found = waiting_successes(session) > 0
    session.rollback()
    return found


def process_alone(session: Session, event_id: str, zone: ZoneInfo) -> bool:
    """Process one event in its own transaction; False (the error kept on the event) if it raised."""
    try:
        rows = claim(session, event_id)
        if rows:
            process_events(session, rows, zone)
        session.commit()
        return True
    except Exception as error:  # noqa: BLE001 - kept with the event for the clerks and the retry
        session.rollback()
        log.exception("webhook event %s failed", event_id)
        mark_failed(session, event_id, error)
        session.commit()
        return False


def _payments_of(session: Session, intents: list[dict]) -> list[Payment | None]:
    """Our payment for each PaymentIntent, locked: by the id in its metadata, else by the intent id.

    A payment whose metadata names a payment belonging to another intent is None.
    """
    by_id: dict[int, int] = {}
    for n, intent in enumerate(intents):
        payment_id = (intent.get("metadata") or {}).get("payment_id", "")
        if only_digits(payment_id):
            by_id[n] = int(payment_id)
    found = {
        p.id: p
        for p in (
            []
            if not by_id
            else session.scalars(
                sa.select(Payment)
                .where(Payment.id.in_(set(by_id.values())))
                .order_by(Payment.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
    }
    payments: list[Payment | None] = []
    for n, intent in enumerate(intents):
        payment = found.get(by_id.get(n, 0))
        if payment is None and intent.get("id"):
            payment = session.scalar(
                sa.select(Payment)
                .where(Payment.stripe_payment_intent_id == intent["id"])
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        if payment is not None and payment.stripe_payment_intent_id not in (
            None,
            intent.get("id"),
        ):
            payment = None  # the metadata names a payment that belongs to another intent
        payments.append(payment)
    return payments


def payment_of_intent(session: Session, intent: dict) -> Payment | None:
    """Our payment for a PaymentIntent, locked so that its status is read after any settlement."""
    return _payments_of(session, [intent])[0]


def _event_day(event: dict, zone: ZoneInfo) -> date:
    """The town's date of the instant an event happened: the ledger date of what it settles."""
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        return town_date_of_timestamp(created, zone)
    return town_date(utcnow(), zone)


def _event_moment(event: dict) -> datetime:
    """The instant an event happened at Stripe (its `created`; now if it has none)."""
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        return datetime.fromtimestamp(created, UTC)
    return utcnow()


def _received(payment: Payment, intent: dict, fee_cents: int = 0) -> None:
    """Check Stripe received what the payment is for, with its own-line convenience fee (a
    mismatch is for the clerks, not settled)."""
    received = intent.get("amount_received") or intent.get("amount")
    expected = payment.amount_cents + fee_cents
    if received != expected:
        raise ValueError(f"Stripe received {received} cents for payment {payment.id} of {expected}")


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


def on_refund(session: Session, event: dict, zone: ZoneInfo) -> EventStatus:
    """Bring our refunds up to what Stripe says of them; a refund we never made is unmatched."""
    obj = event["data"]["object"]
    refunds = (obj.get("refunds") or {}).get("data", []) if obj.get("object") == "charge" else [obj]
    matched = False
    for item in refunds:
        refund = session.scalar(
            sa.select(Refund)
            .where(Refund.stripe_refund_id == item.get("id"))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if refund is None:
            matched = matched or is_fee_refund(session, item.get("id"))
            continue
        matched = True
        status = REFUND_STATUS.get(item.get("status"), refund.status)
        if status == RefundStatus.FAILED:
            refund_failed(session, STRIPE, refund, on=_event_day(event, zone))
        elif status != refund.status and refund.status != RefundStatus.FAILED:
            record(
                session, STRIPE, f"refund.{status.value}", refund, stripe_status=item.get("status")
            )
            refund.status = status
    return EventStatus.PROCESSED if matched else EventStatus.UNMATCHED


DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.closed")


def on_dispute(session: Session, event: dict, zone: ZoneInfo) -> EventStatus:
    """Hold the funds of a new dispute; settle a closed one as won or lost."""
    obj = event["data"]["object"]
    # NOTE: the payment is locked, so a refund being made at the same moment counts the dispute.
    payment = session.scalar(
        sa.select(Payment)
        .where(Payment.stripe_payment_intent_id == obj.get("payment_intent"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        return EventStatus.UNMATCHED
    day = _event_day(event, zone)
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


def post_payout(session: Session, actor: Actor, payout_id: str, amount: int, day) -> bool:
    """Move a paid payout from Stripe clearing to the bank, once per payout; True if posted now."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"payout {payout_id} has no positive amount: {amount!r}")
    # NOTE: the chain head is locked before looking, so two tellings of one payout post it once.
    session.execute(sa.select(LedgerHead.id).where(LedgerHead.id == 1).with_for_update())
    posted = session.scalar(
        sa.select(JournalEntry.id).where(
            JournalEntry.source_type == "payout", JournalEntry.source_id == payout_id
        )
    )
    if posted is not None:
        return False
    post_entry(
        session,
        [
            Posting(chart.BANK, debit_cents=amount),
            Posting(chart.STRIPE_CLEARING, credit_cents=amount),
        ],
        entry_date=day,
        source_type="payout",
        source_id=payout_id,
        actor=actor,
        memo=f"Stripe payout {payout_id} paid to the bank",
    )
    record(session, actor, "payout.paid", object_type="Payout", object_id=payout_id, amount=amount)
    return True


def on_payout(session: Session, event: dict, zone: ZoneInfo) -> EventStatus:
    """A payout reached the bank: move its amount from Stripe clearing to the bank, once per payout."""
    payout = event["data"]["object"]
    arrival = payout.get("arrival_date")
    # NOTE: Stripe gives a payout's arrival as midnight UTC of the bank's date: that date as
    # written, not the town's date of that instant (which would be the day before in the US).
    day = (
        datetime.fromtimestamp(arrival, UTC).date()
        if isinstance(arrival, int)
        else _event_day(event, zone)
    )
    post_payout(session, STRIPE, payout.get("id"), payout.get("amount"), day)
    return EventStatus.PROCESSED


def _process_one(session: Session, row: StripeEvent, zone: ZoneInfo) -> EventStatus:
    """Run the handler of an event other than a success in the caller's transaction; set its status."""
    row.attempts += 1
    handler = HANDLERS.get(row.type)
    if row.type in REFUND_EVENTS:
        row.status = on_refund(session, row.payload, zone)
    elif row.type in DISPUTE_EVENTS:
        row.status = on_dispute(session, row.payload, zone)
    elif row.type == "payout.paid":
        row.status = on_payout(session, row.payload, zone)
    elif row.type == CHARGE_FAILED:
        row.status = on_charge_failed(session, row.payload, zone)
    elif handler is None:
        row.status = EventStatus.IGNORED
    elif is_fee_intent(row.payload["data"]["object"]):
        row.status = EventStatus.IGNORED  # a separate fee's intent: only its success posts
    else:
        intent = row.payload["data"]["object"]
        payment = payment_of_intent(session, intent)
        if payment is None:
            row.status = unmatched_bank_failure(session, row.payload)
        elif row.type == "payment_intent.payment_failed" and payment.tender == Tender.BANK_DEBIT:
            row.status = on_bank_failure(session, row.payload, payment, zone)
        else:
            handler(session, row.payload, payment, intent)
            row.status = EventStatus.PROCESSED
    row.processed_at, row.error = utcnow(), None
    session.flush()
    return row.status


def process_events(session: Session, rows: list[StripeEvent], zone: ZoneInfo) -> None:
    """Process claimed events in the caller's transaction; many successes settle as one batch.

    Successes come last and together: a success is final whatever else
    arrived, so settling after the other events of the batch ends in the same
    state as settling in arrival order.
    """
    successes = [row for row in rows if row.type == SUCCEEDED]
    moments: dict[int, datetime] = {}
    for row in rows:
        if row.type != SUCCEEDED:
            _process_one(session, row, zone)
    for row in [row for row in successes if is_fee_intent(row.payload["data"]["object"])]:
        successes.remove(row)
        row.attempts += 1
        row.processed_at, row.error = utcnow(), None
        settled = settle_fee_intent(
            session, STRIPE, row.payload["data"]["object"], on=_event_day(row.payload, zone)
        )
        row.status = EventStatus.PROCESSED if settled else EventStatus.UNMATCHED
    intents = [row.payload["data"]["object"] for row in successes]
    settle = []
    found = _payments_of(session, intents)
    fees = own_line_fees(session, [payment.id for payment in found if payment is not None])
    for row, intent, payment in zip(successes, intents, found, strict=True):
        row.attempts += 1
        row.processed_at, row.error = utcnow(), None
        if payment is None:
            row.status = EventStatus.UNMATCHED
            continue
        if returned_already(session, row.payload, payment):
            row.status = EventStatus.UNMATCHED
            continue
        _received(payment, intent, fees.get(payment.id, 0))
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = intent["id"]
        note_card(payment, card_of_intent(intent))  # else asked of Stripe once settled
        settle.append((payment, _event_day(row.payload, zone)))
        moments[payment.id] = _event_moment(row.payload)
        row.status = EventStatus.PROCESSED
    settle_payments(session, STRIPE, settle, cash_gl=chart.STRIPE_CLEARING, at=moments)


def mark_failed(session: Session, event_id: str, error: Exception) -> None:
    """Keep an event whose handler raised with its error (for the clerks, and for the retry)."""
    row = session.get(StripeEvent, event_id, populate_existing=True)
    row.status, row.error, row.processed_at = EventStatus.FAILED, str(error)[:2000], utcnow()
    row.attempts += 1
