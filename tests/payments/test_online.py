"""A card payment through localstripe, settled by the real webhook posted to the app on 127.0.0.1."""

import time
from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from ledger.balances import account_receivable
from ledger.verify import verify_chain
from payments.gateway import PaymentError, StripeGateway
from payments.models import Channel, Payment, PaymentStatus, Receipt, StripeCustomer, Tender
from payments.online import charge_card, start_card_payment
from payments.services import record_payment
from tests.billing.billing_fixtures import household, load_rules
from tests.live_server import serve
from tests.payments.localstripe_server import register_webhook
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js

RESIDENT = Actor("resident", None, "quick pay", "127.0.0.1")


@pytest.fixture
def live_app(app, stripe_settings):
    """The app on stripe settings, served on 127.0.0.1, with localstripe posting webhooks to it."""
    app.config.update(stripe_settings)
    with serve(app) as url:
        register_webhook(
            stripe_settings["STRIPE_API_BASE"],
            "munibill",
            f"{url}/webhooks/stripe",
            stripe_settings["STRIPE_WEBHOOK_SECRET"],
            ["payment_intent.succeeded", "payment_intent.payment_failed"],
        )
        yield app


def _billed_payment(app) -> int:
    """A billed household and a pending payment of its whole bill."""
    with app.app_context():
        account = household(
            db.session, load_rules(db.session), "olson", [1000, 5000, 9000, 13000, 18400]
        )
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        payment = record_payment(
            db.session,
            RESIDENT,
            account=db.session.get(Account, account.id),
            amount_cents=10784,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        db.session.commit()
        return payment.id


def _pay_with(app, payment_id: int, card: str):
    """What the pay page does: save the card with Stripe.js, then the server charges it."""
    with app.app_context(), StripeGateway.from_config(app.config) as gateway:
        payment = db.session.get(Payment, payment_id)
        secret = start_card_payment(db.session, gateway, payment)
        db.session.commit()
        setup = confirm_card_setup_like_stripe_js(app.config["STRIPE_API_BASE"], secret, card)
        try:
            return charge_card(db.session, RESIDENT, gateway, payment, setup["payment_method"])
        finally:
            db.session.commit()


def _wait_for(app, payment_id: int, status: PaymentStatus, seconds: float = 20) -> Payment:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            payment = db.session.get(Payment, payment_id)
            if payment.status == status:
                return payment
        time.sleep(0.2)
    raise AssertionError(f"payment {payment_id} did not become {status}")


def test_a_card_payment_is_settled_by_the_real_webhook(live_app):
    payment_id = _billed_payment(live_app)
    intent = _pay_with(live_app, payment_id, "4242424242424242")
    assert intent.status == "succeeded"
    with live_app.app_context():
        # charged, but the bill is paid only when the verified webhook says so
        assert db.session.get(Payment, payment_id).stripe_payment_intent_id == intent.id
    _wait_for(live_app, payment_id, PaymentStatus.SUCCEEDED)
    with live_app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.PAID, 0)
        assert db.session.scalar(sa.select(Receipt.amount_cents)) == 10784
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeCustomer)) == 1
        assert account_receivable(db.session, invoice.account_id) == 0
        assert verify_chain(db.session).ok


def test_a_declined_card_leaves_the_bill_open_with_the_reason(live_app):
    payment_id = _billed_payment(live_app)
    with pytest.raises(PaymentError) as declined:
        _pay_with(live_app, payment_id, "4000000000000341")
    assert str(declined.value) == "Your card was declined. Try another card."
    payment = _wait_for(live_app, payment_id, PaymentStatus.FAILED)
    assert payment.failure_message == "Your card was declined. Try another card."
    time.sleep(1.5)  # localstripe's payment_failed event arrives and changes nothing
    with live_app.app_context():
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.OPEN
        assert db.session.get(Payment, payment_id).status == PaymentStatus.FAILED
