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
