"""Every call that creates, charges or refunds at Stripe sends, on the wire, an idempotency key
derived from our own row: a call repeated after a lost answer is answered, never done twice.

The requests are read off the SDK's own HTTP client (a recording subclass of the one
payments.gateway builds), so what is asserted is what left for Stripe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from payments import gateway as gateway_module
from payments import reconcile_actions
from payments.gateway import StripeGateway
from payments.models import Payment, ReconciliationItem, Refund
from payments.refunds import refund_payment
from portal.models import AutopayCharge
from tests.conftest import csrf_token
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.portal.conftest import billed, households, quick_pay  # noqa: F401 - fixtures
from tests.portal.test_autopay import DUE, enrolled, olson, run, stripe_app  # noqa: F401

SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")


@dataclass(frozen=True)
class Sent:
    """One HTTP request the SDK sent to Stripe."""

    method: str
    path: str
    idempotency_key: str | None


@pytest.fixture
def wire(monkeypatch) -> list[Sent]:
    """What the SDK sends, as it sends it: every gateway built from now on records its requests."""
    sent: list[Sent] = []
    default = gateway_module.stripe.RequestsClient

    class Recording(default):
        """The SDK's default HTTP client, noting each request before it goes out."""

        def request(self, method, url, headers, post_data=None):
            key = dict(headers or {}).get("Idempotency-Key")
            sent.append(Sent(method.upper(), urlsplit(url).path, key))
            return super().request(method, url, headers, post_data)

    monkeypatch.setattr(gateway_module.stripe, "RequestsClient", Recording)
    return sent


def _keys(sent: list[Sent], path: str) -> list[str | None]:
    """The idempotency keys of the POSTs to one of Stripe's paths, in order."""
    return [s.idempotency_key for s in sent if s.method == "POST" and s.path == path]


def _card_payment(app, client, billed) -> tuple[int, int]:  # noqa: F811 - fixture
    """A quick-pay resident pays the bill by card; returns (payment id, account id)."""
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = client.get("/my/bill").text
    started = client.post("/my/pay", data={"csrf_token": csrf_token(page), "choice": "all"})
    payment_id = int(started.location.rsplit("/", 1)[1])
    headers = {"X-CSRFToken": csrf_token(client.get(started.location).text)}
    setup = client.post(f"/my/pay/{payment_id}/setup", json={}, headers=headers)
    saved = confirm_card_setup_like_stripe_js(
        app.config["STRIPE_API_BASE"], setup.json["client_secret"], "4242424242424242"
    )
    charged = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": saved["payment_method"]},
        headers=headers,
    )
    assert charged.status_code == 200 and charged.json["status"] == "succeeded", charged.text
    with app.app_context():
        return payment_id, db.session.get(Payment, payment_id).account_id


def test_a_card_payment_sends_the_keys_of_its_customer_setup_and_charge(
    stripe_app,  # noqa: F811 - fixture
    client,
    billed,  # noqa: F811 - fixture
    wire,
):
    payment_id, account_id = _card_payment(stripe_app, client, billed)
    assert _keys(wire, "/v1/customers") == [f"munibill-customer-{account_id}"]
    assert _keys(wire, "/v1/setup_intents") == [f"munibill-setup-{payment_id}"]
    # The PaymentIntent is created and confirmed in one call: the charge.
    assert _keys(wire, "/v1/payment_intents") == [f"munibill-payment-{payment_id}"]


def test_a_refund_sends_the_key_of_its_refund_row(
    stripe_app,  # noqa: F811 - fixture
    client,
    billed,  # noqa: F811 - fixture
    wire,
):
    from core.calendar import town_zone
    from payments.online import settle_from_intent
    from payments.webhooks import STRIPE

    payment_id, _account = _card_payment(stripe_app, client, billed)
    with stripe_app.app_context(), StripeGateway.from_config(stripe_app.config) as gateway:
        payment = db.session.get(Payment, payment_id)
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        settle_from_intent(db.session, STRIPE, payment, intent, town_zone(stripe_app.config))
        refund = refund_payment(
            db.session,
            SUPERVISOR,
            payment,
            amount_cents=1000,
            reason="billing error",
            on=date(2026, 11, 10),
            gateway=gateway,
        )
        db.session.commit()
        assert refund.stripe_refund_id
        refund_id = db.session.scalar(sa.select(Refund.id))
    assert _keys(wire, "/v1/refunds") == [f"munibill-refund-{refund_id}"]


def test_a_refund_from_the_reconciliation_queue_sends_the_key_of_its_item(
    stripe_app,  # noqa: F811 - fixture
    wire,
):
    from core.calendar import town_zone
    from payments.reconcile import reconcile

    with stripe_app.app_context(), StripeGateway.from_config(stripe_app.config) as gateway:
        gateway.create_payment_intent(
            amount_cents=2500,
            currency="usd",
            customer_id=None,
            metadata={"account_number": "unknown"},
            idempotency_key="made-by-hand",
            payment_method="pm_card_visa",
            confirm=True,
        )
        reconcile(
            db.session,
            gateway,
            SUPERVISOR,
            as_of=date(2026, 11, 10),
            currency="usd",
            zone=town_zone(stripe_app.config),
        )
        item = db.session.scalar(sa.select(ReconciliationItem))
        reconcile_actions.refund(
            db.session,
            SUPERVISOR,
            item,
            gateway,
            reason="No payment of ours took this money.",
            zone=town_zone(stripe_app.config),
        )
        db.session.commit()
        assert _keys(wire, "/v1/refunds") == [f"munibill-reconciliation-{item.id}"]


def test_an_autopay_charge_sends_the_key_of_its_payment(
    stripe_app,  # noqa: F811 - fixture
    olson,  # noqa: F811 - fixture
    wire,
):
    enrolled(stripe_app, olson)
    assert run(stripe_app, DUE)["charged"] == 1
    with stripe_app.app_context():
        payment_id = db.session.scalar(sa.select(AutopayCharge.payment_id))
    assert _keys(wire, "/v1/payment_intents") == [f"munibill-autopay-{payment_id}"]
