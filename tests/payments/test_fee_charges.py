"""Convenience fees charged through localstripe with the real SDK: a card taken at the counter
with its fee on the same charge, and a fee charged as its own PaymentIntent."""

from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.extensions import db
from ledger import chart
from ledger.balances import gl_balance
from ledger.verify import verify_chain
from payments.convenience_fees import fee_of
from payments.fee_charges import FEE_OF
from payments.fee_models import ConvenienceFeeRefund
from payments.models import Payment, PaymentStatus, Receipt, ReconciliationItem
from payments.online import charge_card, start_card_payment
from payments.reconcile import reconcile
from payments.refunds import refund_payment
from tests.ledger.billing_postings import DAY, SUPERVISOR
from tests.ledger.fee_postings import fee_intent_event, quoted_payment
from tests.ledger.payment_postings import CLERK
from tests.payments.signing import deliver, intent_event
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.payments.test_webhooks import TOTAL

COUNTER_RULE = {"channel": "counter", "kind": "flat", "flat_cents": 350, "cap_cents": 350}


def _charged(app, gateway, base: str, payment_id: int):
    """What the card page does: save the card with Stripe.js, then the server charges it."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        secret = start_card_payment(db.session, gateway, payment)
        db.session.commit()
        setup = confirm_card_setup_like_stripe_js(base, secret, "4242424242424242")
        intent = charge_card(db.session, CLERK, gateway, payment, setup["payment_method"])
        db.session.commit()
        return intent


def test_a_card_at_the_counter_is_charged_the_bill_and_the_fee_and_settles_both(
    app, client, gateway, stripe_settings
):
    payment_id, fee = quoted_payment(app, charged=False, **COUNTER_RULE)
    assert fee == 350
    intent = _charged(app, gateway, stripe_settings["STRIPE_API_BASE"], payment_id)
    assert (intent.status, intent.amount_cents) == ("succeeded", TOTAL + 350)
    assert intent.metadata["convenience_fee_cents"] == "350"
    with app.app_context():
        event = intent_event(
            "payment_intent.succeeded", db.session.get(Payment, payment_id), amount=TOTAL + 350
        )
    assert deliver(client, event).status_code == 200
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert db.session.scalar(sa.select(Receipt.amount_cents)) == TOTAL
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 350
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + 350
        assert verify_chain(db.session).ok


def test_a_separate_fee_is_its_own_payment_intent_linked_to_the_payment(
    app, client, gateway, stripe_settings
):
    payment_id, fee = quoted_payment(app, charged=False, charge_as="separate_charge")
    intent = _charged(app, gateway, stripe_settings["STRIPE_API_BASE"], payment_id)
    assert intent.amount_cents == TOTAL  # the bill's own charge carries no fee
    with app.app_context():
        quote = fee_of(db.session, db.session.get(Payment, payment_id))
        fee_intent = gateway.retrieve_payment_intent(quote.stripe_payment_intent_id)
    assert (fee_intent.status, fee_intent.amount_cents) == ("succeeded", fee)
    assert fee_intent.metadata[FEE_OF] == str(payment_id)
    assert "payment_id" not in fee_intent.metadata  # never taken for a payment of the bill
    with app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
    assert deliver(client, event).status_code == 200
    fee_event = fee_intent_event(app, payment_id, fee)
    fee_event["data"]["object"]["id"] = fee_intent.id
    assert deliver(client, fee_event).status_code == 200
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == fee
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + fee
        assert verify_chain(db.session).ok


def test_reconciliation_settles_the_payment_and_posts_its_separate_fee_when_no_webhook_came(
    app, gateway, stripe_settings
):
    payment_id, fee = quoted_payment(app, charged=False, charge_as="separate_charge")
    _charged(app, gateway, stripe_settings["STRIPE_API_BASE"], payment_id)
    with app.app_context():
        zone = ZoneInfo(app.config["MUNICIPALITY_TIMEZONE"])
        for _ in range(2):  # a second run finds everything done
            reconcile(db.session, gateway, CLERK, as_of=date.today(), currency="usd", zone=zone)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == fee
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + fee
        # the fee's intent is ours: nothing is flagged for the clerks
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconciliationItem)) == 0
        assert verify_chain(db.session).ok


def test_a_refund_gives_back_the_fee_at_stripe_and_reconciliation_knows_it_as_ours(
    app, client, gateway, stripe_settings
):
    payment_id, fee = quoted_payment(app, charged=False, refund="with_full_refund")
    intent = _charged(app, gateway, stripe_settings["STRIPE_API_BASE"], payment_id)
    with app.app_context():
        event = intent_event(
            "payment_intent.succeeded", db.session.get(Payment, payment_id), amount=TOTAL + fee
        )
    assert deliver(client, event).status_code == 200
    with app.app_context():
        refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=TOTAL,
            reason="billed in error",
            on=DAY,
            gateway=gateway,
        )
        db.session.commit()
        given = [r for r in gateway.list_refunds() if r.payment_intent_id == intent.id]
        assert sorted(r.amount_cents for r in given) == sorted([TOTAL, fee])
        fee_refund = db.session.scalar(sa.select(ConvenienceFeeRefund))
        assert fee_refund.amount_cents == fee
        zone = ZoneInfo(app.config["MUNICIPALITY_TIMEZONE"])
        reconcile(db.session, gateway, CLERK, as_of=date.today(), currency="usd", zone=zone)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconciliationItem)) == 0
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 0
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == 0
        stripe_id = fee_refund.stripe_refund_id
    updated = {"object": "refund", "id": stripe_id, "status": "succeeded"}
    answer = deliver(
        client,
        {
            "id": "evt_fee_refund",
            "type": "refund.updated",
            "created": 1,
            "data": {"object": updated},
        },
    )
    assert answer.get_json()["status"] == "processed"  # the fee's refund is ours, not unmatched
