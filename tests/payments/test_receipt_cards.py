"""A card payment's receipt names the card the way the resident knows it: its brand and last four
digits come from Stripe's charge (never from the browser), as the payment settles or right after,
and the payment settles whether or not they can be read."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from notices import content
from notices.render import render
from payments.cards import fill_card_details
from payments.gateway import (
    UNAVAILABLE_MESSAGE,
    PaymentCard,
    PaymentError,
    StripeGateway,
    card_of_intent,
)
from payments.models import EventStatus, Payment, PaymentStatus, Receipt, StripeEvent
from payments.online import charge_card
from tests.notices.test_receipts import pdf_text
from tests.payments.signing import deliver
from tests.payments.test_online import (  # noqa: F401 - live_app: the app served to localstripe
    RESIDENT,
    _billed_payment,
    live_app,
)
from tests.payments.test_webhooks import _event, _payment, _town

JOB = Actor.job("test")
VISA = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}


def _settled_with_card(app, payment_id: int, seconds: float = 20) -> Payment:
    """The payment once the webhook has settled it and its card is known."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            payment = db.session.get(Payment, payment_id)
            if payment.status == PaymentStatus.SUCCEEDED and payment.card_last4:
                return payment
        time.sleep(0.2)
    raise AssertionError(f"payment {payment_id} was not settled with its card")


def test_a_visa_paid_through_stripe_is_kept_as_visa_ending_in_4242(live_app):  # noqa: F811
    payment_id = _billed_payment(live_app)
    with live_app.app_context(), StripeGateway.from_config(live_app.config) as gateway:
        payment = db.session.get(Payment, payment_id)
        intent = charge_card(db.session, RESIDENT, gateway, payment, "pm_card_visa")
        db.session.commit()
        # localstripe's charge carries no payment_method_details: the gateway reads the card
        # from the payment method the charge names, which Stripe keeps
        assert gateway.payment_card(intent.id) == PaymentCard("visa", "4242", 12, 2030)
    assert intent.status == "succeeded"
    payment = _settled_with_card(live_app, payment_id)
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    with live_app.app_context():
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        # the moment on the receipt is Stripe's success, not a clock of ours
        assert abs((receipt.paid_at - intent.created).total_seconds()) < 60
        text = pdf_text(render(content.receipt(db.session, live_app.config, receipt)))
        assert "Visa ending in 4242" in text and intent.id in text
        audited = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "payment.card")
        )
        assert audited.summary == {"brand": "visa", "last4": "4242"}


@pytest.mark.parametrize(
    "intent",
    [
        # API versions from 2022-11-15, the charge expanded
        {"id": "pi_1", "latest_charge": {"id": "ch_1", "payment_method_details": {"card": VISA}}},
        # earlier API versions: the intent lists its charges, newest first
        {
            "id": "pi_1",
            "charges": {"data": [{"id": "ch_2", "payment_method_details": {"card": VISA}}]},
        },
    ],
    ids=["latest_charge", "charges"],
)
def test_the_card_is_read_from_either_shape_of_stripes_charge(intent):
    assert card_of_intent(intent) == PaymentCard("visa", "4242", 12, 2034)


@pytest.mark.parametrize(
    "intent",
    [
        {"id": "pi_1", "latest_charge": "ch_1"},  # an id alone: Stripe must be asked
        {"id": "pi_1", "latest_charge": {"id": "ch_1"}},  # no payment_method_details
        {"id": "pi_1"},
        {"id": "pi_1", "latest_charge": {"payment_method_details": {"card": {"last4": "42"}}}},
        # digits that are not ASCII are no card number
        {
            "id": "pi_1",
            "charges": {"data": [{"payment_method_details": {"card": {"last4": "٤٢٤٢"}}}]},
        },
    ],
)
def test_an_intent_without_a_readable_card_gives_none(intent):
    assert card_of_intent(intent) is None


def test_a_success_that_carries_its_charge_keeps_the_card_as_it_settles(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    event = _event(app, "payment_intent.succeeded", payment_id)
    event["data"]["object"]["latest_charge"] = {
        "id": "ch_test_1",
        "payment_method_details": {"type": "card", "card": {**VISA, "brand": "mastercard"}},
    }
    assert deliver(client, event).status_code == 200  # no Stripe is configured to ask
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.SUCCEEDED
        assert (payment.card_brand, payment.card_last4) == ("mastercard", "4242")


class _Readable:
    """A gateway that tells the card of any intent."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def payment_card(self, payment_intent_id: str) -> PaymentCard | None:
        self.asked.append(payment_intent_id)
        return PaymentCard("visa", "4242", 12, 2034)


@pytest.mark.parametrize(
    "error",
    [PaymentError(UNAVAILABLE_MESSAGE, retryable=True), RuntimeError("the charge is unreadable")],
    ids=["stripe unavailable", "anything else"],
)
def test_a_success_settles_when_the_card_cannot_be_read_and_the_card_is_filled_in_later(
    app, client, monkeypatch, error
):
    # Stripe is configured, so the settler asks it for the card; the call raises
    app.config.update(STRIPE_SECRET_KEY="sk_test_unreadable", STRIPE_API_BASE="http://127.0.0.1:9")

    def unreadable(gateway, payment_intent_id):
        raise error

    monkeypatch.setattr(StripeGateway, "payment_card", unreadable)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    event = _event(app, "payment_intent.succeeded", payment_id)
    assert deliver(client, event).status_code == 200
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.SUCCEEDED
        assert (payment.card_brand, payment.card_last4) == (None, None)
        assert db.session.get(StripeEvent, event["id"]).status == EventStatus.PROCESSED
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert "Paid by card" in text  # until the card is known

        # the next round (the fees job's) asks again and fills it in, once
        later = _Readable()
        assert fill_card_details(db.session, JOB, later) == 1
        assert fill_card_details(db.session, JOB, later) == 0
        assert later.asked == [payment.stripe_payment_intent_id]
        payment = db.session.get(Payment, payment_id)
        assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert "Paid by Visa ending in 4242" in text


def test_a_round_of_card_reading_stops_when_stripe_is_out_of_reach(app):
    (account_id,) = _town(app)
    ids = [_payment(app, account_id, cents=1000) for _ in range(3)]
    with app.app_context():
        for payment_id in ids:
            payment = db.session.get(Payment, payment_id)
            payment.status, payment.succeeded_at = PaymentStatus.SUCCEEDED, datetime.now(UTC)
        db.session.commit()
        asked = []

        class Down:
            def payment_card(self, payment_intent_id):
                asked.append(payment_intent_id)
                raise PaymentError(UNAVAILABLE_MESSAGE, retryable=True)

        assert fill_card_details(db.session, JOB, Down()) == 0
        assert len(asked) == 1  # the others wait for the next round
