"""Quick pay by ZIP code and last name: off unless the town turns it on; when on, public
facts show only a masked summary of the bill, and the bill opens with the access code or a
one-time code e-mailed to the account's address on file."""

from __future__ import annotations

import re

import pytest

from core.extensions import db
from portal.zip_lookup import mask_email, mask_name, mask_street
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay
from tests.portal.test_residents import mails, text_of

ON_FILE = "maria.olson@example.org"  # the billed households' address on file


def by_zip(client, number: str, zip_code: str = "54901", last_name: str = "OLSON"):
    """Post the ZIP-code form of the quick-pay page."""
    page = client.get("/pay")
    data = {
        "csrf_token": csrf_token(page.text),
        "method": "zip",
        "account": number,
        "zip_code": zip_code,
        "last_name": last_name,
    }
    return client.post("/pay", data=data)


def enter_code(client, code: str):
    """Type a code on the page that shows the masked summary."""
    page = client.get("/pay/found")
    return client.post("/pay/found", data={"csrf_token": csrf_token(page.text), "code": code})


@pytest.fixture
def zip_on(app):
    app.config["QUICKPAY_ZIP_FALLBACK"] = True
    return app


def test_the_zip_lookup_is_off_unless_the_town_turns_it_on(client, billed):
    page = client.get("/pay").text
    assert "ZIP code" not in page
    refused = by_zip(client, billed.number)
    assert refused.status_code == 422
    assert "Enter the access code from your bill." in refused.text
    assert client.get("/my/bill").status_code == 302


def test_a_zip_lookup_shows_only_a_masked_summary_until_the_access_code(zip_on, client, billed):
    found = by_zip(client, billed.number)
    assert found.status_code == 303 and found.location.endswith("/pay/found")
    summary = client.get("/pay/found").text
    assert "o***, 4** Oak Street" in summary
    assert f"${billed.owed_cents / 100:,.2f}" in summary and "November 23, 2026" in summary
    for secret in ("olson", "412", billed.invoice_number, ON_FILE):
        assert secret not in summary.lower()
    assert "m***@e***.org" in summary
    assert client.get("/my/bill").status_code == 302  # the bill itself is not open
    wrong = enter_code(client, "AAAAA-AAAAA")
    assert wrong.status_code == 422 and "do not match our records" in wrong.text
    assert client.get("/my/bill").status_code == 302
    opened = enter_code(client, billed.access_code)
    assert opened.status_code == 303 and opened.location.endswith("/my/bill")
    assert billed.invoice_number in client.get("/my/bill").text


def test_a_one_time_code_e_mailed_to_the_address_on_file_opens_the_bill_once(
    zip_on, client, smtp, billed
):
    app = zip_on
    by_zip(client, billed.number)
    page = client.get("/pay/found")
    sent = client.post("/pay/found/send", data={"csrf_token": csrf_token(page.text)})
    assert sent.status_code == 303
    assert "We e-mailed a code to m***@e***.org" in client.get("/pay/found").text
    (message,) = mails(smtp, ON_FILE)
    code = re.search(r"\b(\d{6})\b", text_of(message)).group(1)
    other = str((int(code) + 1) % 1_000_000).zfill(6)
    assert enter_code(client, other).status_code == 422
    assert client.get("/my/bill").status_code == 302
    copy = client.get_cookie("munibill_session").value  # the cookie as it was before the code
    opened = enter_code(client, code)
    assert opened.status_code == 303 and opened.location.endswith("/my/bill")
    assert billed.invoice_number in client.get("/my/bill").text
    replay = app.test_client()
    replay.set_cookie("munibill_session", copy)
    assert enter_code(replay, code).status_code == 422  # the code works once
    assert replay.get("/my/bill").status_code == 302
    client.post("/my/signout", data={"csrf_token": csrf_token(client.get("/my/bill").text)})
    token = csrf_token(client.get("/pay").text)
    again = client.post("/pay/found", data={"csrf_token": token, "code": code})
    assert again.status_code == 303 and again.location.endswith("/pay")  # used: start again
    assert client.get("/my/bill").status_code == 302


def test_a_one_time_code_goes_only_to_the_address_on_file(zip_on, client, smtp, billed):
    by_zip(client, billed.number)
    page = client.get("/pay/found")
    data = {"csrf_token": csrf_token(page.text), "email": "attacker@example.net"}
    client.post("/pay/found/send", data=data)
    assert [envelope.rcpt_tos for envelope in smtp.handler.envelopes] == [[ON_FILE]]


def test_the_code_page_counts_its_wrong_codes_with_the_other_lookup_forms(throttled):
    app = throttled()
    app.config["QUICKPAY_ZIP_FALLBACK"] = True
    (billed,) = bill_households(app, "olson")
    client = app.test_client()
    assert by_zip(client, billed.number).status_code == 303  # a right lookup costs nothing
    for _ in range(3):
        assert enter_code(client, "AAAAA-AAAAA").status_code == 422
    for _ in range(2):
        assert quick_pay(app.test_client(), billed.number, "AAAAA-AAAAA").status_code == 422
    assert enter_code(client, billed.access_code).status_code == 429
    with app.app_context():
        db.session.remove()


@pytest.mark.parametrize(
    ("masked", "shown"),
    [
        (mask_name("John Smith"), "J*** S***"),
        (mask_name("Ana & Luis Ortega"), "A*** & L*** O***"),
        (mask_name("Olson, Maria"), "O***, M***"),
        (mask_street("123 Oak St"), "1** Oak St"),
        (mask_email("maria.olson@example.org"), "m***@e***.org"),
    ],
)
def test_a_summary_shows_only_first_letters_and_the_first_digit(masked, shown):
    assert masked == shown
