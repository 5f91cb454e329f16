"""Reconciliation with Stripe: what Stripe says happened against what we recorded.

Replays the events Stripe lists that never reached our endpoint (stored and
processed exactly as the receiver would have: lost successes, refunds,
disputes, payouts), then reads the PaymentIntents created since a stored
cursor (less an overlap, since an intent's status moves after it is created)
and every refund, and:

- settles a payment Stripe says succeeded that we never settled (a lost
  webhook), exactly as the webhook would have;
- turns every other mismatch into one ReconciliationItem (unique per kind
  and Stripe object, so a mismatch found again is not added again; filed by
  payments.reconcile_queue) with our record, Stripe's, and a suggested
  resolution for the clerks' queue:
  a different amount, a success we recorded as failed or canceled, a success
  naming no payment of ours, a payment of ours whose intent Stripe does not
  know, a refund at Stripe we never recorded.
Returns the run's report: intents read, matched, recovered, flagged.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.calendar import town_date
from core.text import only_digits
from payments.convenience_fees import charged_cents
from payments.fee_charges import FEE_OF, settle_fee_intent
from payments.fee_models import ConvenienceFeeRefund
from payments.gateway import PaymentError, StripeGateway, StripePaymentIntent
from payments.models import (
    Channel,
    Payment,
    PaymentStatus,
    ReconciliationItem,
    ReconciliationKind,
    Refund,
    StripeEvent,
    SyncCursor,
)
from payments.online import settle_from_intent
from payments.reconcile_queue import _ours, _theirs, flag, flag_unknown_to_stripe
from payments.services import mark_payment
from payments.webhooks import STRIPE, _payments_of, post_payout, process_alone, store_event

CURSOR = "payment_intents"
EVENTS = "events"
PAYOUTS = "payouts"
#: Intents created this long before the cursor are read again (their status may have moved).
OVERLAP = timedelta(days=3)
#: Intents checked together: their payments are read in one query, those that need a change
#: read again (and locked) in one more, and the batch is committed once. A dry run checks
#: them one at a time, rolling each back.
BATCH = 1000
#: A payment in one of these may still be settled or canceled (unknown: Stripe gave no answer
#: to its charge).
OPEN = (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)


def _cursor(session: Session, name: str = CURSOR) -> datetime | None:
    row = session.get(SyncCursor, name)
    return datetime.fromisoformat(row.value) if row is not None else None


def _advance(session: Session, newest: datetime, name: str = CURSOR) -> None:
    row = session.get(SyncCursor, name)
    if row is None:
        session.add(SyncCursor(name=name, value=newest.isoformat()))
    elif datetime.fromisoformat(row.value) < newest:
        row.value = newest.isoformat()


#: The events a receiver handles; one Stripe lists that we never stored is replayed.
REPLAYED = [
    "payment_intent.*",
    "charge.refunded",
    "refund.updated",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.closed",
    "payout.paid",
]


def replay_events(
    session: Session, gateway: StripeGateway, *, dry_run: bool, zone: ZoneInfo
) -> int:
    """Store and process the events Stripe lists that never reached our endpoint; how many."""
    since = _cursor(session, EVENTS)
    events = gateway.list_events(
        created_after=None if since is None else since - OVERLAP, types=REPLAYED
    )
    ids = [e.id for e in events]
    stored = {
        stored_id
        for start in range(0, len(ids), BATCH)
        for stored_id in session.scalars(
            sa.select(StripeEvent.id).where(StripeEvent.id.in_(ids[start : start + BATCH]))
        )
    }
    replayed = 0
    for event in events:
        if event.id in stored:
            continue
        replayed += 1
        if dry_run:
            continue
        store_event(session, event.payload)
        session.commit()
        process_alone(session, event.id, zone)
    if events and not dry_run:
        _advance(session, max(e.created for e in events), EVENTS)
        session.commit()
    return replayed


def reconcile(
    session: Session,
    gateway: StripeGateway,
    actor: Actor,
    *,
    as_of: date,
    currency: str,
    zone: ZoneInfo,
    dry_run: bool = False,
) -> dict:
    """One reconciliation run (commits per batch of intents unless dry_run); returns its report.

    Lost events are replayed first (exactly as the receiver would have handled
    them), then the intents are checked against our payments, then the refunds.
    """
    report = dict.fromkeys(
        (
            "events_replayed",
            "intents",
            "matched",
            "recovered",
            "flagged",
            "payouts_posted",
            "refunds_read",
        ),
        0,
    )
    report["events_replayed"] = replay_events(session, gateway, dry_run=dry_run, zone=zone)
    cursor = _cursor(session)
    intents = gateway.list_payment_intents(
        created_after=None if cursor is None else cursor - OVERLAP
    )
    seen = {intent.id for intent in intents}
    _check_intents(session, actor, intents, report, dry_run=dry_run, zone=zone)
    if intents and not dry_run:
        _advance(session, max(i.created for i in intents))
        session.commit()
    report["flagged"] += _ours_unknown_to_stripe(session, gateway, actor, seen, cursor, dry_run)
    posted, flagged = _payouts(session, gateway, actor, currency=currency, dry_run=dry_run)
    report["payouts_posted"], report["flagged"] = posted, report["flagged"] + flagged
    refunds = gateway.list_refunds()
    report["refunds_read"] = len(refunds)
    # A refund made from the queue (of money no payment of ours holds) is kept on its item.
    recorded = set(
        session.scalars(
            sa.select(Refund.stripe_refund_id)
            .where(Refund.stripe_refund_id.is_not(None))
            .union(
                sa.select(ReconciliationItem.stripe_refund_id).where(
                    ReconciliationItem.stripe_refund_id.is_not(None)
                ),
                # a convenience fee's share given back with a refund (payments.fee_charges)
                sa.select(ConvenienceFeeRefund.stripe_refund_id).where(
                    ConvenienceFeeRefund.stripe_refund_id.is_not(None)
                ),
            )
        )
    )
    for refund in refunds:
        if refund.id in recorded or refund.status in ("failed", "canceled"):
            continue
        payment = session.scalar(
            sa.select(Payment).where(Payment.stripe_payment_intent_id == refund.payment_intent_id)
        )
        if flag(
            session,
            actor,
            ReconciliationKind.REFUND_NOT_RECORDED,
            refund.id,
            payment=payment,
            ours=_ours(payment) if payment is not None else {},
            theirs={
                "refund": refund.id,
                "amount_cents": refund.amount_cents,
                "status": refund.status,
                "intent": refund.payment_intent_id,
                "created": refund.created.isoformat(),
            },
            suggestion=(
                "Stripe paid back money we have no refund for (made in the Stripe dashboard?). "
                "Record it as a refund of the payment, or ask Stripe about it."
            ),
        ):
            report["flagged"] += 1
        _finish(session, dry_run)
    return report


def _payouts(
    session: Session, gateway: StripeGateway, actor: Actor, *, currency: str, dry_run: bool
) -> tuple[int, int]:
    """Paid payouts: posted to the bank if the event was lost; checked against what they paid out.

    Returns (posted, flagged). A payout in another currency than ours, or one
    whose amount is not what its balance transactions add up to, is flagged
    instead of posted.
    """
    since = _cursor(session, PAYOUTS)
    payouts = gateway.list_payouts(created_after=None if since is None else since - OVERLAP)
    posted = flagged = 0
    for payout in payouts:
        if payout.status != "paid":
            continue
        theirs = {
            "payout": payout.id,
            "amount_cents": payout.amount_cents,
            "currency": payout.currency,
            "arrival": payout.arrival.isoformat(),
        }
        problem = None
        if payout.currency != currency:
            problem = (
                f"The payout is in {payout.currency.upper()}, our books in {currency.upper()}: "
                "check the Stripe account's settings and book it by hand."
            )
        else:
            total = gateway.payout_transactions_total(payout.id)
            if total is not None and total != payout.amount_cents:
                theirs["transactions_total_cents"] = total
                problem = (
                    f"The payout of {payout.amount_cents} cents does not match its balance "
                    f"transactions ({total} cents): ask Stripe which payments it paid out."
                )
        if problem is not None:
            flagged += flag(
                session,
                actor,
                ReconciliationKind.PAYOUT_MISMATCH,
                payout.id,
                payment=None,
                ours={},
                theirs=theirs,
                suggestion=problem,
            )
        # NOTE: a payout's arrival is the bank's date (midnight UTC at Stripe), taken as written.
        elif post_payout(session, actor, payout.id, payout.amount_cents, payout.arrival.date()):
            posted += 1
        _finish(session, dry_run)
    if payouts and not dry_run:
        _advance(session, max(p.created for p in payouts), PAYOUTS)
        session.commit()
    return posted, flagged


def _finish(session: Session, dry_run: bool) -> None:
    if dry_run:
        session.rollback()
    else:
        session.commit()


def _check_intents(
    session: Session,
    actor: Actor,
    intents: list[StripePaymentIntent],
    report: dict,
    *,
    dry_run: bool,
    zone: ZoneInfo,
) -> None:
    """Check the intents against our payments batch by batch, counting each outcome in `report`.

    An intent whose payment row shows nothing to change (the common case: a
    success we settled for the same amount) is matched from that row alone; the
    others get their payments read again, locked, and go through
    `_reconcile_intent`.
    """
    size = 1 if dry_run else BATCH
    for intent in [i for i in intents if FEE_OF in i.metadata]:
        _check_fee_intent(session, actor, intent, report, dry_run=dry_run, zone=zone)
    intents = [i for i in intents if FEE_OF not in i.metadata]
    for start in range(0, len(intents), size):
        batch = intents[start : start + size]
        rows = _payment_rows(session, batch)
        todo = [i for i, row in zip(batch, rows, strict=True) if not _nothing_to_change(i, row)]
        report["intents"] += len(batch)
        report["matched"] += len(batch) - len(todo)
        if todo:
            found = _payments_of(session, [{"id": i.id, "metadata": i.metadata} for i in todo])
            for intent, payment in zip(todo, found, strict=True):
                report[_reconcile_intent(session, actor, intent, payment, zone)] += 1
        _finish(session, dry_run)


def _check_fee_intent(
    session: Session,
    actor: Actor,
    intent: StripePaymentIntent,
    report: dict,
    *,
    dry_run: bool,
    zone: ZoneInfo,
) -> None:
    """A separate convenience fee's intent: a success whose webhook never came is posted now."""
    report["intents"] += 1
    report["matched"] += 1
    if intent.status == "succeeded":
        plain = {"id": intent.id, "metadata": intent.metadata, "amount": intent.amount_cents}
        settle_fee_intent(session, actor, plain, on=town_date(intent.created, zone))
    _finish(session, dry_run)


def _payment_rows(session: Session, intents: list[StripePaymentIntent]) -> list[sa.Row | None]:
    """Each intent's payment as a plain row (id, intent, status, amount), unlocked.

    Found as the receiver finds it: by the payment id in the metadata, else by
    the intent id; none when the metadata names a payment of another intent.
    """
    columns = (Payment.id, Payment.stripe_payment_intent_id, Payment.status, Payment.amount_cents)
    named = {
        n: int(i.metadata["payment_id"])
        for n, i in enumerate(intents)
        if only_digits(i.metadata.get("payment_id", ""))
    }
    by_id = {}
    if named:
        query = sa.select(*columns).where(Payment.id.in_(set(named.values())))
        by_id = {row.id: row for row in session.execute(query)}
    unnamed = [i.id for n, i in enumerate(intents) if named.get(n) not in by_id]
    by_intent = {}
    if unnamed:
        query = sa.select(*columns).where(Payment.stripe_payment_intent_id.in_(unnamed))
        by_intent = {row.stripe_payment_intent_id: row for row in session.execute(query)}
    rows = []
    for n, intent in enumerate(intents):
        row = by_id.get(named.get(n, 0))
        if row is None:
            row = by_intent.get(intent.id)
        if row is not None and row.stripe_payment_intent_id not in (None, intent.id):
            row = None
        rows.append(row)
    return rows


def _nothing_to_change(intent: StripePaymentIntent, row: sa.Row | None) -> bool:
    """Whether the intent is matched whatever else the batch changes: nothing is written for it.

    NOTE: deciding to write nothing needs no lock: a change made to the payment
    after this read is the same as one made right after a locked check; and
    whatever the earlier intents of the batch settle or cancel, these would
    still be matched.
    """
    if row is None:
        return intent.status != "succeeded"
    if intent.status != "succeeded":
        return not (intent.status == "canceled" and row.status in OPEN)
    return intent.amount_cents == row.amount_cents and row.status == PaymentStatus.SUCCEEDED


def _reconcile_intent(
    session: Session,
    actor: Actor,
    intent: StripePaymentIntent,
    payment: Payment | None,
    zone: ZoneInfo,
) -> str:
    """matched, recovered or flagged: the intent against our payment read (and locked) for it."""
    if payment is not None and payment.stripe_payment_intent_id not in (None, intent.id):
        # NOTE: an earlier intent of the batch naming the same payment took it (settled it).
        payment = None
    if payment is None:
        if intent.status != "succeeded":
            return "matched"  # nothing was paid: nothing to reconcile
        flagged = flag(
            session,
            actor,
            ReconciliationKind.UNKNOWN_HERE,
            intent.id,
            payment=None,
            ours={},
            theirs=_theirs(intent),
            suggestion=(
                "Stripe took this payment but it names no payment of ours. Find the account "
                "(metadata account_number) and record the payment, or refund it at Stripe."
            ),
        )
        return "flagged" if flagged else "matched"
    if intent.status != "succeeded":
        if intent.status == "canceled" and payment.status in OPEN:
            mark_payment(session, actor, payment, PaymentStatus.CANCELED)
        return "matched"
    if intent.amount_cents != charged_cents(session, payment):
        flagged = flag(
            session,
            actor,
            ReconciliationKind.AMOUNT_MISMATCH,
            intent.id,
            payment=payment,
            ours=_ours(payment),
            theirs=_theirs(intent),
            suggestion=(
                f"Stripe took {intent.amount_cents} cents for a payment of {payment.amount_cents}. "
                "Settle what Stripe took after checking with the resident, or refund the difference."
            ),
        )
        return "flagged" if flagged else "matched"
    if payment.status in OPEN:
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = intent.id
        settle_from_intent(session, STRIPE, payment, intent, zone)
        record(session, actor, "reconciliation.recovered", payment, intent=intent.id)
        return "recovered"
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        flagged = flag(
            session,
            actor,
            ReconciliationKind.FAILED_HERE,
            intent.id,
            payment=payment,
            ours=_ours(payment),
            theirs=_theirs(intent),
            suggestion=(
                f"Stripe took the money but we recorded the payment as {payment.status.value}. "
                "Settle it (the resident paid), or refund it at Stripe."
            ),
        )
        return "flagged" if flagged else "matched"
    if payment.status == PaymentStatus.RETURNED:
        flagged = flag(
            session,
            actor,
            ReconciliationKind.ACH_OUT_OF_ORDER,
            intent.id,
            payment=payment,
            ours=_ours(payment),
            theirs=_theirs(intent),
            suggestion=(
                "Stripe says this bank debit succeeded, but its bank returned it here. Nothing "
                "was settled again: ask Stripe which is right before settling or closing it."
            ),
        )
        return "flagged" if flagged else "matched"
    return "matched"


def _ours_unknown_to_stripe(
    session: Session,
    gateway: StripeGateway,
    actor: Actor,
    seen: set[str],
    cursor: datetime | None,
    dry_run: bool,
) -> int:
    """Our online payments naming an intent Stripe did not list: asked for one by one."""
    query = sa.select(Payment).where(
        Payment.channel == Channel.ONLINE,
        Payment.stripe_payment_intent_id.is_not(None),
        Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.PROCESSING)),
    )
    if cursor is not None:
        query = query.where(Payment.created_at >= cursor - OVERLAP)
    flagged = 0
    for payment in session.scalars(query).all():
        if payment.stripe_payment_intent_id in seen:
            continue
        try:
            gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
            continue
        except PaymentError as error:
            if error.http_status != 404:
                raise
        flagged += flag_unknown_to_stripe(session, actor, payment)
        _finish(session, dry_run)
    return flagged
