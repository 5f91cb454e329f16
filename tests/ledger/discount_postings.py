"""Making the journal entry of an early-payment discount through the payment that earns it
(tests/ledger/test_entry_sources.py)."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from ledger.models import JournalEntry
from tests.billing.test_tax_bills_posted import PAY_BY, discounted_bill, pay
from tests.ledger.billing_postings import Posted


def discount_earned(app, client) -> Posted:
    """A tax bill paid in full, less its discount, by the discount date."""
    with app.app_context():
        owner, invoice, discount = discounted_bill(db.session)
        pay(db.session, owner, discount.amount_due_cents, PAY_BY)
        db.session.commit()
        seq = db.session.scalar(
            sa.select(JournalEntry.seq).where(JournalEntry.source_type == "discount")
        )
        return Posted(seq, invoice.number, f"Early-payment discount on invoice {invoice.number}")


def discount_taken_back(app, client) -> Posted:
    """That payment refunded in part: the bill is no longer paid in full in time."""
    from payments.models import Payment
    from payments.refunds import refund_payment
    from tests.payments.test_discount_refunds import REFUNDED_ON, SUPERVISOR

    with app.app_context():
        owner, invoice, discount = discounted_bill(db.session)
        payment = pay(db.session, owner, discount.amount_due_cents, PAY_BY)
        refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment.id),
            amount_cents=100_00,
            reason="paid twice by mistake",
            on=REFUNDED_ON,
        )
        db.session.commit()
        seq = db.session.scalar(
            sa.select(JournalEntry.seq).where(
                JournalEntry.source_type == "discount", JournalEntry.reverses_id.is_not(None)
            )
        )
        return Posted(
            seq, invoice.number, f"Early-payment discount on invoice {invoice.number} taken back"
        )
