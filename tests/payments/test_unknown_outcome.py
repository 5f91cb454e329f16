"""A charge Stripe gave no answer to: the payment is "unknown", never "failed"; the payer reads
that it is being confirmed; no second payment of the same bills is taken meanwhile; and the
janitor asks Stripe at once and settles, fails or frees it, so the card is charged once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.db import utcnow
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from payments.models import Payment, PaymentStatus, Receipt
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.faults.ledger_checks import books_whole, settled_once
from tests.payments.answer_dropper import AnswerDropper
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.payments.test_jobs import _at_stripe
from tests.payments.test_webhooks import _payment, _town
from tests.portal.conftest import quick_pay

JANITOR = find(SCHEDULE, "janitor")
CONFIRMING = "We are confirming your payment"
BEING_CONFIRMED = "A payment for these bills is being confirmed; try again in a few minutes."


def _charge_call(method: str, path: str, body: bytes) -> bool:
    """The request that charges a card: a PaymentIntent created and confirmed at once."""
    return method == "POST" and path == "/v1/payment_intents" and b"confirm=true" in body


@pytest.fixture
def dropper(app, stripe_settings) -> Iterator[AnswerDropper]:
    """The app's Stripe, reached through a proxy that can lose the answer of a charge."""
    proxy = AnswerDropper(urlsplit(stripe_settings["STRIPE_API_BASE"]).port)
    # NOTE: no network retries: the SDK would send the charge again with the same idempotency
    # key, which api.stripe.com answers with the first outcome but localstripe charges anew.
    app.config.update(
        stripe_settings,
        STRIPE_API_BASE=proxy.url,
        STRIPE_MAX_NETWORK_RETRIES=0,
        STRIPE_TIMEOUT_SECONDS=10,
    )
    yield proxy
    proxy.close()


def _card_payment(client, stripe_settings) -> tuple[int, str, str]:
    """A resident starts paying the whole bill and saves a card: (payment id, card, CSRF token)."""
    page = client.get("/my/bill").text
    started = client.post(
        "/my/pay", data={"csrf_token": csrf_token(page), "choice": "all", "amount": ""}
    )
    assert started.status_code == 303, started.text
    payment_id = int(started.location.rsplit("/", 1)[1])
    token = csrf_token(client.get(started.location).text)
    setup = client.post(f"/my/pay/{payment_id}/setup", json={}, headers={"X-CSRFToken": token})
    assert setup.status_code == 200, setup.text
    saved = confirm_card_setup_like_stripe_js(
        stripe_settings["STRIPE_API_BASE"], setup.json["client_secret"], "4242424242424242"
    )
    return payment_id, saved["payment_method"], token


def _status(app, payment_id: int) -> PaymentStatus:
    with app.app_context():
        return db.session.get(Payment, payment_id).status


def test_a_charge_whose_answer_is_lost_is_confirmed_by_the_janitor_and_charges_once(
    app, client, dropper, stripe_settings, gateway
):
    (billed,) = bill_households(app, "olson")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    payment_id, card, token = _card_payment(client, stripe_settings)

    dropper.lose_answers(_charge_call)
    charged = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    assert dropper.dropped == [("POST", "/v1/payment_intents")]  # Stripe charged; we never heard
    assert charged.status_code == 202 and charged.json["status"] == "unknown", charged.text
    assert charged.json["message"].startswith(CONFIRMING) and "error" not in charged.json
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.UNKNOWN and payment.failure_code is None

    # The resident reads that the payment is being confirmed, on the status and card pages.
    status = client.get(f"/my/pay/{payment_id}/status").text
    assert CONFIRMING in status and 'data-state="confirming"' in status
    assert client.get(f"/my/pay/{payment_id}/status.json").json == {"state": "confirming"}
    card_page = client.get(f"/my/pay/{payment_id}").text
    assert CONFIRMING in card_page and 'id="card-form"' not in card_page
    # Pressing pay again sends nothing to Stripe.
    again = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    assert again.status_code == 202 and again.json["status"] == "unknown"

    # A second payment of the same bills is refused while the first is being confirmed.
    page = client.get("/my/bill").text
    second = client.post(
        "/my/pay", data={"csrf_token": csrf_token(page), "choice": "all", "amount": ""}
    )
    assert second.status_code == 422 and BEING_CONFIRMED in second.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1

    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.counts["settled"] == 1
    with app.app_context():
        settled_once(db.session, [payment_id])
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
        books_whole(db.session)
    assert client.get(f"/my/pay/{payment_id}/status.json").json == {"state": "paid"}
    intents = gateway.list_payment_intents()
    assert [i.status for i in intents if i.metadata.get("payment_id") == str(payment_id)] == [
        "succeeded"
    ]
    assert sum(i.status == "succeeded" for i in intents) == 1  # one charge, no more
    assert run_entry(app, JANITOR).counts["settled"] == 0


def test_a_charge_stripe_never_got_is_left_pending_for_the_resident_to_pay(
    app, client, dropper, stripe_settings, gateway
):
    (billed,) = bill_households(app, "olson")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    payment_id, card, token = _card_payment(client, stripe_settings)
    with app.app_context():  # the charge went out and no answer came; it never reached Stripe
        db.session.get(Payment, payment_id).status = PaymentStatus.UNKNOWN
        db.session.commit()

    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.counts["not_charged"] == 1 and run.counts["settled"] == 0
    assert _status(app, payment_id) == PaymentStatus.PENDING
    assert 'id="card-form"' in client.get(f"/my/pay/{payment_id}").text

    charged = client.post(
        f"/my/pay/{payment_id}/charge",
        json={"payment_method": card},
        headers={"X-CSRFToken": token},
    )
    assert charged.status_code == 200 and charged.json["status"] == "succeeded", charged.text
    assert sum(i.status == "succeeded" for i in gateway.list_payment_intents()) == 1


def test_the_janitor_follows_a_declined_charge_found_by_its_metadata_and_fails_the_payment(
    app, gateway, stripe_settings
):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _at_stripe(app, gateway, payment_id, payment_method="pm_card_chargeCustomerFail")
    with app.app_context():  # the answer was lost: we never learned the intent
        payment = db.session.get(Payment, payment_id)
        payment.status, payment.stripe_payment_intent_id = PaymentStatus.UNKNOWN, None
        payment.created_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.counts["failed"] == 1
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.FAILED and payment.stripe_payment_intent_id
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.OPEN


def test_the_janitor_settles_an_unknown_payment_by_its_intent_at_once(
    app, gateway, stripe_settings
):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _at_stripe(app, gateway, payment_id)
    with app.app_context():  # Stripe named the intent, then the connection broke; just now
        payment = db.session.get(Payment, payment_id)
        payment.status, payment.created_at = PaymentStatus.UNKNOWN, utcnow()
        db.session.commit()
    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.counts["settled"] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


def test_the_pages_say_the_payment_is_being_confirmed_in_spanish(app, client):
    (billed,) = bill_households(app, "olson")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = client.get("/my/bill").text
    client.post(
        "/language", data={"csrf_token": csrf_token(page), "lang": "es", "next": "/my/bill"}
    )
    page = client.get("/my/bill").text
    started = client.post(
        "/my/pay", data={"csrf_token": csrf_token(page), "choice": "all", "amount": ""}
    )
    payment_id = int(started.location.rsplit("/", 1)[1])
    with app.app_context():
        db.session.get(Payment, payment_id).status = PaymentStatus.UNKNOWN
        db.session.commit()
    for path in (f"/my/pay/{payment_id}/status", f"/my/pay/{payment_id}"):
        text = client.get(path).text
        assert "Estamos confirmando su pago" in text and CONFIRMING not in text, path
    refused = client.post(
        "/my/pay",
        data={"csrf_token": csrf_token(client.get("/my/bill").text), "choice": "all"},
    )
    assert refused.status_code == 422
    assert "Se está confirmando un pago de estas facturas" in refused.text


def _unknown_payment_of(app, number: str, invoice_numbers=()) -> int:
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
    payment_id = _payment(app, account.id, cents=1000, numbers=invoice_numbers)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        payment.status, payment.stripe_payment_intent_id = PaymentStatus.UNKNOWN, None
        db.session.commit()
    return payment_id


def test_the_staff_pay_page_and_the_api_refuse_a_second_payment_of_bills_being_confirmed(
    app, client, signed_in, api_headers
):
    (billed,) = bill_households(app, "olson")
    _unknown_payment_of(app, billed.number)
    clerk = signed_in("clerk")
    page = clerk.get(f"/staff/accounts/{billed.number}/pay").text
    refused = clerk.post(
        f"/staff/accounts/{billed.number}/pay",
        data={"csrf_token": csrf_token(page), "amount": "10.00"},
    )
    assert refused.status_code == 422 and BEING_CONFIRMED in refused.text
    headers = api_headers("clerk")
    drawer = client.post("/api/v1/drawers", json={}, headers=headers).get_json()
    body = {"account_number": billed.number, "amount_cents": 1000, "tender": "cash"}
    answer = client.post(f"/api/v1/drawers/{drawer['id']}/payments", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.get_json()["errors"] == {
        "invoices": [BEING_CONFIRMED[:1].lower() + BEING_CONFIRMED[1:-1]]
    }
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_a_registered_resident_cannot_pay_the_bills_again_while_a_payment_is_confirmed(app, client):
    from tests.portal.test_autopay import register, sign_in

    (billed,) = bill_households(app, "olson")
    _unknown_payment_of(app, billed.number)
    sign_in(app, client, register(app, billed.number, "ana.olson@example.org"), billed.number)
    page = client.get("/my/bill").text
    refused = client.post(
        "/my/pay", data={"csrf_token": csrf_token(page), "choice": "other", "amount": "10.00"}
    )
    assert refused.status_code == 422 and BEING_CONFIRMED in refused.text


def test_a_payment_of_other_bills_is_taken_while_one_is_being_confirmed(session):
    from billing.models import InvoiceKind
    from billing.runs import RunOptions, open_run, post_run
    from core.audit import Actor
    from payments.models import Channel, Tender
    from payments.services import PaymentRefused, record_payment
    from tests.billing.billing_fixtures import household, load_rules

    account = household(session, load_rules(session), "olson", [1000, 5000, 9000, 13000, 18400])
    for cycle, issued, due in (
        ("2026-09", date(2026, 10, 2), date(2026, 10, 23)),
        ("2026-10", date(2026, 11, 2), date(2026, 11, 23)),
    ):
        run = open_run(
            session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle=cycle,
            issue_date=issued,
            due_date=due,
        )
        post_run(session, run, Actor.job("t"), RunOptions())
    september, october = session.scalars(sa.select(Invoice.number).order_by(Invoice.id)).all()
    resident = Actor("resident", None, f"quickpay:{account.number}", "127.0.0.1")

    def pay(numbers: list[str]) -> Payment:
        return record_payment(
            session,
            resident,
            account=account,
            amount_cents=500,
            invoice_numbers=numbers,
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )

    pay([september]).status = PaymentStatus.UNKNOWN
    for same_bills in ([september], [september, october], []):
        with pytest.raises(PaymentRefused) as refused:
            pay(same_bills)
        assert refused.value.field == "invoices"
        assert "being confirmed" in refused.value.message
    assert pay([october]).status == PaymentStatus.PENDING  # another bill: taken
