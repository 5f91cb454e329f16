"""Card disputes: funds held while a dispute is open, given back if it is won, the bill re-opened if lost.

Stripe tells of a dispute in any order and more than once, and two tellings
may arrive at the same moment: a dispute is recorded once (one insert that
does nothing when another process recorded it first), and closed once (its
row locked before its status is read). A lost dispute takes back what the
payment still holds (its credit, then what it settled); what it no longer
holds (refunded before the dispute, or credit spent on other bills) is the
town's loss, written off, so closing never fails.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.db import insert_or_nothing, utcnow
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.models import Dispute, DisputeStatus, Payment
from payments.refunds import take_back_what_is_left


def _insert_once(session: Session, values: dict) -> bool:
    """Insert the dispute unless its Stripe id is recorded; True if this call inserted it."""
    inserted = session.execute(
        insert_or_nothing(session, Dispute, unique=["stripe_dispute_id"])
        .values(**values, created_at=utcnow())
        .returning(Dispute.id)
    ).scalar()
    return inserted is not None


def open_dispute(
    session: Session,
    actor: Actor,
    payment: Payment,
    *,
    stripe_id: str,
    amount_cents: int,
    reason: str | None,
    on: date,
) -> Dispute:
    """Record a dispute once and move its funds from Stripe clearing to funds in dispute."""
    inserted = _insert_once(
        session,
        {
            "stripe_dispute_id": stripe_id,
            "payment_id": payment.id,
            "amount_cents": amount_cents,
            "reason": reason,
            "status": DisputeStatus.OPEN,
        },
    )
    dispute = session.scalar(
        sa.select(Dispute)
        .where(Dispute.stripe_dispute_id == stripe_id)
        .execution_options(populate_existing=True)
    )
    if not inserted:
        return dispute
    post_entry(
        session,
        [
            Posting(chart.DISPUTED_FUNDS, debit_cents=amount_cents),
            Posting(chart.STRIPE_CLEARING, credit_cents=amount_cents),
        ],
        entry_date=on,
        source_type="dispute",
        source_id=stripe_id,
        actor=actor,
        memo=f"Dispute {stripe_id} on payment {payment.id} ({reason or 'no reason given'})",
    )
    record(session, actor, "dispute.open", dispute, payment=payment.id, amount_cents=amount_cents)
    return dispute


def close_dispute(session: Session, actor: Actor, dispute: Dispute, *, won: bool, on: date) -> bool:
    """Close an open dispute once: won gives the funds back, lost re-opens what the payment settled.

    Returns False when the dispute was closed already (by this event told
    again, or by another process at the same moment).
    """
    session.refresh(dispute, with_for_update=True)
    if dispute.status != DisputeStatus.OPEN:
        return False
    if won:
        postings = [Posting(chart.STRIPE_CLEARING, debit_cents=dispute.amount_cents)]
    else:
        postings = _lost(session, actor, dispute, on)
    postings.append(Posting(chart.DISPUTED_FUNDS, credit_cents=dispute.amount_cents))
    post_entry(
        session,
        postings,
        entry_date=on,
        source_type="dispute",
        source_id=dispute.stripe_dispute_id,
        actor=actor,
        memo=f"Dispute {dispute.stripe_dispute_id} {'won' if won else 'lost'}",
    )
    dispute.status = DisputeStatus.WON if won else DisputeStatus.LOST
    dispute.closed_at = utcnow()
    record(session, actor, f"dispute.{dispute.status.value}", dispute)
    return True


def _lost(session: Session, actor: Actor, dispute: Dispute, on: date) -> list[Posting]:
    """The debits of a lost dispute: what the payment still holds, and the rest written off."""
    payment = session.get(Payment, dispute.payment_id)
    postings, short = take_back_what_is_left(
        session,
        actor,
        payment,
        dispute.amount_cents,
        on,
        cause=f"dispute:{dispute.id}",
        because=f"dispute {dispute.stripe_dispute_id} lost",
    )
    if short:
        # NOTE: the cardholder was given back money the payment no longer held (refunded
        # before the dispute, or credit already spent on other bills): the town's loss.
        postings.append(Posting(chart.WRITE_OFFS, debit_cents=short))
        record(
            session,
            actor,
            "dispute.loss_written_off",
            dispute,
            payment=payment.id,
            amount_cents=short,
        )
    return postings
