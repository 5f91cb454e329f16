"""The resident paying from a bank account sees the convenience fee and the total before
authorizing the debit, may choose another way to pay or cancel, and a fee changed before the
debit is shown again on a new payment's page, never debited. Stripe's side is the stand-in of
tests/payments/test_bank_payments.py (localstripe has no `us_bank_account`)."""

from __future__ import annotations

import re
from html import unescape

from core.extensions import db
from core.money import format_cents
from payments.convenience_fees import fee_of, set_rule
from payments.models import Payment, PaymentStatus
from tests.conftest import csrf_token
from tests.ledger.payment_postings import CLERK
from tests.payments.test_bank_fees import BANK_FEE, BANK_RULE, StripeCancels
from tests.payments.test_bank_payments import Stripe
from tests.payments.test_gateway import http_server
from tests.portal.test_bank_pay import _bank_page, _link_and_authorize


def _rule(app, **fields) -> None:
    with app.app_context():
        set_rule(db.session, CLERK, {**BANK_RULE, **fields})
        db.session.commit()


def test_the_bank_page_shows_the_fee_and_the_total_the_mandate_authorizes(app, resident, billed):
    _rule(app)
    payment_id, page = _bank_page(app, resident)
    total = format_cents(billed.owed_cents + BANK_FEE)
    fee_box = page[page.index('id="convenience-fee"') : page.index('id="bank-form"')]
    assert "Bank payment convenience fee" in fee_box and format_cents(BANK_FEE) in fee_box
    assert "Total debited from your bank account" in fee_box and total in fee_box
    assert "Choose another way to pay" in fee_box and "Cancel this payment" in fee_box
    assert "Card convenience fee" not in page
    # the mandate the resident accepts names the whole debit, fee included
    assert f"a one-time debit of {total}" in page
    with app.app_context():
        assert fee_of(db.session, db.session.get(Payment, payment_id)).amount_cents == BANK_FEE


def test_without_a_bank_fee_rule_the_bank_page_shows_no_fee(app, resident, billed):
    _rule(app, method="card")  # a card's fee is not a bank payment's
    _payment_id, page = _bank_page(app, resident)
    assert 'id="convenience-fee"' not in page
    assert f"a one-time debit of {format_cents(billed.owed_cents)}" in page


def test_the_authorized_debit_asks_stripe_for_the_bill_and_the_fee(app, resident, billed):
    _rule(app)
    payment_id, page = _bank_page(app, resident)
    stripe = Stripe()
    confirmed = _link_and_authorize(app, resident, page, payment_id, stripe)
    assert confirmed.status_code == 200, confirmed.text
    _headers, form = stripe.posted("/v1/payment_intents")
    assert form["amount"] == str(billed.owed_cents + BANK_FEE)


def test_a_changed_fee_is_shown_again_on_a_new_payment_and_nothing_is_debited(
    app, resident, billed
):
    _rule(app)
    payment_id, page = _bank_page(app, resident)
    headers = {"X-CSRFToken": csrf_token(page)}
    stripe = StripeCancels()
    with http_server(stripe) as base:
        app.config.update(
            STRIPE_API_BASE=base, STRIPE_SECRET_KEY="sk_test_portal", STRIPE_MAX_NETWORK_RETRIES=0
        )
        started = resident.post(f"/my/pay/{payment_id}/bank/start", json={}, headers=headers)
        assert started.status_code == 200
        _rule(app, flat_cents=275)  # the town changes its fee while the resident reads
        answer = resident.post(
            f"/my/pay/{payment_id}/bank/confirm",
            json={"payment_method": "pm_ach", "mandate_accepted": True},
            headers=headers,
        )
    assert answer.status_code == 409
    assert "Nothing was charged" in answer.json["error"]
    assert answer.json["fee"]["fee_cents"] == 275
    assert answer.json["fee"]["total_cents"] == billed.owed_cents + 275
    assert not [p for _m, p, _h, _f in stripe.requests if p.endswith("/confirm")]
    new_page = answer.json["restart_url"]
    again_id = int(new_page.split("/my/pay/")[1].split("/")[0])
    assert again_id != payment_id
    shown = unescape(resident.get(new_page).text)
    assert format_cents(billed.owed_cents + 275) in shown and "$2.75" in shown
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.CANCELED
        assert db.session.get(Payment, again_id).status == PaymentStatus.PENDING


def test_the_resident_cancels_a_linked_debit_rather_than_pay_the_fee(app, resident, billed):
    _rule(app)
    payment_id, page = _bank_page(app, resident)
    stripe = StripeCancels()
    with http_server(stripe) as base:
        app.config.update(
            STRIPE_API_BASE=base, STRIPE_SECRET_KEY="sk_test_portal", STRIPE_MAX_NETWORK_RETRIES=0
        )
        headers = {"X-CSRFToken": csrf_token(page)}
        started = resident.post(f"/my/pay/{payment_id}/bank/start", json={}, headers=headers)
        assert started.status_code == 200
        cancel = re.search(r'<form method="post" id="fee-cancel" action="([^"]+)"', page).group(1)
        answer = resident.post(cancel, data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303 and answer.location.endswith("/my/bill")
    assert stripe.posted("/v1/payment_intents/pi_ach/cancel")
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.CANCELED
    assert "Your payment was canceled. Nothing was charged." in resident.get("/my/bill").text
