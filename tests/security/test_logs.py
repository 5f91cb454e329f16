"""No card number, secret key, webhook secret, access code or password is ever logged.

Residents pay through the real pages (quick pay, the pay form, Stripe.js's card step
against localstripe, the charge), localstripe posts its signed webhooks to the app
served on 127.0.0.1, a clerk and a resident sign in: all with every logger at DEBUG,
the Stripe SDK's included. Then the captured log records are searched.
"""

from __future__ import annotations

import logging
import re
import time

import pytest
import sqlalchemy as sa

from core.checkdigit import is_valid_luhn
from core.extensions import db
from core.models import AuditEvent
from payments.models import StripeEvent
from tests.billing.billing_fixtures import bill_households
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.payments.test_online import live_app  # noqa: F401 - the app served to localstripe
from tests.portal.conftest import quick_pay
from tests.security.conftest import RESIDENT_PASSWORD, register_resident, resident_sign_in

VISA = "4242424242424242"
DECLINED = "4000000000000341"
#: Runs of 13 to 19 digits, alone or written in groups of four.
DIGIT_RUN = re.compile(r"(?<![\dA-Za-z])\d(?:[ -]?\d){12,18}(?![\dA-Za-z])")
SECRET_KEY = re.compile(r"\b[sr]k_(?:test|live)_\w+")


def pay_by_card(client, card: str):
    """What a resident's browser does on the bill and card pages; the charge's answer and
    the status page it then polls."""
    page = client.get("/my/bill").text
    paid = client.post("/my/pay", data={"csrf_token": csrf_token(page), "choice": "all"})
    assert paid.status_code == 303, paid.text
    card_page = client.get(paid.headers["Location"])
    headers = {"X-CSRFToken": csrf_token(card_page.text)}
    base = card_page.request.path
    secret = client.post(f"{base}/setup", json={}, headers=headers).get_json()["client_secret"]
    api = client.application.config["STRIPE_API_BASE"]
    saved = confirm_card_setup_like_stripe_js(api, secret, card)
    charged = client.post(
        f"{base}/charge", json={"payment_method": saved["payment_method"]}, headers=headers
    )
    return charged, f"{base}/status.json"


def wait_for_the_webhook(client, status_url: str, seconds: float = 30) -> None:
    """Poll the status page as the browser does until the webhook has settled the payment;
    a success stored but left to the next settler (its handling is logged all the same)
    is enough after a few seconds, since what is checked here is the log."""
    app = client.application
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if client.get(status_url).get_json()["state"] == "paid":
            return
        with app.app_context():
            stored = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.type == "payment_intent.succeeded")
            )
        if stored and time.monotonic() - started > 5:
            return
        time.sleep(0.2)
    raise AssertionError("no payment_intent.succeeded webhook arrived")


#: What every log record carries about where and when (thread ids, times, line numbers):
#: not what was logged, and long digit runs by nature.
BOOKKEEPING = set(vars(logging.makeLogRecord({}))) - {"msg", "args", "exc_text", "stack_info"}


def logged_text(records: list[logging.LogRecord]) -> str:
    """Everything the records would write: messages, arguments, tracebacks and extras."""
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    lines = []
    for record in records:
        lines.append(handler.format(record))
        logged = {k: v for k, v in vars(record).items() if k not in BOOKKEEPING}
        lines.append(repr(logged))
    return "\n".join(lines)


def card_numbers_in(text: str) -> list[str]:
    """Digit runs of a card number's length that pass the Luhn check."""
    runs = (re.sub(r"\D", "", run) for run in DIGIT_RUN.findall(text))
    return [run for run in runs if is_valid_luhn(run)]


@pytest.mark.slow
def test_a_card_payment_and_its_webhooks_log_no_card_number_key_secret_code_or_password(
    live_app,  # noqa: F811
    make_staff,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    olson, nguyen = bill_households(live_app, "olson", "nguyen")
    register_resident(live_app, olson.number)

    paying = live_app.test_client()
    assert quick_pay(paying, olson.number, olson.access_code).status_code == 303
    charged, status_url = pay_by_card(paying, VISA)
    assert charged.get_json()["status"] == "succeeded", charged.text
    wait_for_the_webhook(paying, status_url)

    declining = live_app.test_client()
    assert quick_pay(declining, nguyen.number, nguyen.access_code).status_code == 303
    declined, _status_url = pay_by_card(declining, DECLINED)
    assert declined.status_code == 402, declined.text
    assert quick_pay(live_app.test_client(), nguyen.number, "WRONG-CODE").status_code == 422

    clerk = live_app.test_client()
    assert sign_in(clerk, make_staff("clerk")).status_code == 302
    assert sign_in(live_app.test_client(), "nobody@example.org", PASSWORD).status_code == 401
    assert resident_sign_in(live_app.test_client()).status_code == 303

    logged_by = time.monotonic() + 5  # the server logs a request once it has answered it
    while '"POST /webhooks/stripe' not in caplog.text and time.monotonic() < logged_by:
        time.sleep(0.1)
    records = list(caplog.records)
    text = logged_text(records)
    assert any(r.name.startswith("stripe") for r in records), "the Stripe SDK logged nothing"
    assert '"POST /webhooks/stripe HTTP/1.1" 200' in text, "no webhook delivery was logged"
    config = live_app.config
    assert card_numbers_in(text) == []
    for secret in (VISA, DECLINED, "4242 4242 4242 4242", config["STRIPE_SECRET_KEY"]):
        assert secret not in text
    assert SECRET_KEY.findall(text) == []
    assert config["STRIPE_WEBHOOK_SECRET"] not in text and "whsec_" not in text
    for code in (olson.access_code, nguyen.access_code, "WRONG-CODE"):
        assert code not in text
    assert PASSWORD not in text and RESIDENT_PASSWORD not in text


def test_the_scan_finds_a_card_number_however_it_is_written():
    logged = (
        "card 4242 4242 4242 4242, then 4000-0000-0000-0341 and 378282246310005; not 1234567890123"
    )
    assert card_numbers_in(logged) == ["4242424242424242", "4000000000000341", "378282246310005"]


def test_a_password_typed_in_the_email_box_never_reaches_the_audit_log(app, client):
    secret = "Tr0ub4dor&3-horse"
    for path, email_field in (("/login", "email"), ("/signin", "email")):
        page = client.get(path)
        client.post(
            path,
            data={"csrf_token": csrf_token(page.text), email_field: secret, "password": "x"},
        )
    client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client.get("/login").text),
            "email": "Someone@Example.org",
            "password": "x",
        },
    )
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent)).all()
        logged = " ".join(f"{e.actor_label} {e.summary}" for e in events)
        assert secret not in logged and secret.lower() not in logged
        assert "(not an e-mail address; sha256 " in logged
        assert "someone@example.org" in logged  # an address is kept: clerks see who tried
