"""Stripe (localstripe) out of reach during reconciliation and during a resident's payment: the
job records a failed run and the next one succeeds, the resident reads "payments are temporarily
unavailable" (not an error page), and no payment taken at Stripe is lost or taken twice."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from billing.models import Account, Invoice, InvoiceStatus
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from payments.gateway import UNAVAILABLE_MESSAGE
from payments.models import Payment, PaymentStatus
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.faults.conftest import Relay
from tests.faults.ledger_checks import books_whole, settled_once
from tests.payments.conftest import (  # noqa: F401 - fixtures
    gateway,
    localstripe,
    localstripe_fresh,
    stripe_settings,
)
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.payments.test_jobs import _at_stripe
from tests.payments.test_webhooks import _payment, _town
from tests.portal.conftest import quick_pay

RECONCILE = find(SCHEDULE, "reconcile_stripe")


@pytest.fixture
def stripe(app, stripe_settings) -> Iterator[Relay]:  # noqa: F811 - fixture
    """The app's Stripe, reached through a relay the test can take down and bring back."""
    relay = Relay(urlsplit(stripe_settings["STRIPE_API_BASE"]).port)
    relay.up()
    app.config.update(
        stripe_settings,
        STRIPE_API_BASE=relay.url,
        STRIPE_MAX_NETWORK_RETRIES=0,
        STRIPE_TIMEOUT_SECONDS=5,
    )
    yield relay
    relay.down()


def test_reconciliation_while_stripe_is_down_fails_its_run_and_the_next_recovers_the_payment(
    app,
    stripe,
    gateway,  # noqa: F811 - fixture
):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _at_stripe(app, gateway, payment_id)  # Stripe took it; its webhook never came
    stripe.down()
    down = run_entry(app, RECONCILE)
    assert down.status == JobStatus.FAILED and "temporarily unavailable" in down.error
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
    stripe.up()
    for _ in range(2):  # the next run settles it; one more changes nothing
        up = run_entry(app, RECONCILE)
        assert up.status == JobStatus.SUCCEEDED, up.error
    with app.app_context():
        settled_once(db.session, [payment_id])
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
        books_whole(db.session)


def _card_payment(client, stripe_settings) -> tuple[int, str, str]:  # noqa: F811
    """A resident starts paying the whole bill and saves a card: (payment id, card, CSRF token)."""
    page = client.get("/my/bill").text
    started = client.post(
        "/my/pay", data={"csrf_token": csrf_token(page), "choice": "all", "amount": ""}
    )
    assert started.status_code == 303, started.text
    payment_id = int(started.location.rsplit("/", 1)[1])
    token = csrf_token(client.get(started.location).text)
    setup = client.post(f"/my/pay/{payment_id}/setup", json={}, headers={"X-CSRFToken": token})
    assert setup.status_code == 200, setup.text
    saved = confirm_card_setup_like_stripe_js(
        stripe_settings["STRIPE_API_BASE"], setup.json["client_secret"], "4242424242424242"
    )
    return payment_id, saved["payment_method"], token


def test_a_payment_while_stripe_is_down_says_so_and_paying_again_later_charges_once(
    app,
    client,
    stripe,
    stripe_settings,  # noqa: F811 - fixture
):
    (billed,) = bill_households(app, "olson")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    payment_id, card, token = _card_payment(client, stripe_settings)
    stripe.down()
    refused = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    assert refused.status_code == 503 and refused.is_json
    assert refused.json["error"] == UNAVAILABLE_MESSAGE and refused.json["restart_url"]
    page = client.get(f"/my/pay/{payment_id}/status")
    assert page.status_code == 200 and "Traceback" not in page.text
    with app.app_context():
        kept = db.session.get(Payment, payment_id)  # kept, with why it did not go through
        assert kept.failure_code and kept.stripe_payment_intent_id is None

    stripe.up()
    again, card, token = _card_payment(client, stripe_settings)
    charged = client.post(
        f"/my/pay/{again}/charge", json={"payment_method": card}, headers={"X-CSRFToken": token}
    )
    assert charged.status_code == 200 and charged.json["status"] == "succeeded", charged.text
    run = run_entry(app, RECONCILE)  # no webhook endpoint here: reconciliation settles it
    assert run.status == JobStatus.SUCCEEDED, run.error
    with app.app_context():
        settled_once(db.session, [again])
        account = db.session.scalar(sa.select(Account))
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(
                    Payment.account_id == account.id, Payment.status == PaymentStatus.SUCCEEDED
                )
            )
            == 1
        )
        books_whole(db.session)
