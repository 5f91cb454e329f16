"""After a declined card the card page pays with another card in one step: the server records
the next try (a new pending payment of the same amount) before any card is charged for it, and
the declined intent is never charged. Real parts: localstripe, the card saved as Stripe.js
saves it, the portal's JSON steps through the test client."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEvent
from payments.models import Payment, PaymentStatus
from tests.conftest import csrf_token
from tests.payments import conftest as payments_fixtures
from tests.payments.conftest import unreachable_stripe_settings
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.portal.test_bill import post_pay

localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"


def card_page(resident) -> tuple[str, dict[str, str]]:
    """Choose the whole amount; the card page's address and the CSRF header pay.js sends."""
    response = post_pay(resident, choice="all", amount="")
    assert response.status_code == 303, response.text
    html = resident.get(response.location).text
    token = re.search(r'data-csrf-token="([^"]+)"', html)
    assert token, "the card page has no CSRF token for pay.js"
    return response.location, {"X-CSRFToken": token.group(1)}


def save_and_charge(app, resident, headers, setup_url: str, charge_url: str, card: str):
    """What card_form.js and pay.js do: a SetupIntent, the card saved at Stripe, the charge."""
    setup = resident.post(setup_url, json={}, headers=headers)
    assert setup.status_code == 200, setup.text
    saved = confirm_card_setup_like_stripe_js(
        app.config["STRIPE_API_BASE"], setup.get_json()["client_secret"], card
    )
    return resident.post(
        charge_url, json={"payment_method": saved["payment_method"]}, headers=headers
    )


def payments() -> list[Payment]:
    """Every payment, oldest first."""
    return list(db.session.scalars(sa.select(Payment).order_by(Payment.id)))


def test_a_declined_card_records_the_next_try_and_another_card_pays_it(
    app, stripe_settings, resident, billed
):
    app.config.update(stripe_settings)
    card, headers = card_page(resident)
    declined = save_and_charge(
        app, resident, headers, f"{card}/setup", f"{card}/charge", DECLINED_WHEN_CHARGED
    )
    assert declined.status_code == 402
    answer = declined.get_json()
    assert answer["error"] == "Your card was declined. Try another card."
    with app.app_context():
        first, second = payments()
        assert (first.status, first.failure_code) == (PaymentStatus.FAILED, "card_declined")
        assert (second.status, second.amount_cents) == (PaymentStatus.PENDING, billed.owed_cents)
        assert (second.account_id, second.invoice_ids) == (first.account_id, first.invoice_ids)
        assert second.stripe_payment_intent_id is None  # recorded before any card is charged
        retry_event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "payment.retry")
        )
        assert retry_event.object_id == str(second.id)
        assert retry_event.summary == {"declined_payment": first.id}
        first_id, second_id, first_intent = first.id, second.id, first.stripe_payment_intent_id
    assert answer["retry"] == {
        "setup_url": f"/my/pay/{second_id}/setup",
        "charge_url": f"/my/pay/{second_id}/charge",
        "status_url": f"/my/pay/{second_id}/status",
        "cancel_url": f"/my/pay/{second_id}/cancel",
        "card_url": f"/my/pay/{second_id}",
    }
    assert answer["restart_url"].startswith("/my/bill?amount=")

    paid = save_and_charge(
        app, resident, headers, answer["retry"]["setup_url"], answer["retry"]["charge_url"], VISA
    )
    assert paid.status_code == 200, paid.text
    assert paid.get_json()["status"] == "succeeded"
    with app.app_context():
        first, second = payments()
        assert first.status == PaymentStatus.FAILED and first.id == first_id
        assert second.stripe_payment_intent_id not in (None, first_intent)
    # The declined payment stays spent: pressing Pay on it again charges nothing.
    again = resident.post(
        f"/my/pay/{first_id}/charge", json={"payment_method": "pm_x"}, headers=headers
    )
    assert again.status_code == 409 and "retry" not in again.get_json()
    with app.app_context():
        assert len(payments()) == 2


def test_an_outage_while_charging_records_no_next_try(app, resident, billed):
    app.config.update(unreachable_stripe_settings())
    card, headers = card_page(resident)
    response = resident.post(
        f"{card}/charge", json={"payment_method": "pm_card_visa"}, headers=headers
    )
    assert response.status_code == 503
    assert "retry" not in response.get_json()
    with app.app_context():
        assert len(payments()) == 1  # Stripe may have taken it: no second payment is offered


def test_the_clerks_card_page_keeps_offering_a_new_payment_after_a_decline(
    app, stripe_settings, signed_in, billed
):
    app.config.update(stripe_settings)
    clerk = signed_in("clerk")
    form = clerk.get(f"/staff/accounts/{billed.number}/pay").text
    started = clerk.post(
        f"/staff/accounts/{billed.number}/pay",
        data={"csrf_token": csrf_token(form), "amount": "10.00"},
    )
    assert started.status_code == 303, started.text
    headers = {
        "X-CSRFToken": re.search(
            r'data-csrf-token="([^"]+)"', clerk.get(started.location).text
        ).group(1)
    }
    base = started.location
    declined = save_and_charge(
        app, clerk, headers, f"{base}/setup", f"{base}/charge", DECLINED_WHEN_CHARGED
    )
    assert declined.status_code == 402
    assert "retry" not in declined.get_json() and declined.get_json()["restart_url"]
    with app.app_context():
        assert [p.status for p in payments()] == [PaymentStatus.FAILED]
