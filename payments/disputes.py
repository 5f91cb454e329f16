"""Card disputes: funds held while a dispute is open, given back if it is won, the bill re-opened if lost."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import chart
from billing.ledger import Posting, post_entry
from core.audit import Actor, record
from core.db import utcnow
from payments.models import Dispute, DisputeStatus, Payment
from payments.refunds import take_back


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
    dispute = session.scalar(sa.select(Dispute).where(Dispute.stripe_dispute_id == stripe_id))
    if dispute is not None:
        return dispute
    dispute = Dispute(
        stripe_dispute_id=stripe_id,
        payment_id=payment.id,
        amount_cents=amount_cents,
        reason=reason,
        status=DisputeStatus.OPEN,
    )
    session.add(dispute)
    session.flush()
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
    """Close an open dispute once: won gives the funds back, lost re-opens what the payment settled."""
    if dispute.status != DisputeStatus.OPEN:
        return False
    if won:
        postings = [Posting(chart.STRIPE_CLEARING, debit_cents=dispute.amount_cents)]
    else:
        payment = session.get(Payment, dispute.payment_id)
        postings = take_back(session, payment, dispute.amount_cents, on)
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
