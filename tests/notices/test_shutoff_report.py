"""The monthly report of shutoffs and reconnections, against the database: a small history made
through the real services (notices, an upheld appeal, a medical certificate, a payment plan,
door hangers, work orders and the crews' results, payments by webhook and reconnections, a
cancelled order) across December and January, with events on both sides of a month boundary in
the town's zone; every figure is the same on the CSV, the PDF, the public page and the API, and
none of them names a household."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from accounts.models import Account, Language
from billing.arrangements import PlanRequest, accept_plan, propose_plan
from billing.medical_certificates import record_certificate
from billing.models import NotDoneReason, OrderState, ReconnectionOrder, ShutoffOrder
from billing.position import account_position
from core.extensions import db
from notices.models import AppealChannel
from notices.shutoff_appeals import decide_appeal, file_appeal
from notices.shutoff_field import issue_work_orders
from notices.shutoff_field_results import NOT_SHUT_OFF, SHUT_OFF, Result, enter_result, reconnect
from notices.shutoff_report import (
    COLUMNS,
    FIGURES,
    Month,
    ReportError,
    month_range,
    report_csv,
    shutoff_report,
)
from notices.shutoff_report_pdf import report_pdf
from payments.models import Channel, Tender
from payments.services import record_payment
from tests.billing.plan_fixtures import add_rule
from tests.notices.field_fixtures import CLERK, FEE, JOB, WORK_DAY, at, hang_and_issue, noticed_town
from tests.payments.signing import deliver, intent_event

PEOPLE = ("ames", "baker", "cole", "diaz", "evans", "ford")
#: The report's "today": February 20, 2027.
TODAY = date(2027, 2, 20)
MONTHS = [Month(2026, 12), Month(2027, 1), Month(2027, 2)]
#: What the history below must give, month by month (every other figure is 0; hours: empty).
EXPECTED = {
    "2026-12": {
        "notices": 6,
        "appeals_filed": 1,
        "appeals_upheld": 1,
        "medical_certificates": 1,  # 20:00 on December 31 in the town: January 1 in UTC
    },
    "2027-01": {
        "door_hangers": 4,
        "orders_issued": 5,  # four first attempts, and baker's second after the dog
        "shut_off": 2,
        "not_shut_off_dog": 1,
        "orders_cancelled": 1,
        "reconnections_ordered": 2,  # one paid 22:00 January 31 in the town (February in UTC)
        "reconnected": 1,
        "median_hours_to_reconnect": "3.0",
        "longest_hours_to_reconnect": "3.0",
        "reconnected_same_day": 1,
        "accounts_under_plans": 1,
    },
    "2027-02": {
        "reconnected": 1,
        "median_hours_to_reconnect": "10.0",
        "longest_hours_to_reconnect": "10.0",
        "accounts_under_plans": 1,
    },
}


def _expected(month: str, name: str) -> str:
    default = "" if "hours" in name else 0
    return str(EXPECTED[month].get(name, default))


def _pay(client, account: Account, cents: int, moment) -> None:
    """A card payment settled by Stripe's webhook at a moment."""
    payment = record_payment(
        db.session,
        CLERK,
        account=account,
        amount_cents=cents,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    payment.stripe_payment_intent_id = f"pi_test_{payment.id}"
    db.session.commit()
    deliver(
        client,
        intent_event("payment_intent.succeeded", payment, created=int(moment.timestamp())),
    )


def _history(app, client, monkeypatch) -> dict[str, str]:
    """Six households noticed December 28, 2026; see EXPECTED for what follows."""
    ids = noticed_town(app, [(name, "1 Oak St", False, Language.EN) for name in PEOPLE])
    people = {name: db.session.get(Account, i) for name, i in zip(PEOPLE, ids, strict=True)}
    appeal = file_appeal(
        db.session,
        CLERK,
        people["diaz"],
        statement="The meter was misread.",
        channel=AppealChannel.PHONE,
        at=at(date(2026, 12, 29), 10),
        on=date(2026, 12, 29),
    )
    decide_appeal(
        db.session,
        CLERK,
        appeal,
        upheld=True,
        resident_reasons="The reading was wrong.",
        at=at(date(2026, 12, 30), 10),
        on=date(2026, 12, 30),
    )
    certificate = record_certificate(
        db.session,
        CLERK,
        people["diaz"],
        starts_on=date(2026, 12, 31),
        ends_on=date(2027, 3, 31),
        certified_by="Maple Falls Clinic",
    )
    certificate.created_at = at(date(2026, 12, 31), 20)
    add_rule(db.session)
    evans = people["evans"]
    owed = account_position(db.session, evans.id, date(2027, 1, 4)).owed_cents()
    plan = propose_plan(
        db.session,
        CLERK,
        evans,
        PlanRequest(("utility",), owed // 5, 3),
        as_of=date(2027, 1, 4),
        via="clerk",
    )
    accept_plan(
        db.session, CLERK, plan, how="counter", on=date(2027, 1, 4), at=at(date(2027, 1, 4), 9)
    )
    db.session.commit()
    orders = {o.account_id: o for o in hang_and_issue(app)}
    assert len(orders) == 4  # the upheld appeal and the plan kept two households off
    for name, result in (
        ("ames", Result(SHUT_OFF, at(WORK_DAY, 9, 30))),
        ("baker", Result(NOT_SHUT_OFF, at(WORK_DAY, 10), reason=NotDoneReason.DOG)),
        ("cole", Result(SHUT_OFF, at(WORK_DAY, 11))),
    ):
        enter_result(db.session, app.config, CLERK, orders[people[name].id], result)
    db.session.commit()
    for name, moment in (("cole", at(date(2027, 1, 8), 9)), ("ford", at(date(2027, 1, 8), 9, 30))):
        order = orders[people[name].id]
        extra = FEE if order.state is OrderState.SHUT_OFF else 0
        _pay(client, people[name], order.amount_cents + extra, moment)
    monkeypatch.setattr("notices.shutoff_field.utcnow", lambda: at(date(2027, 1, 11), 6, 45))
    issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 11))
    db.session.commit()
    assert db.session.get(ShutoffOrder, orders[people["ford"].id].id).state is OrderState.CANCELLED
    again = db.session.scalars(
        sa.select(ShutoffOrder.attempt).where(ShutoffOrder.account_id == people["baker"].id)
    ).all()
    assert sorted(again) == [1, 2]  # the crew could not reach the meter: a second attempt
    cole = db.session.scalar(
        sa.select(ReconnectionOrder).where(ReconnectionOrder.account_id == people["cole"].id)
    )
    reconnect(db.session, CLERK, cole.number, at=at(date(2027, 1, 8), 12))
    ames = orders[people["ames"].id]
    _pay(client, people["ames"], ames.amount_cents + FEE, at(date(2027, 1, 31), 22))
    reconnection = db.session.scalar(
        sa.select(ReconnectionOrder).where(ReconnectionOrder.account_id == people["ames"].id)
    )
    reconnect(db.session, CLERK, reconnection.number, at=at(date(2027, 2, 1), 8))
    db.session.commit()
    return {name: account.number for name, account in people.items()}


def _no_household_named(text: str, people: dict[str, str]) -> None:
    for name, number in people.items():
        assert name not in text.lower()
        assert number not in text
        assert "Oak St" not in text


def test_every_figure_of_the_csv_comes_from_the_history_by_the_towns_date(app, client, monkeypatch):
    with app.app_context():
        people = _history(app, client, monkeypatch)
        figures = shutoff_report(db.session, app.config, MONTHS, TODAY)
        text = report_csv(figures)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert tuple(rows[0]) == COLUMNS
        assert [row["month"] for row in rows] == ["2026-12", "2027-01", "2027-02"]
        for row in rows:
            for name, _en, _es in FIGURES:
                assert row[name] == _expected(row["month"], name), (row["month"], name)
        assert figures[1].median_hours == Decimal("3.0")
        _no_household_named(text, people)


def _pdf_lines(data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return [line.strip() for line in out.stdout.splitlines()]


def test_the_pdf_reads_back_with_the_same_figures(app, client, monkeypatch, tmp_path):
    with app.app_context():
        people = _history(app, client, monkeypatch)
        figures = shutoff_report(db.session, app.config, MONTHS, TODAY)
        lines = _pdf_lines(report_pdf(app.config, figures), tmp_path)
    assert any(line.split() == ["Figure", "2026-12", "2027-01", "2027-02"] for line in lines)
    for name, english, _es in FIGURES:
        (line,) = [line for line in lines if line.startswith(english + " ")]
        shown = [_expected(month, name) or "-" for month in EXPECTED]
        assert line[len(english) :].split() == shown, name
    _no_household_named("\n".join(lines), people)


def _page_rows(html: str) -> dict[str, list[str]]:
    rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', html, re.S)
    cells = {}
    for label, rest in rows:
        values = re.findall(r'<td class="num">(.*?)</td>', rest, re.S)
        cells[label] = ["" if "span" in value else value for value in values]
    return cells


def test_the_public_page_shows_the_last_twelve_months_in_english_and_spanish(
    app, client, monkeypatch
):
    with app.app_context():
        people = _history(app, client, monkeypatch)
    monkeypatch.setattr("portal.views_shutoff_report.town_today", lambda config: TODAY)
    english = client.get("/reports/shutoffs", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    html = english.get_data(as_text=True)
    assert "Water shutoffs and reconnections by month" in html
    assert "Shutoffs and reconnections, 2026-03 to 2027-02" in html
    rows = _page_rows(html)
    for name, label, _es in FIGURES:
        # The last three of the twelve columns are December, January and February.
        assert rows[label][-3:] == [_expected(month, name) for month in EXPECTED], name
        assert len(rows[label]) == 12
    _no_household_named(html, people)
    spanish = client.get("/reports/shutoffs", headers={"Accept-Language": "es"})
    rows = _page_rows(spanish.get_data(as_text=True))
    assert "Cortes y reconexiones de agua por mes" in spanish.get_data(as_text=True)
    assert rows["Servicios cortados"][-3:] == ["0", "2", "0"]


def test_a_range_reversed_or_in_the_future_is_refused_with_the_reason():
    with pytest.raises(ReportError, match="from: 2027-02 comes after to"):
        month_range(Month(2027, 2), Month(2027, 1), TODAY)
    with pytest.raises(
        ReportError, match=r"to: 2027-03 is in the future \(this month is 2027-02\)"
    ):
        month_range(Month(2027, 1), Month(2027, 3), TODAY)
    with pytest.raises(ReportError, match="from: '2027-13' is not a month"):
        Month.parse("2027-13", "from")
    assert month_range(Month(2026, 11), Month(2027, 2), TODAY)[1] == Month(2026, 12)


def test_the_api_and_the_cli_give_the_same_figures_and_refuse_a_bad_range(
    app, client, runner, monkeypatch, tmp_path, api_headers
):
    with app.app_context():
        _history(app, client, monkeypatch)
    auditor_headers = api_headers("auditor")
    monkeypatch.setattr("notices.api_shutoff_admin.town_today", lambda config: TODAY)
    monkeypatch.setattr("notices.shutoff_report_cli.town_today", lambda config: TODAY)
    query = "/api/v1/shutoff-report?from=2026-12&to=2027-02"
    answer = client.get(query, headers=auditor_headers)
    assert answer.status_code == 200
    months = answer.get_json()["months"]
    assert months[1]["shut_off"] == 2 and months[2]["median_hours_to_reconnect"] == "10.0"
    assert months[0]["median_hours_to_reconnect"] is None
    as_csv = client.get(query + "&format=csv", headers=auditor_headers).get_data(as_text=True)
    refused = client.get("/api/v1/shutoff-report?from=2027-02&to=2026-12", headers=auditor_headers)
    assert refused.status_code == 422
    assert "comes after" in refused.get_json()["errors"]["from"][0]
    future = client.get("/api/v1/shutoff-report?from=2027-01&to=2027-04", headers=auditor_headers)
    assert future.status_code == 422 and "in the future" in future.get_json()["errors"]["to"][0]
    out = tmp_path / "report.csv"
    pdf = tmp_path / "report.pdf"
    args = ["shutoff", "report", "--from", "2026-12", "--to", "2027-02"]
    result = runner.invoke(args=[*args, "--csv", str(out), "--pdf", str(pdf)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == as_csv
    assert pdf.read_bytes().startswith(b"%PDF")
    result = runner.invoke(args=["shutoff", "report", "--from", "2027-03", "--to", "2027-03"])
    assert result.exit_code != 0 and "in the future" in result.output
