"""Quick pay: a resident finds a bill with the number and code on the notice, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

NO_MATCH = "Those details do not match our records"


def test_the_right_code_opens_the_bill_of_that_account_only(client, households):
    olson, nguyen = households
    response = quick_pay(client, olson.number, olson.access_code)
    assert response.status_code == 303 and response.location.endswith("/my/bill")
    page = client.get("/my/bill").text
    assert olson.number in page and olson.invoice_number in page
    assert nguyen.number not in page and nguyen.invoice_number not in page


def test_codes_are_read_as_people_type_them(client, billed):
    typed = billed.access_code.lower().replace("-", " ").replace("0", "o")
    assert quick_pay(client, f" {billed.number[:4]}-{billed.number[4:]} ", typed).status_code == 303


@pytest.mark.parametrize("which", ["wrong code", "unknown account", "other account's code"])
def test_a_failed_lookup_never_says_whether_the_account_exists(client, households, which):
    olson, nguyen = households
    number, code = {
        "wrong code": (olson.number, "AAAAA-AAAAA"),
        "unknown account": ("99999997", "AAAAA-AAAAA"),
        "other account's code": (olson.number, nguyen.access_code),
    }[which]
    response = quick_pay(client, number, code)
    assert response.status_code == 422
    assert NO_MATCH in response.text
    assert "Maria" not in response.text and "olson" not in response.text.lower()
    assert client.get("/my/bill").status_code == 302  # no session


def test_empty_fields_are_named(client, billed):
    response = quick_pay(client, "", "")
    assert response.status_code == 422
    assert "Enter the account number from your bill." in response.text
    assert "Enter the access code from your bill." in response.text
    assert 'aria-invalid="true"' in response.text


def test_zip_code_and_last_name_find_a_summary_where_switched_on(app, client, billed):
    app.config["QUICKPAY_ZIP_FALLBACK"] = True
    page = client.get("/pay")
    data = {
        "csrf_token": csrf_token(page.text),
        "method": "zip",
        "account": billed.number,
        "zip_code": "54901",
        "last_name": "OLSON",
    }
    found = client.post("/pay", data=data)
    assert found.status_code == 303 and found.location.endswith("/pay/found")
    assert client.post("/pay", data=data | {"last_name": "Olsen"}).status_code == 422
    app.config["QUICKPAY_ZIP_FALLBACK"] = False
    page = client.get("/pay").text
    assert "ZIP code" not in page
    response = client.post("/pay", data=data)
    assert response.status_code == 422
    assert "Enter the access code from your bill." in response.text


def test_six_wrong_codes_lock_the_lookup_even_for_the_right_code(throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    client = app.test_client()
    for _ in range(5):
        assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
    refused = quick_pay(client, billed.number, "AAAAA-AAAAA")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert "Try again in 15 minutes" in refused.text
    assert quick_pay(client, billed.number, billed.access_code).status_code == 429


def test_the_limit_follows_the_account_to_another_address(throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    for n in range(5):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert quick_pay(fresh, billed.number, billed.access_code).status_code == 429


def test_a_right_lookup_costs_nothing(throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    client = app.test_client()
    for _ in range(8):
        assert quick_pay(client, billed.number, billed.access_code).status_code == 303


def test_app_servers_share_the_counts_through_redis(throttled):
    first = throttled("redis://127.0.0.1:6379/0")
    (billed,) = bill_households(first, "olson")
    for _ in range(5):
        assert quick_pay(first.test_client(), billed.number, "AAAAA-AAAAA").status_code == 422
    second = throttled("redis://127.0.0.1:6379/0")
    response = quick_pay(second.test_client(), billed.number, billed.access_code)
    assert response.status_code == 429


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(app, resident):
    cookie = resident.get_cookie("munibill_session").value
    other = app.test_client()
    other.set_cookie("munibill_session", cookie)
    assert other.get("/my/bill").status_code == 200
    page = resident.get("/my/bill").text
    resident.post("/my/signout", data={"csrf_token": csrf_token(page)})
    assert other.get("/my/bill").status_code == 302


def test_sessions_long_over_are_forgotten_by_the_nightly_job(app, client, billed, runner):
    import sqlalchemy as sa

    from core.extensions import db
    from portal.models import PortalSession

    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    with app.app_context():
        old = db.session.scalar(sa.select(PortalSession))
        old.last_seen_at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        db.session.commit()
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    result = runner.invoke(args=["jobs", "run", "purge_portal_sessions", "--as-of", "2026-11-26"])
    assert result.exit_code == 0 and "'deleted': 1" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PortalSession.id))) == 1
    assert client.get("/my/bill").status_code == 200  # the session in use is kept
