"""Assessing penalties and interest over the whole town: one invoice that cannot be assessed
is left out with its reason, where clerks see it, and every other invoice is charged."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge
from billing.penalty_service import assess_penalties
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from payments.counter import open_drawer, take_counter_payment
from payments.models import Payment, Tender
from payments.refunds import refund_payment
from tests.billing.billing_fixtures import bill_households


def test_one_invoice_whose_history_cannot_be_assessed_is_left_out_and_the_others_are_charged(
    app, client, api_headers
):
    broken, fine = bill_households(
        app, "evening", "morning", issue_date=date(2026, 11, 1), due_date=date(2026, 11, 2)
    )
    clerk = Actor.system("test clerk")
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == broken.number))
        receipt = take_counter_payment(
            db.session,
            clerk,
            drawer=open_drawer(db.session, clerk),
            account=account,
            amount_cents=2000,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[],
            on=date(2026, 11, 20),
        )
        # NOTE: as the UTC dating once made it: the refund dated the day before the payment
        refund_payment(
            db.session,
            clerk,
            db.session.get(Payment, receipt.payment_id),
            amount_cents=2000,
            reason="refund dated the evening before",
            on=date(2026, 11, 19),
        )
        db.session.commit()
    answer = client.post(
        "/api/v1/penalties/assess", json={"as_of": "2026-12-04"}, headers=api_headers("clerk")
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [number for number, _why in body["skipped"]] == [broken.invoice_number]
    assert body["charges"] >= 1
    with app.app_context():
        charged = {
            number
            for (number,) in db.session.execute(
                sa.select(Invoice.number).join(
                    InvoiceCharge, InvoiceCharge.invoice_id == Invoice.id
                )
            )
        }
        assert charged == {fine.invoice_number}
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "penalties.assess")
        )
        assert broken.invoice_number in str(event.summary)
        again = assess_penalties(db.session, clerk, as_of=date(2026, 12, 4), rounding="half_up")
        assert [n for n, _ in again.skipped] == [broken.invoice_number] and again.charges == 0
