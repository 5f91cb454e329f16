"""Stripe (localstripe) out of reach during reconciliation and during a resident's payment: the
job records a failed run and the next one succeeds, the resident reads that the payment is being
confirmed (not an error page, not "failed"), and no payment taken at Stripe is lost or taken
twice."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
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
JANITOR = find(SCHEDULE, "janitor")


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


def test_a_charge_while_stripe_is_down_is_confirmed_not_failed_and_paying_later_charges_once(
    app,
    client,
    stripe,
    stripe_settings,  # noqa: F811 - fixture
):
    (billed,) = bill_households(app, "olson")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    payment_id, card, token = _card_payment(client, stripe_settings)
    stripe.down()
    unanswered = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    # No answer may mean Stripe charged: the payment is being confirmed, not failed.
    assert unanswered.status_code == 202 and unanswered.json["status"] == "unknown"
    page = client.get(f"/my/pay/{payment_id}/status")
    assert page.status_code == 200 and "We are confirming your payment" in page.text
    with app.app_context():
        kept = db.session.get(Payment, payment_id)
        assert kept.status == PaymentStatus.UNKNOWN and kept.failure_code is None
    down = run_entry(app, JANITOR)  # the janitor cannot ask Stripe yet: the payment stays
    assert down.status == JobStatus.FAILED and "temporarily unavailable" in down.error
    assert client.get(f"/my/pay/{payment_id}/status.json").json == {"state": "confirming"}

    stripe.up()
    up = run_entry(app, JANITOR)  # Stripe never got the charge: the payment is the resident's
    assert up.status == JobStatus.SUCCEEDED and up.counts["not_charged"] == 1, up.error
    charged = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    assert charged.status_code == 200 and charged.json["status"] == "succeeded", charged.text
    run = run_entry(app, RECONCILE)  # no webhook endpoint here: reconciliation settles it
    assert run.status == JobStatus.SUCCEEDED, run.error
    with app.app_context():
        settled_once(db.session, [payment_id])
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
