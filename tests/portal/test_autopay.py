"""Autopay: a registered resident saves a card, and each bill is charged once on its due date.

Real parts only: localstripe for Stripe (the card saved as Stripe.js saves it), the signed
webhook to settle, a real SMTP server for the e-mail a declined card sends.
"""

from __future__ import annotations

import email
import email.policy
import json
import urllib.request
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.audit import Actor
from core.db import utcnow
from core.extensions import db
from core.models import AuditEvent, JobRun, JobStatus
from core.scheduling import find, run_entry
from ledger.verify import verify_chain
from notices.reminders import Outcome, plan
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus
from portal import access
from portal.autopay_charging import charge_due, due_charges
from portal.models import Autopay, AutopayCharge, Resident, ResidentAccount
from scheduler import SCHEDULE
from tests.conftest import csrf_token
from tests.payments import conftest as payments_fixtures
from tests.payments.signing import deliver, intent_event
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js

#: localstripe (one process per session, wiped before each test) and an app's Stripe settings.
localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

JOB = Actor.job("charge_autopay")
DUE = date(2026, 11, 23)  # the October bills of the test households fall due then
#: Enrolled before the bills fell due (autopay charges bills due from the day it began).
ENROLLED = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"


@pytest.fixture
def stripe_app(app, stripe_settings):
    """The app talking to the wiped localstripe."""
    app.config.update(stripe_settings)
    return app


def register(app, number: str, address: str, language: str = "en") -> int:
    """A registered resident who linked the account; returns the resident's id."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
        resident = Resident(
            email=address, password_hash="x", verified_at=utcnow(), language=language
        )
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=account.id))
        db.session.commit()
        return resident.id


def sign_in(app, client, resident_id: int, number: str):
    """The client holds a resident's session looking at the account."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
        started = access.start_session(
            db.session, now=utcnow(), origin="127.0.0.1", account=account, resident_id=resident_id
        )
        db.session.commit()
    with client.session_transaction() as cookie:
        cookie["portal"] = started.token
    return client


def save_card(app, client, card: str = VISA):
    """What the page's script does: a SetupIntent, Stripe.js saves the card, then confirm."""
    token = csrf_token(client.get("/my/autopay").text)
    headers = {"X-CSRFToken": token}
    setup = client.post("/my/autopay/setup", json={}, headers=headers)
    assert setup.status_code == 200, setup.text
    saved = confirm_card_setup_like_stripe_js(
        app.config["STRIPE_API_BASE"], setup.json["client_secret"], card
    )
    assert saved["status"] == "succeeded"
    return client.post(
        "/my/autopay/confirm", json={"payment_method": saved["payment_method"]}, headers=headers
    )


def enrolled(app, client, card: str = VISA) -> None:
    """Save the card and date the enrollment before the bills fell due."""
    response = save_card(app, client, card)
    assert response.status_code == 200, response.text
    with app.app_context():
        for row in db.session.scalars(sa.select(Autopay)):
            row.created_at = ENROLLED
        db.session.commit()


@pytest.fixture
def olson(stripe_app, client, billed):
    """The first household's client, signed in as a registered resident."""
    resident_id = register(stripe_app, billed.number, "maria.olson@example.org")
    return sign_in(stripe_app, client, resident_id, billed.number)


def run(app, as_of: date) -> dict:
    """The scheduler's charge for the day, committed as the job does."""
    with app.app_context(), StripeGateway.from_config(app.config) as gateway:
        counts = charge_due(db.session, app.config, JOB, gateway, as_of, commit=db.session.commit)
        db.session.commit()
        return counts


def rows(app, model) -> list:
    with app.app_context():
        found = list(db.session.scalars(sa.select(model).order_by(model.id)))
        db.session.expunge_all()
        return found


def actions(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(AuditEvent.action)))


def test_a_resident_saves_a_card_and_the_page_shows_it(stripe_app, olson, billed):
    assert "Autopay is off" in olson.get("/my/autopay").text
    response = save_card(stripe_app, olson)
    assert response.status_code == 200 and response.json["redirect"] == "/my/autopay"
    page = olson.get("/my/autopay").text
    assert "Autopay is on" in page and "Visa •••• 4242" in page and "12/2034" in page
    assert "We will charge this card for each bill on its due date" in page
    assert "<script>" not in page and 'src="/portal/static/autopay.js"' in page
    (row,) = rows(stripe_app, Autopay)
    assert row.active and (row.card_brand, row.card_last4) == ("visa", "4242")
    assert (row.card_exp_month, row.card_exp_year) == (12, 2034)
    with StripeGateway.from_config(stripe_app.config) as gateway:
        card = gateway.retrieve_payment_method(row.stripe_payment_method_id)
    assert card.customer_id == row.stripe_customer_id  # chargeable off-session
    assert "autopay.enroll" in actions(stripe_app)


def test_the_saved_card_is_charged_once_on_the_due_date_and_the_webhook_pays_the_bill(
    stripe_app, olson, client, billed
):
    enrolled(stripe_app, olson)
    assert run(stripe_app, date(2026, 11, 22))["charged"] == 0  # the day before: nothing
    assert rows(stripe_app, Payment) == []

    assert run(stripe_app, DUE)["charged"] == 1
    assert run(stripe_app, DUE)["charged"] == 0  # a rerun does nothing new
    assert run(stripe_app, date(2026, 11, 24))["charged"] == 0
    (payment,) = rows(stripe_app, Payment)
    (charge,) = rows(stripe_app, AutopayCharge)
    assert (charge.outcome, charge.due_date, charge.payment_id) == ("charged", DUE, payment.id)
    assert payment.amount_cents == billed.owed_cents and payment.stripe_payment_intent_id
    assert payment.status == PaymentStatus.PENDING  # charged, not yet paid
    with StripeGateway.from_config(stripe_app.config) as gateway:
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    assert intent.status == "succeeded" and intent.amount_cents == billed.owed_cents
    assert intent.metadata["payment_id"] == str(payment.id)
    assert intent.metadata["invoice_numbers"] == billed.invoice_number
    with stripe_app.app_context():
        assert (
            db.session.scalar(
                sa.select(Invoice.status).where(Invoice.number == billed.invoice_number)
            )
            == InvoiceStatus.OPEN
        )

    secret = stripe_app.config["STRIPE_WEBHOOK_SECRET"]
    with stripe_app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment.id))
    assert deliver(client, event, secret=secret).status_code == 200
    with stripe_app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.PAID, 0)
        assert db.session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
        assert verify_chain(db.session).ok
    assert {"autopay.charge", "payment.record", "payment.settle"} <= actions(stripe_app)


def test_a_missed_scheduler_day_is_caught_up_for_three_days_only(stripe_app, olson):
    enrolled(stripe_app, olson)
    with stripe_app.app_context():
        assert len(due_charges(db.session, date(2026, 11, 26))) == 1
        assert due_charges(db.session, date(2026, 11, 27)) == []
    assert run(stripe_app, date(2026, 11, 25))["charged"] == 1


def test_bills_that_fell_due_before_enrolling_are_left_to_the_resident(stripe_app, olson):
    response = save_card(stripe_app, olson)  # enrolled today, after the bill fell due
    assert response.status_code == 200
    with stripe_app.app_context():
        assert due_charges(db.session, DUE) == []


def test_a_declined_card_fails_emails_the_resident_and_keeps_the_reminders(
    stripe_app, client, billed, smtp
):
    resident_id = register(stripe_app, billed.number, "ana.olson@example.org", language="es")
    sign_in(stripe_app, client, resident_id, billed.number)
    enrolled(stripe_app, client, DECLINED_WHEN_CHARGED)  # saved fine, declined when charged

    counts = run(stripe_app, DUE)
    assert (counts["charged"], counts["failed"]) == (0, 1)
    assert run(stripe_app, DUE)["failed"] == 0  # not tried twice, not e-mailed twice
    (charge,) = rows(stripe_app, AutopayCharge)
    (payment,) = rows(stripe_app, Payment)
    assert charge.outcome == "failed" and "card_declined" in charge.error
    assert charge.email_status == "sent" and charge.payment_id == payment.id
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "card_declined")

    (envelope,) = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["ana.olson@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Content-Language"] == "es" and billed.invoice_number in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    amount = f"${billed.owed_cents // 100:,}.{billed.owed_cents % 100:02d}"
    assert amount in body and "23 de noviembre de 2026" in body  # the date in her language
    assert f"http://127.0.0.1:5000/pay?account={billed.number}" in body

    with stripe_app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        assert invoice.status == InvoiceStatus.OPEN
        planned = plan(db.session, stripe_app.config, DUE, Outcome())
        assert invoice.id in [item[0] for p in planned for item in p.items]
    assert "autopay.fail" in actions(stripe_app)


def test_turning_autopay_off_stops_further_charges(stripe_app, olson):
    enrolled(stripe_app, olson)
    token = csrf_token(olson.get("/my/autopay").text)
    response = olson.post("/my/autopay/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Autopay is off" in olson.get(response.location).text
    (row,) = rows(stripe_app, Autopay)
    assert not row.active and row.canceled_at is not None
    assert run(stripe_app, DUE)["charged"] == 0
    assert rows(stripe_app, Payment) == []
    with StripeGateway.from_config(stripe_app.config) as gateway:
        assert gateway.retrieve_payment_method(row.stripe_payment_method_id).customer_id is None
    assert "autopay.cancel" in actions(stripe_app)


def test_a_new_card_replaces_the_old_one(stripe_app, olson):
    enrolled(stripe_app, olson)
    assert save_card(stripe_app, olson, "4012888888881881").status_code == 200
    old, new = rows(stripe_app, Autopay)
    assert (old.active, new.active) == (False, True) and new.card_last4 == "1881"
    page = olson.get("/my/autopay").text
    assert "•••• 1881" in page and "•••• 4242" not in page


def test_a_quick_pay_session_is_sent_to_sign_in(stripe_app, resident):
    response = resident.get("/my/autopay")
    assert response.status_code == 302 and response.location.endswith("/signin")
    with resident.session_transaction() as cookie:
        flashed = [text for _category, text in cookie.get("_flashes", [])]
    assert any("Autopay needs an online account" in text for text in flashed)
    token = csrf_token(resident.get("/my/bill").text)
    setup = resident.post("/my/autopay/setup", json={}, headers={"X-CSRFToken": token})
    assert setup.status_code == 302
    assert rows(stripe_app, Autopay) == []


def test_another_accounts_autopay_never_appears_or_changes(stripe_app, client, households):
    olson, nguyen = households
    maria = register(stripe_app, olson.number, "maria.olson@example.org")
    enrolled(stripe_app, sign_in(stripe_app, client, maria, olson.number))
    tuan = register(stripe_app, nguyen.number, "tuan.nguyen@example.org")
    other = sign_in(stripe_app, stripe_app.test_client(), tuan, nguyen.number)

    page = other.get("/my/autopay").text
    assert "Autopay is off" in page and "4242" not in page and olson.number not in page
    token = csrf_token(page)
    other.post("/my/autopay/cancel", data={"csrf_token": token})
    (row,) = rows(stripe_app, Autopay)
    assert row.active and row.account_id == _account_id(stripe_app, olson.number)

    # olson's saved card, offered as if nguyen's page had just saved it, then really confirmed
    # on nguyen's SetupIntent: it is still olson's customer's card
    setup = other.post("/my/autopay/setup", json={}, headers={"X-CSRFToken": token})
    assert setup.status_code == 200
    offered = {"payment_method": row.stripe_payment_method_id}
    headers = {"X-CSRFToken": token}
    stolen = other.post("/my/autopay/confirm", json=offered, headers=headers)
    assert stolen.status_code == 409 and "could not be saved" in stolen.json["error"]
    confirm_setup_with(stripe_app, setup.json["client_secret"], row.stripe_payment_method_id)
    stolen = other.post("/my/autopay/confirm", json=offered, headers=headers)
    assert stolen.status_code == 409 and "could not be saved" in stolen.json["error"]
    assert len(rows(stripe_app, Autopay)) == 1


def confirm_setup_with(app, client_secret: str, payment_method: str) -> dict:
    """Confirm a SetupIntent with an existing payment method, as Stripe.js could be made to."""
    setup_intent_id = client_secret.split("_secret_")[0]
    body = {
        "key": app.config["STRIPE_PUBLISHABLE_KEY"],
        "client_secret": client_secret,
        "payment_method": payment_method,
    }
    request = urllib.request.Request(
        f"{app.config['STRIPE_API_BASE']}/v1/setup_intents/{setup_intent_id}/confirm",
        data=json.dumps(body).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _account_id(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Account.id).where(Account.number == number))


def test_stripe_out_of_reach_leaves_the_bill_for_the_next_run(stripe_app, olson):
    enrolled(stripe_app, olson)
    with (
        stripe_app.app_context(),
        StripeGateway(
            api_key=stripe_app.config["STRIPE_SECRET_KEY"],
            api_base="http://127.0.0.1:9",
            max_network_retries=0,
        ) as unreachable,
    ):
        counts = charge_due(db.session, stripe_app.config, JOB, unreachable, DUE)
        db.session.commit()
    assert counts["unavailable"] == 1
    assert rows(stripe_app, AutopayCharge) == []  # so a later run tries again
    (lost,) = rows(stripe_app, Payment)
    # No answer: Stripe may have charged, so the payment is unknown, never failed, and the bill
    # is not charged again until the janitor has asked Stripe.
    assert (lost.status, lost.failure_code) == (PaymentStatus.UNKNOWN, None)
    assert run(stripe_app, date(2026, 11, 24))["charged"] == 0
    janitor = run_entry(stripe_app, find(SCHEDULE, "janitor"))
    assert janitor.status == JobStatus.SUCCEEDED and janitor.counts["not_charged"] == 1
    assert run(stripe_app, date(2026, 11, 24))["charged"] == 1
    (charge,) = rows(stripe_app, AutopayCharge)
    assert charge.outcome == "charged" and charge.payment_id != lost.id


def test_saving_a_card_while_stripe_is_out_of_reach_says_so(stripe_app, olson):
    stripe_app.config.update(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_MAX_NETWORK_RETRIES=0)
    token = csrf_token(olson.get("/my/autopay").text)
    response = olson.post("/my/autopay/setup", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 503
    assert response.json["error"].startswith("Payments are temporarily unavailable")


def test_the_job_runs_from_the_command_line(stripe_app, olson, runner):
    enrolled(stripe_app, olson)
    result = runner.invoke(args=["jobs", "run", "charge_autopay", "--as-of", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "charge_autopay run" in result.output and "'charged': 1" in result.output
    again = runner.invoke(args=["jobs", "run", "charge_autopay", "--as-of", "2026-11-23"])
    assert again.exit_code == 0 and "'charged': 0" in again.output
    assert len(rows(stripe_app, JobRun)) == 2
    assert len(rows(stripe_app, AutopayCharge)) == 1


def test_the_job_fails_loudly_when_stripe_is_out_of_reach(stripe_app, olson, runner):
    enrolled(stripe_app, olson)
    stripe_app.config.update(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_MAX_NETWORK_RETRIES=0)
    result = runner.invoke(args=["jobs", "run", "charge_autopay", "--as-of", "2026-11-23"])
    assert result.exit_code == 1 and "wait for the next run" in result.output
    (job,) = rows(stripe_app, JobRun)
    assert job.status.value == "failed" and job.counts["unavailable"] == 1
    assert rows(stripe_app, AutopayCharge) == []
