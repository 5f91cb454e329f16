"""Processor fees: what Stripe kept of each card payment, posted once it is known.

Stripe knows a charge's fee only once its balance transaction exists, which
may be after the payment settled. `record_processor_fees` asks for the fees
not yet known (run it on a schedule or by hand: `munibill payments fees`);
each fee is posted once — debit processor fees (5000), credit Stripe
clearing (1020) — so that Stripe clearing matches what Stripe will pay out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.gateway import PaymentError, StripeGateway
from payments.models import Payment, PaymentStatus


@dataclass
class FeeReport:
    """What one run found: fees posted, fees Stripe could not tell yet, and their total."""

    recorded: int = 0
    not_yet: int = 0
    fee_cents: int = 0


def record_fee(session: Session, actor: Actor, payment: Payment, fee_cents: int, on: date) -> bool:
    """Keep a card payment's fee and post it (nothing to post for a fee of zero); once."""
    session.refresh(payment, with_for_update=True)
    if payment.fee_cents is not None:
        return False
    if not isinstance(fee_cents, int) or isinstance(fee_cents, bool) or fee_cents < 0:
        raise ValueError(f"a processor fee must be a whole number of cents >= 0, not {fee_cents!r}")
    payment.fee_cents = fee_cents
    if fee_cents:
        post_entry(
            session,
            [
                Posting(chart.PROCESSOR_FEES, debit_cents=fee_cents),
                Posting(chart.STRIPE_CLEARING, credit_cents=fee_cents),
            ],
            entry_date=on,
            source_type="processor_fee",
            source_id=payment.id,
            actor=actor,
            memo=f"Card processing fee of payment {payment.id}",
        )
    record(session, actor, "payment.fee", payment, fee_cents=fee_cents)
    return True


def record_processor_fees(
    session: Session, actor: Actor, gateway: StripeGateway, *, on: date, limit: int = 500
) -> FeeReport:
    """Ask Stripe for the fees of settled card payments not yet known; post each one, committing each."""
    report = FeeReport()
    ids = session.scalars(
        sa.select(Payment.id)
        .where(
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.stripe_payment_intent_id.is_not(None),
            Payment.fee_cents.is_(None),
        )
        .order_by(Payment.id)
        .limit(limit)
    ).all()
    for payment_id in ids:
        payment = session.get(Payment, payment_id)
        try:
            fee = gateway.processor_fee(payment.stripe_payment_intent_id)
        except PaymentError:
            fee = None  # Stripe cannot be asked now; the next run asks again
        if fee is None:
            report.not_yet += 1
            session.rollback()
            continue
        if record_fee(session, actor, payment, fee, on):
            report.recorded += 1
            report.fee_cents += fee
        session.commit()
    return report
