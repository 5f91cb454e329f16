"""An amount is plain figures of a sane length, read in bounded time: exponents, infinities,
foreign digits and megabytes of digits are refused as a typing mistake, never a stalled
worker or a 500, on every form and file that takes money."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from accounts.imports import ImportFailed, import_csv
from console.models import ApprovalRequest
from core.audit import Actor
from core.extensions import db
from core.money import MAX_CENTS, MoneyError, format_cents, parse_dollars, plain_decimal
from payments.models import Payment
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, form_token, sign_in
from tests.portal.conftest import quick_pay

#: What once made Decimal work for seconds (1e999997: 41 s) or overflow (1e999999: a 500).
HOSTILE = [
    "1e300000",
    "1e999997",
    "1e999999",
    "1E5",
    "Infinity",
    "-inf",
    "NaN",
    "sNaN",
    "1_000",
    "0x10",
    "١٢٣",  # Arabic-Indic digits
    "１２",  # full-width digits
    "9" * 41,
    "1" * 1_000_000,
    "12.34.56",
    "1,00",
    "$-5",
    "",
    " ",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:12] or "empty")
def test_no_amount_but_plain_figures_is_taken(text):
    with pytest.raises(MoneyError):
        parse_dollars(text)
    with pytest.raises(MoneyError):
        plain_decimal(text)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1,234.56", 123456), ("$12", 1200), ("-$0.05", -5), (".25", 25), ("0", 0)],
)
def test_plain_amounts_are_read_as_written(text, cents):
    assert parse_dollars(text) == cents


def test_an_amount_beyond_any_towns_money_is_refused():
    assert parse_dollars(format_cents(MAX_CENTS)) == MAX_CENTS
    with pytest.raises(MoneyError, match="more than"):
        parse_dollars(format_cents(MAX_CENTS + 1))


@given(st.integers(-MAX_CENTS, MAX_CENTS))
def test_every_amount_the_app_writes_it_reads_back(cents):
    assert parse_dollars(format_cents(cents)) == cents


def test_hostile_amounts_on_the_residents_pay_form_are_a_message_not_a_500(app, client):
    (billed,) = bill_households(app, "tarrant")
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    for text in ("1e999999", "1e300000", "1" * 100_000):
        page = client.get("/my/bill")
        answer = client.post(
            "/my/pay",
            data={"csrf_token": csrf_token(page.text), "choice": "other", "amount": text},
        )
        assert answer.status_code == 422, text[:12]
        assert "Enter the amount in dollars and cents" in answer.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_hostile_amounts_at_the_counter_and_in_approvals_change_nothing(app, make_staff):
    (billed,) = bill_households(app, "ogden")
    clerk = app.test_client()
    sign_in(clerk, make_staff("clerk"))
    token = csrf_token(clerk.get("/staff/counter/").text)
    opened = clerk.post("/staff/counter/open", data={"csrf_token": token, "opening_float": "0"})
    assert opened.status_code == 303
    for text in ("1e999999", "1" * 100_000, "NaN"):
        page = clerk.get("/staff/counter/").text
        answer = clerk.post(
            "/staff/counter/payments",
            data={
                "csrf_token": csrf_token(page),
                "form_token": form_token(page),
                "account": billed.number,
                "amount": text,
                "tender": "cash",
            },
        )
        assert answer.status_code in (303, 422), (text[:12], answer.status_code)
        page = clerk.get(f"/staff/accounts/{billed.number}")
        asked = clerk.post(
            "/staff/approvals/",
            data={
                "csrf_token": csrf_token(page.text),
                "account": billed.number,
                "kind": "credit_memo",
                "target": "invoice:1",
                "amount": text,
                "reason": "meter misread",
            },
        )
        assert asked.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
        assert db.session.scalar(sa.select(ApprovalRequest)) is None


def test_a_hostile_dollars_cell_in_an_import_names_its_row_and_column(app):
    rows = "parcel_number,tax_year,market_value\n251-0001-00,2025,1e999999\n"
    with app.app_context(), pytest.raises(ImportFailed) as failed:
        import_csv(
            db.session,
            Actor.system("test"),
            "assessments",
            rows,
            code_key=app.config["ACCESS_CODE_KEY"],
        )
    assert any("row 2" in e and "market_value" in e for e in failed.value.errors)
