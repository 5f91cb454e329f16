"""The reconciliation queue's items: a mismatch with Stripe filed once, and closed once.

`flag` adds one ReconciliationItem per kind and Stripe object (a mismatch found
again is not added again), with our record, Stripe's, and a suggested resolution
for the clerks; `resolve` closes it with what was done about it. The
reconciliation run (payments.reconcile) and the janitor file items here; the
actions on them are in payments.reconcile_actions.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.db import utcnow
from payments.gateway import StripePaymentIntent
from payments.models import Payment, ReconciliationItem, ReconciliationKind, ReconciliationStatus


def flag(
    session: Session,
    actor: Actor,
    kind: ReconciliationKind,
    stripe_id: str,
    *,
    payment: Payment | None,
    ours: dict,
    theirs: dict,
    suggestion: str,
) -> bool:
    """Add an item for the clerks unless the same (kind, Stripe object) is already there."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = session.execute(
        insert(ReconciliationItem)
        .values(
            kind=kind,
            stripe_id=stripe_id,
            payment_id=payment.id if payment is not None else None,
            ours=ours,
            theirs=theirs,
            suggestion=suggestion[:500],
            status="open",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["kind", "stripe_id"])
        .returning(ReconciliationItem.id)
    ).scalar()
    if added is not None:
        record(
            session,
            actor,
            "reconciliation.flag",
            object_type="ReconciliationItem",
            object_id=added,
            kind=kind.value,
            stripe_id=stripe_id,
        )
    return added is not None


class AlreadyResolved(ValueError):
    """The item was resolved already (by whom is in the message)."""


def resolve(session: Session, actor: Actor, item: ReconciliationItem, resolution: str) -> None:
    """Close an item with what was done about it, once; audited. Flushes nothing itself."""
    if item.status == ReconciliationStatus.RESOLVED:
        raise AlreadyResolved(f"Item {item.id} was resolved by {item.resolved_by}.")
    item.status, item.resolved_at = ReconciliationStatus.RESOLVED, utcnow()
    item.resolved_by, item.resolution = actor.label, resolution
    record(session, actor, "reconciliation.resolve", item, resolution=resolution)


def flag_unknown_to_stripe(session: Session, actor: Actor, payment: Payment) -> bool:
    """Flag our payment whose intent Stripe does not know (once)."""
    return flag(
        session,
        actor,
        ReconciliationKind.UNKNOWN_TO_STRIPE,
        payment.stripe_payment_intent_id,
        payment=payment,
        ours=_ours(payment),
        theirs={},
        suggestion=(
            "Stripe does not know this payment's intent. Nothing was charged; cancel the "
            "payment here after checking the Stripe dashboard."
        ),
    )


def _ours(payment: Payment) -> dict:
    return {
        "payment": payment.id,
        "account_id": payment.account_id,
        "amount_cents": payment.amount_cents,
        "status": payment.status.value,
        "intent": payment.stripe_payment_intent_id,
    }


def _theirs(intent: StripePaymentIntent) -> dict:
    return {
        "intent": intent.id,
        "status": intent.status,
        "amount_cents": intent.amount_cents,
        "created": intent.created.isoformat(),
        "metadata": dict(intent.metadata),
    }
