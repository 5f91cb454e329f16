"""The postings of utility shutoff in the field, made through their real services
(test_entry_sources)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from core.extensions import db
from ledger.models import JournalEntry
from notices.shutoff_field_results import SHUT_OFF, Result, enter_result
from tests.ledger.billing_postings import Posted
from tests.notices.field_fixtures import CLERK, WORK_DAY, at, hang_and_issue, one


def reconnection_fee_charged(app: Flask, client) -> Posted:
    """A crew shuts a delinquent household's water off; the rule's reconnection fee is charged
    on the delinquency's bill: Dr 1190 / Cr 4540."""
    one(app)
    with app.app_context():
        (order,) = hang_and_issue(app)
        enter_result(db.session, app.config, CLERK, order, Result(SHUT_OFF, at(WORK_DAY, 9)))
        db.session.commit()
        seq = db.session.scalar(
            sa.select(JournalEntry.seq).where(JournalEntry.source_type == "reconnection_fee")
        )
        return Posted(
            seq, str(order.fee_charge_id), f"Reconnection fee (charge {order.fee_charge_id})"
        )
