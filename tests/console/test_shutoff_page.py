"""The clerks' shutoff page and the words "service shut off": a clerk issues the day's orders,
enters a crew's result (a result for an order never issued is refused with the reason), the
crew's list comes as PDF; the account page and the resident's bill page say the service is off
while it is."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from accounts.models import Account
from accounts.services import derive_access_code
from billing.models import OrderState, ShutoffOrder
from core.audit import Actor
from core.extensions import db
from notices.shutoff_field import hang_door_hangers
from payments.counter import open_drawer
from payments.models import Channel, Payment
from tests.billing.billing_fixtures import KEY
from tests.conftest import csrf_token, sign_in
from tests.notices.field_fixtures import HANG_DAY, JOB, one, pdf_text
from tests.portal.conftest import quick_pay


def test_a_clerk_issues_the_days_orders_and_enters_a_result(app, client, make_staff, tmp_path):
    account_id = one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        number = db.session.get(Account, account_id).number
    sign_in(client, make_staff("clerk"))
    page = client.get("/staff/shutoff/?on=2027-01-07")
    assert page.status_code == 200 and "No shutoff orders for this day." in page.text
    token = csrf_token(page.text)
    issued = client.post("/staff/shutoff/issue?on=2027-01-07", data={"csrf_token": token})
    assert issued.status_code == 303
    page = client.get("/staff/shutoff/?on=2027-01-07")
    assert "SO-2027-000001" in page.text and "1 Oak St" in page.text
    pdf = client.get("/staff/shutoff/orders.pdf?on=2027-01-07")
    assert "SO-2027-000001" in pdf_text(pdf.data, tmp_path)
    never = client.post(
        "/staff/shutoff/orders/SO-2027-000050/result?on=2027-01-07",
        data={"csrf_token": token, "result": "shut_off", "time": "09:30"},
    )
    assert never.status_code == 422
    assert "order SO-2027-000050: no such shutoff order was issued" in never.text
    done = client.post(
        "/staff/shutoff/orders/SO-2027-000001/result?on=2027-01-07",
        data={"csrf_token": token, "result": "shut_off", "time": "09:30", "meter_reading": "18400"},
    )
    assert done.status_code == 303, done.text
    with app.app_context():
        order = db.session.scalar(sa.select(ShutoffOrder))
        assert order.state is OrderState.SHUT_OFF and order.meter_reading == 18400
    account_page = client.get(f"/staff/accounts/{number}")
    assert "service shut off since 2027-01-07 09:30 (order SO-2027-000001" in account_page.text


def test_the_residents_bill_page_says_the_service_is_shut_off(app, client):
    account_id = one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        from notices.shutoff_field import issue_work_orders
        from notices.shutoff_field_results import SHUT_OFF, Result, enter_result
        from tests.notices.field_fixtures import WORK_DAY, at

        issue_work_orders(db.session, app.config, JOB, as_of=WORK_DAY)
        order = db.session.scalar(sa.select(ShutoffOrder))
        enter_result(db.session, app.config, JOB, order, Result(SHUT_OFF, at(WORK_DAY, 9)))
        db.session.commit()
        account = db.session.get(Account, account_id)
        number, code = account.number, derive_access_code(KEY, account.number, 1)
    answer = quick_pay(client, number, code)
    assert answer.status_code == 303, answer.text
    bill = client.get("/my/bill")
    assert "Your water service is shut off." in bill.text


def test_a_crews_sheet_uploaded_with_a_payment_at_the_door_goes_into_the_drawer(
    app, client, make_staff
):
    one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
    email = make_staff("clerk")
    sign_in(client, email)
    token = csrf_token(client.get("/staff/shutoff/?on=2027-01-07").text)
    client.post("/staff/shutoff/issue?on=2027-01-07", data={"csrf_token": token})
    with app.app_context():
        order = db.session.scalar(sa.select(ShutoffOrder))
        cents = order.amount_cents
        dollars = f"{cents // 100}.{cents % 100:02d}"
    rows = (
        "order,result,time,meter_reading,reason,note,amount,tender\n"
        f"SO-2027-000001,paid_at_door,2027-01-07T10:15,,,,{dollars},cash\n"
    )
    no_drawer = client.post(
        "/staff/shutoff/sheet?on=2027-01-07",
        data={"csrf_token": token, "sheet": (io.BytesIO(rows.encode()), "sheet.csv")},
        content_type="multipart/form-data",
    )
    assert no_drawer.status_code == 422 and "row 2: drawer:" in no_drawer.text
    with app.app_context():
        open_drawer(db.session, Actor("user", "x", email, "127.0.0.1"))
        db.session.commit()
    entered = client.post(
        "/staff/shutoff/sheet?on=2027-01-07",
        data={"csrf_token": token, "sheet": (io.BytesIO(rows.encode()), "sheet.csv")},
        content_type="multipart/form-data",
    )
    assert entered.status_code == 303, entered.text
    with app.app_context():
        order = db.session.scalar(sa.select(ShutoffOrder))
        payment = db.session.get(Payment, order.door_payment_id)
        assert order.state is OrderState.NOT_SHUT_OFF and payment.amount_cents == cents
        assert payment.channel is Channel.COUNTER


def test_the_shutoff_page_lists_the_days_door_hangers_with_pdf_and_csv(
    app, client, make_staff, tmp_path
):
    account_id = one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        db.session.commit()
        number = db.session.get(Account, account_id).number
    sign_in(client, make_staff("clerk"))
    page = client.get("/staff/shutoff/?on=2027-01-05")
    assert page.status_code == 200
    assert "Door hangers (1)" in page.text and number in page.text and "1 Oak St" in page.text
    assert "/staff/shutoff/hangers.pdf?on=2027-01-05" in page.text
    pdf = client.get("/staff/shutoff/hangers.pdf?on=2027-01-05")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data, tmp_path)
    assert "48-hour notice" in text and number in text
    listed = client.get("/staff/shutoff/hangers.csv?on=2027-01-05")
    assert listed.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(listed.get_data(as_text=True))))
    assert [(r["account"], r["shutoff_on"]) for r in rows] == [(number, "2027-01-07")]
    assert client.get("/staff/shutoff/hangers.xls?on=2027-01-05").status_code == 404
    empty = client.get("/staff/shutoff/?on=2027-01-06")
    assert "Door hangers (0)" in empty.text and "No door hangers this day." in empty.text
