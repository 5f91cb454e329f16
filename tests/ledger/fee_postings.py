"""Making the journal entries of convenience fees through their services
(tests/ledger/test_entry_sources.py): an own-line fee settled with its payment, a
separate-charge fee settled by its own webhook, and a fee refunded by rule."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from core.extensions import db
from payments.convenience_fees import quote_payment, set_rule
from payments.fee_charges import FEE_OF
from payments.fee_terms import FeeChannel, FeeMethod
from payments.models import Payment
from payments.refunds import refund_payment
from tests.ledger.billing_postings import DAY, SUPERVISOR, Posted, newest
from tests.ledger.payment_postings import CLERK, StripeSays
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import TOTAL, _payment, _town

#: 2.5 % of the test household's bill of $107.84, rounded half up.
FEE = 270
PERCENT_RULE = {"channel": "online", "method": "card", "kind": "percentage", "percent": "2.5"}


def quoted_payment(app: Flask, charged: bool = True, **rule) -> tuple[int, int]:
    """A billed household's card payment with its fee quoted by the rule (and, if `charged`,
    its intent at Stripe); (payment id, fee)."""
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        set_rule(db.session, CLERK, {**PERCENT_RULE, **rule})
        payment = db.session.get(Payment, payment_id)
        if not charged:
            payment.stripe_payment_intent_id = None
        fee = quote_payment(
            db.session, CLERK, payment, rule.get("channel", FeeChannel.ONLINE), FeeMethod.CARD
        )
        db.session.commit()
        return payment_id, fee.amount_cents


def settled_with_fee(app: Flask, client: FlaskClient, **rule) -> int:
    """A payment whose intent charged the bill and its own-line fee, settled by webhook."""
    payment_id, fee = quoted_payment(app, **rule)
    with app.app_context():
        event = intent_event(
            "payment_intent.succeeded", db.session.get(Payment, payment_id), amount=TOTAL + fee
        )
    assert deliver(client, event).status_code == 200
    return payment_id


def fee_intent_event(app: Flask, payment_id: int, cents: int) -> dict:
    """Stripe's success event of the separate fee intent of a payment."""
    with app.app_context():
        event = intent_event(
            "payment_intent.succeeded",
            db.session.get(Payment, payment_id),
            amount=cents,
            intent_id=f"pi_fee_{payment_id}",
        )
    event["data"]["object"]["metadata"] = {FEE_OF: str(payment_id)}
    return event


def settled_separately(app: Flask, client: FlaskClient) -> int:
    """A payment settled for the bill amount and its separate fee intent settled after it."""
    payment_id, fee = quoted_payment(app, charge_as="separate_charge")
    with app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
    assert deliver(client, event).status_code == 200
    assert deliver(client, fee_intent_event(app, payment_id, fee)).status_code == 200
    return payment_id


def own_line_fee(app: Flask, client: FlaskClient) -> Posted:
    """The own-line fee posted when its payment settles: Dr 1020 / Cr 4530."""
    payment_id = settled_with_fee(app, client)
    with app.app_context():
        return Posted(newest(), str(payment_id), f"Convenience fee of payment {payment_id}")


def separate_fee(app: Flask, client: FlaskClient) -> Posted:
    """The separate fee posted by its own intent's success: Dr 1020 / Cr 4530."""
    payment_id = settled_separately(app, client)
    with app.app_context():
        return Posted(newest(), str(payment_id), f"Convenience fee of payment {payment_id}")


def refund_with_fee(app: Flask, client: FlaskClient, cents: int, **rule) -> tuple[int, int]:
    """A settled payment with a fee, refunded by `cents` through Stripe; (payment id, refund id)."""
    payment_id = settled_with_fee(app, client, **rule)
    with app.app_context():
        refund = refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=cents,
            reason="billed in error",
            on=DAY,
            gateway=StripeSays(),
        )
        db.session.commit()
        return payment_id, refund.id


def fee_refunded(app: Flask, client: FlaskClient) -> Posted:
    """The fee's share of a refund given back by a pro-rata rule: Dr 4530 / Cr 1020."""
    payment_id, refund_id = refund_with_fee(app, client, TOTAL, refund="pro_rata")
    with app.app_context():
        return Posted(
            newest(),
            str(payment_id),
            f"Convenience fee of payment {payment_id} refunded with refund {refund_id}",
        )
