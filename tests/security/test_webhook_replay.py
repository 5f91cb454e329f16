"""A webhook delivery captured by an eavesdropper and replayed after Stripe's signature
tolerance (five minutes) is refused before anything is stored, even though its signature
was once genuine; within the tolerance the same delivery is accepted once."""

from __future__ import annotations

import time

import sqlalchemy as sa
import time_machine

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from payments.models import Payment, PaymentStatus, StripeEvent
from tests.payments.signing import intent_event, signed
from tests.payments.test_webhooks import _payment, _town

TOLERANCE_SECONDS = 300


def stored_events(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent))


def test_a_captured_delivery_replayed_after_the_tolerance_is_refused(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
    signed_at = int(time.time())
    body, headers = signed(event, timestamp=signed_at)

    with time_machine.travel(signed_at + TOLERANCE_SECONDS + 1, tick=False):
        late = client.post("/webhooks/stripe", data=body, headers=headers)
    assert late.status_code == 400 and "errors" in late.get_json()
    assert stored_events(app) == 0
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.OPEN

    with time_machine.travel(signed_at + TOLERANCE_SECONDS - 1, tick=False):
        in_time = client.post("/webhooks/stripe", data=body, headers=headers, buffered=True)
    assert in_time.status_code == 200
    assert stored_events(app) == 1

    with time_machine.travel(signed_at + 3600, tick=False):
        replayed = client.post("/webhooks/stripe", data=body, headers=headers)
    assert replayed.status_code == 400
    assert stored_events(app) == 1
