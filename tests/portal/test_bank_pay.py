"""A resident pays a bill from a bank account: the method chosen on the bill, the mandate shown
before anything is confirmed, the debit pending while the bank processes it, the return told
in the resident's words. Stripe's side is the stand-in of tests/payments/test_bank_payments.py
(localstripe has no `us_bank_account`)."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from core.extensions import db
from core.money import format_cents
from payments.ach_models import BankMandate, BlockedBankAccount
from payments.bank_payments import BLOCKED
from payments.models import Payment, PaymentStatus, Tender
from tests.conftest import csrf_token
from tests.payments.signing import deliver
from tests.payments.test_ach_returns import RETURN, _charge_failed
from tests.payments.test_bank_payments import Stripe
from tests.payments.test_gateway import http_server
from tests.portal.test_bill import post_pay

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chromium"


def _bank_page(app, resident) -> tuple[int, str]:
    """Choose the bank account on the bill; the payment id and its bank page."""
    app.config["STRIPE_PUBLISHABLE_KEY"] = "pk_test_portal"
    response = post_pay(resident, choice="all", amount="", method="bank")
    assert response.status_code == 303, response.text
    payment_id = int(response.location.split("/my/pay/")[1].split("/")[0])
    return payment_id, unescape(resident.get(response.location).text)


def _link_and_authorize(app, resident, page: str, payment_id: int, stripe: Stripe, **body):
    """What bank_form.js does once Stripe.js linked the account: start, then confirm."""
    headers = {"X-CSRFToken": csrf_token(page), "User-Agent": BROWSER}
    with http_server(stripe) as base:
        app.config.update(
            STRIPE_API_BASE=base, STRIPE_SECRET_KEY="sk_test_portal", STRIPE_MAX_NETWORK_RETRIES=0
        )
        started = resident.post(f"/my/pay/{payment_id}/bank/start", json={}, headers=headers)
        assert started.status_code == 200, started.text
        assert started.json["client_secret"] == "pi_ach_secret_x"
        answer = {"payment_method": "pm_ach", "mandate_accepted": True, **body}
        return resident.post(f"/my/pay/{payment_id}/bank/confirm", json=answer, headers=headers)


def test_the_bill_offers_a_bank_account_and_its_page_shows_the_mandate_first(app, resident, billed):
    bill = resident.get("/my/bill").text
    assert 'name="method" value="card"' in bill and 'name="method" value="bank"' in bill
    payment_id, page = _bank_page(app, resident)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.tender, payment.status) == (Tender.BANK_DEBIT, PaymentStatus.PENDING)
        assert payment.stripe_payment_intent_id is None  # nothing asked of Stripe yet
    assert f"Pay {format_cents(billed.owed_cents)} from a bank account" in page
    assert "you authorize City of Maple Falls to debit the bank account" in page
    assert f"a one-time debit of {format_cents(billed.owed_cents)}" in page
    assert 'id="bank-confirm" disabled' in page
    # the card page of a bank payment leads to its bank page
    assert resident.get(f"/my/pay/{payment_id}").location.endswith(f"/my/pay/{payment_id}/bank")


def test_the_authorized_debit_is_pending_and_its_mandate_kept(app, resident, billed):
    payment_id, page = _bank_page(app, resident)
    confirmed = _link_and_authorize(app, resident, page, payment_id, Stripe())
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json["status"] == "processing"
    assert confirmed.json["status_url"] == f"/my/pay/{payment_id}/status"
    status = unescape(resident.get(confirmed.json["status_url"]).text)
    assert "Pending" in status and "Your bank payment is on its way" in status
    assert resident.get(f"/my/pay/{payment_id}/status.json").json["state"] == "pending"
    with app.app_context():
        mandate = db.session.scalar(sa.select(BankMandate))
        assert (mandate.payment_id, mandate.user_agent) == (payment_id, BROWSER)
        assert mandate.ip_address == "127.0.0.1" and mandate.stripe_mandate_id == "mandate_ach"


def test_a_debit_is_never_confirmed_without_the_mandate_accepted(app, resident, billed):
    payment_id, page = _bank_page(app, resident)
    stripe = Stripe()
    refused = _link_and_authorize(app, resident, page, payment_id, stripe, mandate_accepted=False)
    assert refused.status_code == 400
    assert "mandate_accepted" in refused.json["errors"]
    assert not [p for _m, p, _h, _f in stripe.requests if p.endswith("/confirm")]
    with app.app_context():
        assert db.session.scalar(sa.select(BankMandate)) is None


def test_a_blocked_bank_account_is_refused_in_words_the_resident_understands(app, resident, billed):
    with app.app_context():
        db.session.add(BlockedBankAccount(fingerprint="fp_maria", returns=2))
        db.session.commit()
    payment_id, page = _bank_page(app, resident)
    refused = _link_and_authorize(app, resident, page, payment_id, Stripe())
    assert refused.status_code == 409
    assert refused.json["error"] == BLOCKED
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def test_a_returned_debit_is_told_on_its_page_in_the_resident_s_words(app, client, resident):
    payment_id, page = _bank_page(app, resident)
    _link_and_authorize(app, resident, page, payment_id, Stripe())
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        succeeded = {
            "id": "evt_ach_portal_ok",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": RETURN - 86400,
            "data": {
                "object": {
                    "id": payment.stripe_payment_intent_id,
                    "object": "payment_intent",
                    "amount": payment.amount_cents,
                    "amount_received": payment.amount_cents,
                    "metadata": {"payment_id": str(payment.id)},
                    "payment_method_types": ["us_bank_account"],
                    "status": "succeeded",
                }
            },
        }
    deliver(client, succeeded)
    assert resident.get(f"/my/pay/{payment_id}/status.json").json["state"] == "paid"
    deliver(
        client, _charge_failed("pi_ach", payment.amount_cents, "account_closed", created=RETURN)
    )
    assert resident.get(f"/my/pay/{payment_id}/status.json").json["state"] == "returned"
    status = unescape(resident.get(f"/my/pay/{payment_id}/status").text)
    assert "Returned by your bank" in status
    assert "Your bank returned this payment because the account is closed." in status


def test_the_history_shows_a_debit_pending_then_returned_by_the_bank(app, client, resident):
    payment_id, page = _bank_page(app, resident)
    _link_and_authorize(app, resident, page, payment_id, Stripe())
    history = unescape(resident.get("/my/history").text)
    assert "Pending" in history
    with app.app_context():
        amount = db.session.get(Payment, payment_id).amount_cents
    failed = _charge_failed("pi_ach", amount, "insufficient_funds", created=RETURN)
    deliver(client, failed)
    history = unescape(resident.get("/my/history").text)
    assert "Returned by your bank" in history and format_cents(amount) in history
