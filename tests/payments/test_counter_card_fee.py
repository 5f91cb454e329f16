"""A clerk takes a card at the counter: the counter's fee rule is quoted on the clerk's card
page before the card is charged, charged on the same intent, and the payer may decline it."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from core.extensions import db
from core.money import format_cents
from payments.convenience_fees import fee_of, set_rule
from payments.fee_terms import FeeChannel
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.ledger.payment_postings import CLERK
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js

COUNTER_CARD = {
    "channel": "counter",
    "method": "card",
    "kind": "tiered",
    "tiers": [
        {"from_cents": 0, "to_cents": 50_00, "flat_cents": 100},
        {"from_cents": 50_00, "to_cents": None, "flat_cents": 0, "percent": "2.25"},
    ],
    "minimum_cents": 100,
    "cap_cents": 2500,
}


def _card_page(app, clerk, number: str, amount: str) -> tuple[str, str]:
    """The clerk records a card payment of `amount`; (the card page's address, its html)."""
    form = clerk.get(f"/staff/accounts/{number}/pay").text
    answer = clerk.post(
        f"/staff/accounts/{number}/pay", data={"csrf_token": csrf_token(form), "amount": amount}
    )
    assert answer.status_code == 303, answer.text
    return answer.location, unescape(clerk.get(answer.location).text)


def test_the_counter_fee_is_shown_to_the_clerk_and_charged_with_the_bill(
    app, signed_in, stripe_settings
):
    app.config.update(stripe_settings)
    (billed,) = bill_households(app, "olson")
    with app.app_context():
        set_rule(db.session, CLERK, COUNTER_CARD)
        set_rule(db.session, CLERK, {"channel": "online", "method": "card", "kind": "none"})
        db.session.commit()
    clerk = signed_in("clerk")
    card, page = _card_page(app, clerk, billed.number, "80.00")
    # 2.25 % of $80.00 is $1.80, the second tier's fee
    assert "Card convenience fee" in page and "$1.80" in page
    assert "Pay $81.80" in page
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        fee = fee_of(db.session, payment)
        assert (fee.channel, fee.amount_cents) == (FeeChannel.COUNTER, 180)
    token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
    headers = {"X-CSRFToken": token}
    setup = clerk.post(f"{card}/setup", json={}, headers=headers)
    saved = confirm_card_setup_like_stripe_js(
        stripe_settings["STRIPE_API_BASE"], setup.get_json()["client_secret"], "4242424242424242"
    )
    charged = clerk.post(
        f"{card}/charge", json={"payment_method": saved["payment_method"]}, headers=headers
    )
    assert charged.status_code == 200, charged.text
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        with StripeGateway.from_config(app.config) as gateway:
            intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        assert intent.amount_cents == 80_00 + 180


def test_the_payer_declines_the_counter_fee_and_the_clerk_cancels_the_payment(
    app, signed_in, stripe_settings
):
    app.config.update(stripe_settings)
    (billed,) = bill_households(app, "olson")
    with app.app_context():
        set_rule(db.session, CLERK, COUNTER_CARD)
        db.session.commit()
    clerk = signed_in("clerk")
    card, page = _card_page(app, clerk, billed.number, "20.00")
    assert f"Pay {format_cents(20_00 + 100)}" in page  # below the first tier's end: $1.00
    cancel = re.search(r'id="fee-cancel" action="([^"]+)"', page).group(1)
    answer = clerk.post(cancel, data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert (payment.status, payment.stripe_payment_intent_id) == (PaymentStatus.CANCELED, None)
