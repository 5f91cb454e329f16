"""Paying from a bank account: what our server asks of Stripe, checked against Stripe's documented
objects on a stand-in server (localstripe has no `us_bank_account`), the mandate stored, a
blocked bank account refused."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

from accounts.models import Account
from core.audit import Actor
from core.extensions import db
from payments.ach_models import BankMandate, BlockedBankAccount
from payments.bank_payments import (
    BLOCKED,
    MANDATE_VERSION,
    confirm_bank_payment,
    mandate_text,
    start_bank_payment,
    unblock,
)
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.services import PaymentRefused, record_payment
from tests.payments.test_gateway import gateway_on, http_server
from tests.payments.test_webhooks import RESIDENT, TOTAL, _town

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
ACCEPTED = datetime(2026, 11, 12, 15, 4, 5, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chromium"


class Stripe:
    """A stand-in for api.stripe.com answering with the objects its API reference documents."""

    def __init__(self, fingerprint: str = "fp_maria", after_confirm: dict | None = None):
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.fingerprint = fingerprint
        self.after_confirm = after_confirm or {"status": "processing"}

    def __call__(self, method, path, headers, body):
        """Record the request; answer as Stripe does."""
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.requests.append((method, path.split("?")[0], headers, form))
        if path.startswith("/v1/customers"):
            return 200, {"id": "cus_ach", "object": "customer", "metadata": {}}
        if path.startswith("/v1/payment_methods/"):
            return 200, {
                "id": "pm_ach",
                "object": "payment_method",
                "type": "us_bank_account",
                "us_bank_account": {
                    "account_holder_type": "individual",
                    "account_type": "checking",
                    "bank_name": "STRIPE TEST BANK",
                    "fingerprint": self.fingerprint,
                    "last4": "6789",
                    "routing_number": "110000000",
                },
            }
        intent = {
            "id": "pi_ach",
            "object": "payment_intent",
            "amount": TOTAL,
            "currency": "usd",
            "client_secret": "pi_ach_secret_x",
            "payment_method_types": ["us_bank_account"],
            "status": "requires_payment_method",
        }
        if path.endswith("/confirm"):
            intent |= {"payment_method": "pm_ach", **self.after_confirm}
            intent["latest_charge"] = {
                "id": "py_ach",
                "object": "charge",
                "payment_method_details": {
                    "type": "us_bank_account",
                    "us_bank_account": {"mandate": "mandate_ach", "last4": "6789"},
                },
            }
        return 200, intent

    def posted(self, suffix: str) -> tuple[dict, dict]:
        """The headers and form of the one POST whose path ends so."""
        (found,) = [(h, f) for m, p, h, f in self.requests if m == "POST" and p.endswith(suffix)]
        return found


def _bank_payment(app) -> int:
    """A pending bank payment of the household's bill."""
    (account_id,) = _town(app)
    with app.app_context():
        payment = record_payment(
            db.session,
            RESIDENT,
            account=db.session.get(Account, account_id),
            amount_cents=TOTAL,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.BANK_DEBIT,
        )
        db.session.commit()
        return payment.id


def _pay(payment_id: int, stripe: Stripe) -> Payment:
    """Start and confirm the debit as the page does, against the stand-in."""
    payment = db.session.get(Payment, payment_id)
    with http_server(stripe) as base, gateway_on(base) as gateway:
        start_bank_payment(db.session, gateway, payment)
        confirm_bank_payment(
            db.session,
            RESIDENT,
            gateway,
            payment,
            payment_method_id="pm_ach",
            ip_address="203.0.113.9",
            user_agent=BROWSER,
            accepted_at=ACCEPTED,
        )
    db.session.commit()
    return payment


def test_the_debit_is_asked_of_stripe_as_a_us_bank_account_with_financial_connections(app):
    payment_id = _bank_payment(app)
    stripe = Stripe()
    with app.app_context():
        _pay(payment_id, stripe)
    headers, form = stripe.posted("/v1/payment_intents")
    assert headers["Idempotency-Key"] == f"munibill-bank-payment-{payment_id}"
    assert form["payment_method_types[0]"] == "us_bank_account"
    assert form["amount"] == str(TOTAL) and form["currency"] == "usd"
    options = "payment_method_options[us_bank_account]"
    assert form[f"{options}[verification_method]"] == "automatic"
    assert form[f"{options}[financial_connections][permissions][0]"] == "payment_method"
    assert form["metadata[payment_id]"] == str(payment_id)


def test_the_confirmation_carries_the_mandate_the_resident_accepted_and_it_is_stored(app):
    payment_id = _bank_payment(app)
    stripe = Stripe()
    with app.app_context():
        payment = _pay(payment_id, stripe)
        assert payment.status == PaymentStatus.PROCESSING
        mandate = db.session.scalar(sa.select(BankMandate))
        assert (mandate.payment_id, mandate.text_version) == (payment_id, MANDATE_VERSION)
        assert (mandate.ip_address, mandate.user_agent) == ("203.0.113.9", BROWSER)
        assert mandate.accepted_at == ACCEPTED
        assert (mandate.stripe_mandate_id, mandate.fingerprint) == ("mandate_ach", "fp_maria")
        assert (mandate.bank_name, mandate.last4) == ("STRIPE TEST BANK", "6789")
    headers, form = stripe.posted("/v1/payment_intents/pi_ach/confirm")
    assert headers["Idempotency-Key"] == f"munibill-bank-confirm-{payment_id}"
    acceptance = "mandate_data[customer_acceptance]"
    assert form[f"{acceptance}[type]"] == "online"
    assert form[f"{acceptance}[accepted_at]"] == str(int(ACCEPTED.timestamp()))
    assert form[f"{acceptance}[online][ip_address]"] == "203.0.113.9"
    assert form[f"{acceptance}[online][user_agent]"] == BROWSER
    assert form["payment_method"] == "pm_ach"


def test_an_account_without_instant_verification_waits_for_its_microdeposits(app):
    payment_id = _bank_payment(app)
    url = "https://payments.stripe.com/microdeposit/pacs_test"
    waiting = {
        "status": "requires_action",
        "next_action": {
            "type": "verify_with_microdeposits",
            "verify_with_microdeposits": {
                "arrival_date": 1763337600,
                "hosted_verification_url": url,
                "microdeposit_type": "descriptor_code",
            },
        },
    }
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        with http_server(Stripe(after_confirm=waiting)) as base, gateway_on(base) as gateway:
            start_bank_payment(db.session, gateway, payment)
            intent = confirm_bank_payment(
                db.session,
                RESIDENT,
                gateway,
                payment,
                payment_method_id="pm_ach",
                ip_address="203.0.113.9",
                user_agent=BROWSER,
            )
        assert intent.verification_url == url
        assert payment.status == PaymentStatus.PENDING  # not processing until verified


def test_a_blocked_bank_account_is_refused_before_anything_reaches_the_bank(app):
    payment_id = _bank_payment(app)
    with app.app_context():
        db.session.add(BlockedBankAccount(fingerprint="fp_blocked", returns=2))
        db.session.commit()
    stripe = Stripe(fingerprint="fp_blocked")
    with app.app_context():
        with pytest.raises(PaymentRefused) as refused:
            _pay(payment_id, stripe)
        assert refused.value.message == BLOCKED
        db.session.rollback()
        assert db.session.scalar(sa.select(BankMandate)) is None
    assert not [p for m, p, _h, _f in stripe.requests if p.endswith("/confirm")]
    with app.app_context():
        with pytest.raises(PaymentRefused):
            unblock(db.session, CLERK, "fp_blocked", "")
        unblock(db.session, CLERK, "fp_blocked", "The resident's bank confirmed the account.")
        db.session.commit()
        assert _pay(payment_id, Stripe(fingerprint="fp_blocked")).status == (
            PaymentStatus.PROCESSING
        )


def test_the_mandate_names_the_town_and_the_amount_before_the_resident_confirms():
    text = mandate_text("Town of Millbrook", TOTAL)
    assert "Town of Millbrook" in text and "$107.84" in text and "I authorize" in text
    assert "until you cancel autopay" in mandate_text("Town of Millbrook", None)
