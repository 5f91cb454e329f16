"""The resident sees the convenience fee before confirming a card payment, and may cancel or
choose another way to pay; a fee that changed before the charge is shown again, never charged.
Real parts: the portal through the test client, localstripe for the card saved and charged."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from core.extensions import db
from core.money import format_cents
from payments.convenience_fees import fee_of, set_rule
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus
from tests.conftest import csrf_token
from tests.ledger.payment_postings import CLERK
from tests.payments import conftest as payments_fixtures
from tests.portal.test_card_retry import (
    DECLINED_WHEN_CHARGED,
    VISA,
    card_page,
    payments,
    save_and_charge,
)

localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

ONLINE_CARD = {"channel": "online", "method": "card", "kind": "flat", "flat_cents": 295}


def _rule(app, **fields) -> None:
    with app.app_context():
        set_rule(db.session, CLERK, {**ONLINE_CARD, **fields})
        db.session.commit()


def test_the_card_page_shows_the_fee_and_the_total_before_the_resident_pays(
    app, stripe_settings, resident, billed
):
    app.config.update(stripe_settings)
    _rule(app)
    card, _headers = card_page(resident)
    page = unescape(resident.get(card).text)
    total = format_cents(billed.owed_cents + 295)
    fee_box = page[page.index('id="convenience-fee"') : page.index('id="card-form"')]
    assert "Card convenience fee" in fee_box and "$2.95" in fee_box
    assert total in fee_box
    assert f"Pay {total}" in page  # the button names what the card is charged
    assert "Choose another way to pay" in fee_box
    assert "Cancel this payment" in fee_box


def test_without_a_fee_rule_the_card_page_shows_no_fee(app, stripe_settings, resident, billed):
    app.config.update(stripe_settings)
    card, _headers = card_page(resident)
    page = unescape(resident.get(card).text)
    assert 'id="convenience-fee"' not in page
    assert f"Pay {format_cents(billed.owed_cents)}" in page


def test_the_resident_cancels_rather_than_pay_the_fee_and_nothing_is_charged(
    app, stripe_settings, resident, billed
):
    app.config.update(stripe_settings)
    _rule(app)
    card, _headers = card_page(resident)
    page = resident.get(card).text
    cancel = re.search(r'<form method="post" id="fee-cancel" action="([^"]+)"', page).group(1)
    answer = resident.post(cancel, data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303 and answer.location.endswith("/my/bill")
    assert "Your payment was canceled. Nothing was charged." in resident.get("/my/bill").text
    with app.app_context():
        (payment,) = payments()
        assert (payment.status, payment.stripe_payment_intent_id) == (PaymentStatus.CANCELED, None)
    # a canceled payment is not charged afterwards
    assert resident.post(f"{card}/charge", json={"payment_method": "pm_x"}).status_code in (
        400,
        409,
    )


def test_a_fee_changed_after_it_was_shown_is_shown_again_and_not_charged(
    app, stripe_settings, resident, billed
):
    app.config.update(stripe_settings)
    _rule(app)
    card, headers = card_page(resident)
    _rule(app, flat_cents=395)  # the town changes the fee while the resident types the card
    answer = save_and_charge(app, resident, headers, f"{card}/setup", f"{card}/charge", VISA)
    assert answer.status_code == 409, answer.text
    body = answer.get_json()
    assert "The convenience fee for this payment has changed. Nothing was charged" in body["error"]
    assert (body["fee"]["fee"], body["fee"]["total"]) == (
        "$3.95",
        format_cents(billed.owed_cents + 395),
    )
    with app.app_context():
        first, second = payments()
        assert (first.status, first.stripe_payment_intent_id) == (PaymentStatus.CANCELED, None)
        assert second.status == PaymentStatus.PENDING
        assert fee_of(db.session, second).amount_cents == 395
        second_id = second.id
    assert body["retry"]["card_url"] == f"/my/pay/{second_id}"
    # the new payment's page shows the new fee before anything is charged
    assert "$3.95" in unescape(resident.get(body["retry"]["card_url"]).text)
    paid = save_and_charge(
        app, resident, headers, body["retry"]["setup_url"], body["retry"]["charge_url"], VISA
    )
    assert paid.status_code == 200, paid.text
    with app.app_context():
        charged = db.session.scalar(sa.select(Payment).where(Payment.id == second_id))
        assert charged.stripe_payment_intent_id is not None


def test_after_a_declined_card_the_next_try_carries_the_fee_the_page_shows(
    app, stripe_settings, resident, billed
):
    app.config.update(stripe_settings)
    _rule(app)
    card, headers = card_page(resident)
    declined = save_and_charge(
        app, resident, headers, f"{card}/setup", f"{card}/charge", DECLINED_WHEN_CHARGED
    )
    assert declined.status_code == 402
    retry = declined.get_json()["retry"]
    paid = save_and_charge(app, resident, headers, retry["setup_url"], retry["charge_url"], VISA)
    assert paid.status_code == 200, paid.text
    with app.app_context():
        first, second = payments()
        assert fee_of(db.session, second).amount_cents == fee_of(db.session, first).amount_cents
        with StripeGateway.from_config(app.config) as gateway:
            intent = gateway.retrieve_payment_intent(second.stripe_payment_intent_id)
        assert intent.amount_cents == billed.owed_cents + 295
