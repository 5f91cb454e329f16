"""Making a checkpoint's journal entry through its service (tests/ledger/test_entry_sources.py):
a full verify of a chain with one payment in it signs its checkpoint into the chain."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.checkpoints import verify_full
from ledger.posting import credit, debit, post_entry
from tests.ledger.billing_postings import Posted

AUDITOR = Actor.job("verify_ledger_full")
DAY = date(2026, 11, 2)


def checkpoint_of_a_verify(app: Flask, _client: FlaskClient) -> Posted:
    """A counter payment, then a full verify: its checkpoint is the entry after it."""
    with app.app_context():
        post_entry(
            db.session,
            [debit(chart.CASH_DRAWER, 5000), credit("1110", 5000)],
            entry_date=DAY,
            source_type="payment",
            source_id="P-1",
            actor=AUDITOR,
        )
        checked = verify_full(db.session, AUDITOR, DAY)
        db.session.commit()
        point = checked.checkpoint
        return Posted(point.verified_seq + 1, str(point.id), f'"checkpoint":{point.id}')
