"""Hostile input to pages and forms outside the API: a NUL byte, digits that are not ASCII,
an integer of thousands of digits, a reason as long as a form allows. Each is a 400 or 422
that says what was wrong (or is read as the safe default), never a 500, and nothing the
person typed reaches the error log."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from core.extensions import db
from ledger.models import JournalEntry
from ledger.posting import MEMO_LENGTH
from ledger.verify import verify_chain
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, sign_in
from tests.portal.conftest import quick_pay


@pytest.fixture
def town(app):
    """One billed household."""
    return bill_households(app, "hostile")[0]


def test_a_nul_byte_in_a_page_address_or_query_is_a_400_naming_it(app, town, make_staff):
    resident = app.test_client()
    assert quick_pay(resident, town.number, town.access_code).status_code == 303
    assert resident.get(f"/my/bills/{town.invoice_number}%00.pdf").status_code == 400
    clerk = app.test_client()
    sign_in(clerk, make_staff("auditor"))
    for path in (
        "/staff/accounts/?q=ab%00cd",
        "/staff/jobs?job=%00",
        "/staff/books/audit?actor=x%00",
        "/staff/books/ledger?source=%00",
    ):
        answer = clerk.get(path)
        assert answer.status_code == 400, path
        assert "NUL character" in answer.text


def test_a_nul_byte_in_a_residents_question_is_refused_and_nothing_is_stored(app, town):
    from portal.models import Question

    resident = app.test_client()
    assert quick_pay(resident, town.number, town.access_code).status_code == 303
    path = f"/my/bills/{town.invoice_number}/question"
    form = {
        "csrf_token": csrf_token(resident.get(path).text),
        "kind": "question",
        "text": "Why is my bill\x00 so high?",
        "reply_to": "r@example.org",
    }
    answer = resident.post(path, data=form)
    assert answer.status_code == 400 and "(NUL, 0x00) in: text." in answer.text
    with app.app_context():
        assert db.session.scalar(sa.select(Question)) is None


def test_digits_that_are_not_ascii_are_read_as_no_number(app, town, make_staff):
    clerk = app.test_client()
    sign_in(clerk, make_staff("clerk"))
    assert clerk.get("/staff/books/ledger?page=²").status_code in (200, 403)
    assert clerk.get("/staff/books/ledger?page=٣").status_code in (200, 403)
    auditor = app.test_client()
    sign_in(auditor, make_staff("auditor"))
    assert auditor.get("/staff/books/ledger?page=²").status_code == 200
    page = clerk.get(f"/staff/accounts/{town.number}")
    asked = clerk.post(
        "/staff/approvals/",
        data={
            "csrf_token": csrf_token(page.text),
            "account": town.number,
            "kind": "void_invoice",
            "target": "invoice:²",
            "reason": "meter misread",
        },
    )
    assert asked.status_code == 303
    assert clerk.get("/staff/accounts/1000001²").status_code == 404


def test_an_integer_of_thousands_of_digits_in_json_is_refused(app, town, api_headers):
    client = app.test_client()
    clerk = api_headers("clerk")
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    body = '{"account_number": "' + town.number + '", "tender": "cash", "amount_cents": '
    body += "9" * 4301 + "}"
    answer = client.post(
        f"/api/v1/drawers/{drawer['id']}/payments",
        data=body,
        headers={**clerk, "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500


def test_a_reason_as_long_as_the_form_allows_fits_the_books(app, town, api_headers):
    client = app.test_client()
    answer = client.post(
        f"/api/v1/invoices/{town.invoice_number}/credit-memos",
        json={"amount_cents": 100, "reason": "r" * 500},
        headers=api_headers("supervisor"),
    )
    assert answer.status_code == 201, answer.get_json()
    with app.app_context():
        entry = db.session.scalar(
            sa.select(JournalEntry).where(JournalEntry.source_type == "credit_memo")
        )
        assert len(entry.memo) == MEMO_LENGTH and entry.memo.endswith("…")
        assert verify_chain(db.session).ok


def test_the_error_log_never_holds_what_was_typed(app, caplog):
    engine_options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert engine_options["hide_parameters"] is True
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError) as failed:
            db.session.execute(
                sa.text("SELECT CAST(:typed AS INTEGER) / 0 FROM no_such_table"),
                {"typed": "my secret reply-to address"},
            )
        db.session.rollback()
    assert "my secret reply-to address" not in str(failed.value)
    with caplog.at_level(logging.ERROR):
        app.logger.error("%s", failed.value)
    assert "my secret reply-to address" not in caplog.text
