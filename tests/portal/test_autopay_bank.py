"""Autopay from a bank account: the standing mandate accepted and stored, the account saved with
Stripe's SetupIntent, each bill debited under the mandate and pending until the bank answers;
a blocked bank account is neither enrolled nor debited. Stripe is the stand-in of
tests/payments/test_bank_payments.py (localstripe has no `us_bank_account`)."""

from __future__ import annotations

from html import unescape

import pytest
import sqlalchemy as sa

from core.extensions import db
from payments.ach_models import AchReturn, BankMandate, BlockedBankAccount
from payments.bank_payments import BLOCKED
from payments.models import Payment, PaymentStatus, Tender
from portal.models import Autopay, AutopayCharge
from tests.conftest import csrf_token
from tests.payments.signing import deliver
from tests.payments.test_ach_returns import RETURN, _charge_failed
from tests.payments.test_bank_payments import Stripe
from tests.payments.test_gateway import http_server
from tests.portal.test_autopay import DUE, ENROLLED, register, run, sign_in

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chromium"


class StripeForAutopay(Stripe):
    """The stand-in, with SetupIntents and debits confirmed at creation as Stripe answers them."""

    def __call__(self, method, path, headers, body):
        """SetupIntents and PaymentIntents of a saved bank account; the rest as the stand-in."""
        status, answer = super().__call__(method, path, headers, body)
        if path.startswith("/v1/setup_intents"):
            answer = {
                "id": "seti_ach",
                "object": "setup_intent",
                "client_secret": "seti_ach_secret_x",
                "customer": "cus_ach",
                "payment_method_types": ["us_bank_account"],
                "usage": "off_session",
                "status": "requires_payment_method",
            }
            if path.endswith("/confirm"):
                answer |= {
                    "status": "succeeded",
                    "payment_method": "pm_ach",
                    "mandate": "mandate_seti",
                }
        elif path == "/v1/payment_intents" and method == "POST":
            answer |= {"id": "pi_auto", "status": "processing", "payment_method": "pm_ach"}
        return status, answer


@pytest.fixture
def bank_app(app):
    """The app with Stripe settings (the stand-in's address is set per test)."""
    app.config.update(
        STRIPE_SECRET_KEY="sk_test_portal",
        STRIPE_PUBLISHABLE_KEY="pk_test_portal",
        STRIPE_MAX_NETWORK_RETRIES=0,
        AUTOPAY_ENABLED=True,
    )
    return app


@pytest.fixture
def olson(bank_app, client, billed):
    """The first household's client, signed in as a registered resident."""
    resident_id = register(bank_app, billed.number, "maria.olson@example.org")
    return sign_in(bank_app, client, resident_id, billed.number)


def link_bank(app, client, stripe: Stripe, **body):
    """What bank_form.js does on the autopay page: a SetupIntent, Stripe.js links, confirm."""
    headers = {"X-CSRFToken": csrf_token(client.get("/my/autopay").text), "User-Agent": BROWSER}
    with http_server(stripe) as base:
        app.config["STRIPE_API_BASE"] = base
        setup = client.post("/my/autopay/bank/setup", json={}, headers=headers)
        assert setup.status_code == 200, setup.text
        assert setup.json["client_secret"] == "seti_ach_secret_x"
        answer = {"payment_method": "pm_ach", "mandate_accepted": True, **body}
        return client.post("/my/autopay/bank/confirm", json=answer, headers=headers)


def test_the_standing_mandate_is_shown_accepted_stored_and_autopay_turns_on(bank_app, olson):
    page = unescape(olson.get("/my/autopay").text)
    assert "Or debit a bank account (ACH)" in page
    assert "debits for the amount of each bill when it is due, until you cancel autopay" in page
    stripe = StripeForAutopay()
    response = link_bank(bank_app, olson, stripe)
    assert response.status_code == 200, response.text
    assert response.json["redirect"] == "/my/autopay"
    _headers, created = stripe.posted("/v1/setup_intents")
    assert created["payment_method_types[0]"] == "us_bank_account"
    assert created["usage"] == "off_session"
    assert created["payment_method_options[us_bank_account][verification_method]"] == "automatic"
    _headers, confirmed = stripe.posted("/v1/setup_intents/seti_ach/confirm")
    assert confirmed["mandate_data[customer_acceptance][online][user_agent]"] == BROWSER
    with bank_app.app_context():
        (row,) = db.session.scalars(sa.select(Autopay)).all()
        assert row.active and row.method == "us_bank_account" and row.card_last4 == "6789"
        mandate = db.session.scalar(sa.select(BankMandate))
        assert (mandate.purpose, mandate.payment_id) == ("autopay", None)
        assert mandate.stripe_mandate_id == "mandate_seti"
    page = unescape(olson.get("/my/autopay").text)
    assert "Autopay is on" in page and "STRIPE TEST BANK •••• 6789" in page


def test_a_blocked_bank_account_is_not_enrolled(bank_app, olson):
    with bank_app.app_context():
        db.session.add(BlockedBankAccount(fingerprint="fp_maria", returns=2))
        db.session.commit()
    stripe = StripeForAutopay()
    response = link_bank(bank_app, olson, stripe)
    assert response.status_code == 409 and response.json["error"] == BLOCKED
    assert not [p for _m, p, _h, _f in stripe.requests if p.endswith("/confirm")]
    with bank_app.app_context():
        assert db.session.scalar(sa.select(Autopay)) is None


def _enrolled(bank_app, olson) -> StripeForAutopay:
    """A bank account enrolled before the bills fell due."""
    stripe = StripeForAutopay()
    assert link_bank(bank_app, olson, stripe).status_code == 200
    with bank_app.app_context():
        for row in db.session.scalars(sa.select(Autopay)):
            row.created_at = ENROLLED
        db.session.commit()
    return stripe


def test_each_bill_is_debited_under_the_mandate_and_pending_until_the_bank_answers(
    bank_app, olson, client
):
    stripe = _enrolled(bank_app, olson)
    with http_server(stripe) as base:
        bank_app.config["STRIPE_API_BASE"] = base
        counts = run(bank_app, DUE)
    assert counts["charged"] == 1
    _headers, debit = stripe.posted("/v1/payment_intents")
    assert debit["payment_method_types[0]"] == "us_bank_account"
    assert (debit["payment_method"], debit["mandate"], debit["confirm"]) == (
        "pm_ach",
        "mandate_seti",
        "true",
    )
    with bank_app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert (payment.tender, payment.status) == (Tender.BANK_DEBIT, PaymentStatus.PROCESSING)
        amount = payment.amount_cents
    # the bank returns it: the return names the bank account, which the debit had no mandate of
    deliver(client, _charge_failed("pi_auto", amount, "insufficient_funds", created=RETURN))
    with bank_app.app_context():
        returned = db.session.scalar(sa.select(AchReturn))
        assert (returned.return_code, returned.fingerprint) == ("R01", "fp_maria")
        assert db.session.scalar(sa.select(Payment)).status == PaymentStatus.FAILED


def test_a_bank_account_blocked_after_enrollment_is_not_debited(bank_app, olson):
    stripe = _enrolled(bank_app, olson)
    with bank_app.app_context():
        db.session.add(BlockedBankAccount(fingerprint="fp_maria", returns=2))
        db.session.commit()
    with http_server(stripe) as base:
        bank_app.config["STRIPE_API_BASE"] = base
        counts = run(bank_app, DUE)
    assert counts["charged"] == 0
    with bank_app.app_context():
        assert db.session.scalar(sa.select(Payment)) is None
        charge = db.session.scalar(sa.select(AutopayCharge))
        assert charge.outcome == "skipped" and "blocked" in charge.error
