"""Making the opening entry of a converted account through the conversion
(tests/ledger/test_entry_sources.py)."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from ledger.models import JournalEntry
from tests.billing.test_conversion import _convert
from tests.ledger.billing_postings import Posted


def opening_balance(app, client) -> Posted:
    """The worked town's conversion: the first account's opening entry."""
    with app.app_context():
        _convert(db.session)
        db.session.commit()
        entry = db.session.scalars(
            sa.select(JournalEntry)
            .where(JournalEntry.source_type == "conversion")
            .order_by(JournalEntry.seq)
        ).first()
        return Posted(entry.seq, entry.source_id, f"Opening balance of account {entry.source_id}")
