"""The counter: a clerk opens a drawer, takes cash and a check against an account, prints the
receipt, and closes the drawer against what was counted."""

from __future__ import annotations

import sqlalchemy as sa

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from payments.models import CashDrawer, Payment, Receipt, Tender
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, form_token


def post(client, path: str, **data):
    page = client.get("/staff/counter/").text
    tokens = {"csrf_token": csrf_token(page)}
    if 'name="form_token"' in page:
        tokens["form_token"] = form_token(page)
    return client.post(path, data={**tokens, **data})


def test_a_clerk_takes_cash_and_a_check_prints_the_receipt_and_closes_the_drawer(app, signed_in):
    (billed,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    assert "Open my drawer" in clerk.get("/staff/counter/").text
    early = post(
        clerk, "/staff/counter/payments", account=billed.number, amount="5.00", tender="cash"
    )
    assert early.status_code == 409 and "Open your drawer first." in early.text
    assert post(clerk, "/staff/counter/open", opening_float="100.00").status_code == 303
    refused = post(
        clerk, "/staff/counter/payments", account=billed.number, amount="20.00", tender="check"
    )
    assert refused.status_code == 422 and "Enter the check or money order number." in refused.text
    unknown = post(
        clerk, "/staff/counter/payments", account="12345678", amount="1.00", tender="cash"
    )
    assert unknown.status_code == 422 and "No account has this number." in unknown.text
    cash = post(
        clerk, "/staff/counter/payments", account=billed.number, amount="50.00", tender="cash"
    )
    assert cash.status_code == 303
    rest = f"{(billed.owed_cents - 5000) // 100}.{(billed.owed_cents - 5000) % 100:02d}"
    check = post(
        clerk,
        "/staff/counter/payments",
        account=billed.number,
        amount=rest,
        tender="check",
        reference="1042",
    )
    assert check.status_code == 303
    with app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        assert invoice.status == InvoiceStatus.PAID
        cash_id = db.session.scalar(sa.select(Payment.id).where(Payment.tender == Tender.CASH))
    page = clerk.get("/staff/counter/").text
    assert "1042" in page and "$50.00" in page
    pdf = clerk.get(f"/staff/counter/receipts/{cash_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert clerk.get(f"/staff/counter/receipts/{cash_id}.pdf").data == pdf.data
    closed = post(
        clerk,
        "/staff/counter/close",
        counted_cash="149.00",
        counted_check=rest,
        counted_money_order="0",
    )
    assert closed.status_code == 303
    after = clerk.get("/staff/counter/").text
    assert "Drawer closed with differences: cash -$1.00" in after
    with app.app_context():
        drawer = db.session.scalar(sa.select(CashDrawer))
        assert drawer.close_out["difference_cents"] == {"cash": -100, "check": 0, "money_order": 0}


def test_an_auditor_sees_the_counter_but_takes_nothing(app, signed_in):
    auditor = signed_in("auditor")
    page = auditor.get("/staff/counter/").text
    assert "Open my drawer" not in page
    refused = auditor.post(
        "/staff/counter/open", data={"csrf_token": csrf_token(page), "opening_float": "0"}
    )
    assert refused.status_code == 403


def test_a_payment_form_sent_twice_takes_the_payment_once_and_answers_with_its_receipt(
    app, signed_in
):
    (billed,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    assert post(clerk, "/staff/counter/open", opening_float="0").status_code == 303
    page = clerk.get("/staff/counter/").text
    sent = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "account": billed.number,
        "amount": "50.00",
        "tender": "cash",
    }
    first = clerk.post("/staff/counter/payments", data=sent)
    assert first.status_code == 303
    with app.app_context():
        receipt = db.session.scalar(sa.select(Receipt.number))
    told = clerk.get("/staff/counter/").text
    assert f"Receipt {receipt}: $50.00 from account {billed.number}." in told
    # the submit was cut off and the clerk sends the same form again
    again = clerk.post("/staff/counter/payments", data=sent)
    assert again.status_code == 303 and again.location == first.location
    answer = clerk.get(again.location).text
    assert "This form was sent twice; the payment was taken once." in answer
    assert f"Receipt {receipt}: $50.00 from account {billed.number}." in answer
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1
    # a new showing of the form is a new payment
    fresh = clerk.get("/staff/counter/").text
    assert form_token(fresh) != sent["form_token"]
    second = clerk.post(
        "/staff/counter/payments",
        data={**sent, "csrf_token": csrf_token(fresh), "form_token": form_token(fresh)},
    )
    assert second.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 2


def test_a_refused_payment_form_keeps_its_token_and_a_form_without_one_takes_nothing(
    app, signed_in
):
    (billed,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    assert post(clerk, "/staff/counter/open", opening_float="0").status_code == 303
    page = clerk.get("/staff/counter/").text
    sent = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "account": billed.number,
        "tender": "cash",
    }
    refused = clerk.post("/staff/counter/payments", data={**sent, "amount": "fifty"})
    assert refused.status_code == 422
    corrected = clerk.post("/staff/counter/payments", data={**sent, "amount": "50.00"})
    assert corrected.status_code == 303
    stale = clerk.post(
        "/staff/counter/payments", data={**sent, "form_token": "", "amount": "50.00"}
    )
    assert stale.status_code == 422
    assert "This form is out of date: check it and take the payment again." in stale.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
