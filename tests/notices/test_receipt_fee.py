"""A receipt of a card payment that carried a convenience fee shows the bill paid and the fee
apart, in its PDF; a receipt without a fee says nothing of one."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from notices import content
from notices.render import render
from payments.models import Receipt
from tests.ledger.fee_postings import FEE, settled_with_fee
from tests.notices.test_receipts import card_receipt, pdf_text
from tests.payments.test_webhooks import TOTAL


def test_the_receipt_shows_the_bill_paid_and_the_fee_apart(app, client):
    payment_id = settled_with_fee(app, client)
    with app.app_context():
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert f"${TOTAL / 100:,.2f}" in text
        assert f"Card convenience fee (not part of the bill) ${FEE / 100:,.2f}" in text


def test_a_receipt_without_a_fee_says_nothing_of_one(app):
    receipt_id = card_receipt(app)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert "convenience fee" not in text.lower()
