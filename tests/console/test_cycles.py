"""The console's billing cycles, the wizard's cycles due this week, and service kinds."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import sqlalchemy as sa
import time_machine

from billing.models import BillingCycle, BillingRun, CyclePeriod
from core.extensions import db
from ledger.models import ServiceKind
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import standard_cycle, trash_household
from tests.conftest import csrf_token


def test_a_clerk_creates_a_cycle_generates_its_calendar_and_moves_accounts(app, signed_in):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        number = trash_household(db.session, trash, "console").number
        db.session.commit()
    clerk = signed_in("clerk")
    page = clerk.get("/staff/billing-cycles/").text
    assert "MONTHLY" in page and "the default cycle" in page
    token = csrf_token(page)
    bad = clerk.post(
        "/staff/billing-cycles/",
        data={
            "csrf_token": token,
            "code": "north route",
            "name": "North",
            "frequency": "quarterly",
        },
    )
    assert bad.status_code == 422 and "is not a cycle code" in bad.text
    made = clerk.post(
        "/staff/billing-cycles/",
        data={"csrf_token": token, "code": "NORTH", "name": "North", "frequency": "quarterly"},
    )
    assert made.status_code == 303
    calendar = clerk.post(
        "/staff/billing-cycles/calendar",
        data={"csrf_token": token, "cycle": "NORTH", "first_start": "2027-01-01"},
    )
    assert calendar.status_code == 303
    again = clerk.post(
        "/staff/billing-cycles/calendar",
        data={"csrf_token": token, "cycle": "NORTH", "first_start": "2027-02-01"},
    )
    assert (
        again.status_code == 422 and "overlaps stored period 2027-01-01..2027-03-31" in again.text
    )
    moved = clerk.post(
        "/staff/billing-cycles/accounts",
        data={"csrf_token": token, "cycle": "NORTH", "accounts": f"{number}\n99999997"},
    )
    assert moved.status_code == 422 and "no account 99999997" in moved.text
    moved = clerk.post(
        "/staff/billing-cycles/accounts",
        data={"csrf_token": token, "cycle": "NORTH", "accounts": number},
    )
    assert moved.status_code == 303
    page = clerk.get("/staff/billing-cycles/").text
    assert "2027-10-01 – 2027-12-31" in page and "1 accounts moved to NORTH" in page
    upload = clerk.post(
        "/staff/billing-cycles/imports/calendars",
        data={
            "csrf_token": token,
            "file": (
                io.BytesIO(
                    b"cycle,name,frequency,period_start,period_end,read_date,bill_date,due_date\n"
                    b"R2,Route 2,custom,2027-01-01,2027-01-10,2027-01-12,2027-01-11,2027-02-01\n"
                ),
                "calendar.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 422
    assert "row 2: bill_date 2027-01-11 is before the read date 2027-01-12" in upload.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CyclePeriod)) == 4
        assert (
            db.session.scalar(sa.select(BillingCycle.id).where(BillingCycle.code == "R2")) is None
        )


def test_the_wizard_shows_the_cycles_due_this_week_and_previews_one(app, signed_in):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        route = standard_cycle(db.session, "R15", "monthly", date(2026, 10, 15), date(2026, 12, 31))
        standard_cycle(db.session, "R28", "monthly", date(2026, 10, 28), date(2026, 12, 31))
        trash_household(db.session, trash, "due", route)
        db.session.commit()
    # Wednesday, November 18, 2026: R15's Oct 15 - Nov 14 period was billable on Nov 15;
    # R28's first is billed on Nov 28, after this week.
    with time_machine.travel(datetime(2026, 11, 18, 15, 0, tzinfo=UTC), tick=False):
        clerk = signed_in("clerk")
        page = clerk.get("/staff/billing-runs/").text
        assert "Due to bill this week" in page
        assert "Preview R15" in page and "2026-10-15 – 2026-11-14" in page
        assert "Preview R28" not in page
        with app.app_context():
            period = db.session.scalar(
                sa.select(CyclePeriod).where(CyclePeriod.period_start == date(2026, 10, 15))
            )
            period_id = period.id
        previewed = clerk.post(
            "/staff/billing-runs/",
            data={
                "csrf_token": csrf_token(page),
                "kind": "utility",
                "period_id": str(period_id),
                "issue_date": "",
                "due_date": "",
            },
        )
        assert previewed.status_code == 303, previewed.text
    with app.app_context():
        run = db.session.scalar(sa.select(BillingRun))
        assert (run.period_start, run.period_end) == (date(2026, 10, 15), date(2026, 11, 14))
        # Issued today (the bill date has passed); due 21 days after the bill date.
        assert (run.issue_date, run.due_date) == (date(2026, 11, 18), date(2026, 12, 6))
        assert run.report["invoices"] == 1


def test_a_supervisor_adds_a_service_kind_and_a_clerk_cannot(app, signed_in):
    clerk = signed_in("clerk")
    page = clerk.get("/staff/service-kinds/").text
    assert "stormwater" in page and "Add a service" not in page
    supervisor = signed_in("supervisor")
    page = supervisor.get("/staff/service-kinds/").text
    token = csrf_token(page)
    wrong = supervisor.post(
        "/staff/service-kinds/",
        data={"csrf_token": token, "code": "fire_line", "name": "Fire line", "revenue_gl": "2000"},
    )
    assert wrong.status_code == 422 and "is not an active revenue account" in wrong.text
    added = supervisor.post(
        "/staff/service-kinds/",
        data={"csrf_token": token, "code": "fire_line", "name": "Fire line", "metered": "yes"},
    )
    assert added.status_code == 303
    assert "Service fire_line added" in supervisor.get("/staff/service-kinds/").text
    with app.app_context():
        assert db.session.get(ServiceKind, "fire_line").metered is True
