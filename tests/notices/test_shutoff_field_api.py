"""The field over the API, the CLI and the daily jobs: issuing the day's orders, a crew's result
and its refusals as 422 with the reason, the reconnection orders; `munibill shutoff
door-hangers`, `orders`, `result` and `sheet`; the jobs count and do nothing twice."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from accounts.models import Account
from billing.models import DoorHanger, OrderState, ShutoffOrder
from core.extensions import db
from core.jobs import JobContext
from notices.jobs import issue_shutoff_orders, leave_door_hangers
from scheduler import SCHEDULE
from tests.notices.field_fixtures import HANG_DAY, JOB, WORK_DAY, one, pdf_text


def test_the_api_issues_the_days_orders_and_takes_a_crews_result(app, client, api_headers):
    one(app)
    with app.app_context():
        leave_door_hangers(db.session, JobContext(HANG_DAY, False, JOB, app.config))
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    saturday = client.post("/api/v1/shutoff-orders/issue", json={"on": "2027-01-09"}, headers=clerk)
    assert saturday.status_code == 422
    assert "no shutoffs on 2027-01-09: Saturday" in str(saturday.get_json())
    denied = client.post("/api/v1/shutoff-orders/issue", json={"on": "2027-01-07"}, headers=auditor)
    assert denied.status_code == 403
    issued = client.post("/api/v1/shutoff-orders/issue", json={"on": "2027-01-07"}, headers=clerk)
    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["issued"] == 1
    listed = client.get("/api/v1/shutoff-orders?on=2027-01-07", headers=auditor).get_json()
    assert [o["number"] for o in listed] == ["SO-2027-000001"]
    never = client.post(
        "/api/v1/shutoff-orders/SO-2027-000042/result",
        json={"result": "shut_off", "at": "2027-01-07T09:30:00-06:00"},
        headers=clerk,
    )
    assert never.status_code == 422
    assert "no such shutoff order was issued" in str(never.get_json())
    done = client.post(
        "/api/v1/shutoff-orders/SO-2027-000001/result",
        json={"result": "shut_off", "at": "2027-01-07T09:30:00-06:00", "meter_reading": 18400},
        headers=clerk,
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "shut_off"
    twice = client.post(
        "/api/v1/shutoff-orders/SO-2027-000001/result",
        json={"result": "not_shut_off", "at": "2027-01-07T10:00:00-06:00", "reason": "dog"},
        headers=clerk,
    )
    assert twice.status_code == 422 and "already entered" in str(twice.get_json())
    assert client.get("/api/v1/reconnection-orders", headers=auditor).get_json() == []


def test_the_jobs_hang_and_issue_once_and_stand_in_the_schedule(app):
    one(app)
    with app.app_context():
        names = {entry.name for entry in SCHEDULE}
        assert {"leave_door_hangers", "issue_shutoff_orders"} <= names
        dry = leave_door_hangers(db.session, JobContext(HANG_DAY, True, JOB, app.config))
        assert dry["hung"] == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DoorHanger)) == 0
        first = leave_door_hangers(db.session, JobContext(HANG_DAY, False, JOB, app.config))
        again = leave_door_hangers(db.session, JobContext(HANG_DAY, False, JOB, app.config))
        assert (first["hung"], again["hung"]) == (1, 0)
        weekend = issue_shutoff_orders(
            db.session, JobContext(date(2027, 1, 9), False, JOB, app.config)
        )
        assert weekend["no_shutoff_day"] == 1 and weekend["issued"] == 0
        issued = issue_shutoff_orders(db.session, JobContext(WORK_DAY, False, JOB, app.config))
        assert issued["issued"] == 1
        again = issue_shutoff_orders(db.session, JobContext(WORK_DAY, False, JOB, app.config))
        assert again["issued"] == 0


def test_the_cli_prints_the_lists_and_enters_results(app, runner, tmp_path):
    one(app)
    hangers = runner.invoke(
        args=["shutoff", "door-hangers", "--on", "2027-01-05", "--pdf", str(tmp_path / "h.pdf")]
    )
    assert hangers.exit_code == 0, hangers.output
    assert '"hung": 1' in hangers.output and '"texted": 0, "emailed": 0' in hangers.output
    assert "48-hour notice" in pdf_text((tmp_path / "h.pdf").read_bytes(), tmp_path, "h2.pdf")
    orders = runner.invoke(
        args=[
            "shutoff",
            "orders",
            "--on",
            "2027-01-07",
            "--issue",
            "--csv",
            str(tmp_path / "o.csv"),
        ]
    )
    assert orders.exit_code == 0, orders.output
    assert "SO-2027-000001" in (tmp_path / "o.csv").read_text()
    refused = runner.invoke(args=["shutoff", "result", "SO-2027-000009", "shut_off"])
    assert refused.exit_code != 0 and "no such shutoff order was issued" in refused.output
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "order,result,time,meter_reading,reason,note\n"
        "SO-2027-000001,not_shut_off,2027-01-07T11:00,,other,customer on oxygen at home\n"
    )
    entered = runner.invoke(args=["shutoff", "sheet", str(sheet)])
    assert entered.exit_code == 0, entered.output
    with app.app_context():
        order = db.session.scalar(sa.select(ShutoffOrder))
        assert order.state is OrderState.NOT_SHUT_OFF and "oxygen" in order.note


def test_the_api_lists_and_hangs_the_days_door_hangers(app, client, api_headers):
    one(app)
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    denied = client.post("/api/v1/door-hangers/hang", json={"on": "2027-01-05"}, headers=auditor)
    assert denied.status_code == 403
    assert client.get("/api/v1/door-hangers?on=2027-01-05", headers=auditor).get_json() == []
    hung = client.post("/api/v1/door-hangers/hang", json={"on": "2027-01-05"}, headers=clerk)
    assert hung.status_code == 200, hung.get_json()
    assert hung.get_json() | {"reasons": []} == {
        "hung": 1,
        "excluded": 0,
        "already": 0,
        "texted": 0,
        "emailed": 0,
        "reasons": [],
    }
    again = client.post("/api/v1/door-hangers/hang", json={"on": "2027-01-05"}, headers=clerk)
    assert again.get_json()["hung"] == 0
    (listed,) = client.get("/api/v1/door-hangers?on=2027-01-05", headers=auditor).get_json()
    with app.app_context():
        hanger = db.session.scalar(sa.select(DoorHanger))
        assert listed == {
            "account": hanger_account(hanger),
            "hung_on": "2027-01-05",
            "shutoff_on": hanger.shutoff_on.isoformat(),
            "amount_cents": hanger.amount_cents,
            "route": hanger.route,
            "service_address": hanger.service_address,
            "language": "en",
            "notice_id": None,
        }
    bad = client.get("/api/v1/door-hangers?on=someday", headers=auditor)
    assert bad.status_code == 422


def test_the_api_shows_each_orders_attempt(app, client, api_headers):
    one(app)
    with app.app_context():
        leave_door_hangers(db.session, JobContext(HANG_DAY, False, JOB, app.config))
    clerk = api_headers("clerk")
    client.post("/api/v1/shutoff-orders/issue", json={"on": "2027-01-07"}, headers=clerk)
    client.post(
        "/api/v1/shutoff-orders/SO-2027-000001/result",
        json={"result": "not_shut_off", "at": "2027-01-07T10:00:00-06:00", "reason": "no_access"},
        headers=clerk,
    )
    issued = client.post("/api/v1/shutoff-orders/issue", json={"on": "2027-01-08"}, headers=clerk)
    assert issued.get_json()["issued"] == 1
    (second,) = client.get("/api/v1/shutoff-orders?on=2027-01-08", headers=clerk).get_json()
    assert (second["number"], second["attempt"]) == ("SO-2027-000002", 2)


def hanger_account(hanger: DoorHanger) -> str:
    return db.session.get(Account, hanger.account_id).number
