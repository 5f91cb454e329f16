"""Billing cycles: calendars, runs that bill one cycle's period, and no day billed twice."""

from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.billed_periods import decide
from billing.computed import BilledPeriod
from billing.cycle_calendar import CalendarError, PeriodDates, generate_calendar, period_months
from billing.cycles import add_periods, assign_accounts, create_cycle, default_cycle
from billing.models import BillingRun, CyclePeriod, Invoice, InvoiceKind, InvoiceLine
from billing.runs import RunOptions, open_run, post_run, preview_run
from core.extensions import db
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import (
    CLERK,
    billed_days,
    period_of,
    post_period,
    standard_cycle,
    trash_household,
)


def test_a_quarterly_calendar_has_four_periods_read_billed_and_due_in_order():
    periods = generate_calendar(
        "quarterly",
        first_start=date(2027, 1, 1),
        until=date(2027, 12, 31),
        read_days_after_end=-2,
        bill_days_after_read=5,
        due_days_after_bill=20,
    )
    assert [(p.period_start, p.period_end) for p in periods] == [
        (date(2027, 1, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), date(2027, 9, 30)),
        (date(2027, 10, 1), date(2027, 12, 31)),
    ]
    first = periods[0]
    assert (first.read_date, first.bill_date, first.due_date) == (
        date(2027, 3, 29),
        date(2027, 4, 3),
        date(2027, 4, 23),
    )
    assert [p.months for p in periods] == [3, 3, 3, 3]


def test_a_route_read_mid_month_bills_from_the_15th_to_the_14th():
    periods = generate_calendar("monthly", first_start=date(2027, 1, 15), until=date(2027, 3, 31))
    assert [(p.period_start, p.period_end) for p in periods] == [
        (date(2027, 1, 15), date(2027, 2, 14)),
        (date(2027, 2, 15), date(2027, 3, 14)),
        (date(2027, 3, 15), date(2027, 4, 14)),
    ]


def test_a_custom_period_counts_its_whole_months():
    assert period_months(date(2027, 1, 1), date(2027, 4, 30)) == 4
    assert period_months(date(2027, 1, 1), date(2027, 1, 10)) == 1
    assert period_months(date(2027, 1, 10), date(2027, 3, 11)) == 2


def test_periods_that_overlap_are_refused_naming_both(session):
    cycle = create_cycle(session, CLERK, code="R1", name="Route 1", frequency="custom")
    periods = [
        PeriodDates(
            date(2027, 1, 1),
            date(2027, 2, 28),
            date(2027, 2, 28),
            date(2027, 3, 1),
            date(2027, 3, 22),
        ),
        PeriodDates(
            date(2027, 2, 15),
            date(2027, 4, 30),
            date(2027, 4, 30),
            date(2027, 5, 1),
            date(2027, 5, 22),
        ),
    ]
    with pytest.raises(
        CalendarError, match=r"row 3: the period 2027-02-15\.\.2027-04-30 overlaps row 2"
    ):
        add_periods(session, CLERK, cycle, periods, ["row 2", "row 3"])
    add_periods(session, CLERK, cycle, periods[:1])
    with pytest.raises(CalendarError, match="overlaps stored period 2027-01-01..2027-02-28"):
        add_periods(session, CLERK, cycle, periods[1:], ["row 7"])


def test_a_cycle_code_is_new_and_well_formed(session):
    with pytest.raises(CalendarError, match="code: 'route 1' is not a cycle code"):
        create_cycle(session, CLERK, code="route 1", name="Route 1", frequency="monthly")
    with pytest.raises(CalendarError, match="code: billing cycle MONTHLY already exists"):
        create_cycle(session, CLERK, code="monthly", name="Again", frequency="monthly")
    with pytest.raises(CalendarError, match="frequency: must be one of"):
        create_cycle(session, CLERK, code="R2", name="Route 2", frequency="weekly")


def test_a_run_bills_only_its_cycles_accounts_and_a_quarter_charges_three_months(session):
    trash = load_rules(session)["trash"]
    quarterly = standard_cycle(session, "Q1", "quarterly", date(2026, 10, 1), date(2026, 12, 31))
    on_quarter = trash_household(session, trash, "quarter", quarterly)
    on_default = trash_household(session, trash, "monthly")
    report = post_period(session, period_of(session, quarterly, date(2026, 10, 1)))
    assert (report["items"], report["invoices"]) == (1, 1)
    assert billed_days(session, on_quarter.id) == [(date(2026, 10, 1), date(2026, 12, 31), 5475)]
    assert billed_days(session, on_default.id) == []
    line = session.scalar(sa.select(InvoiceLine))
    # NOTE: a monthly-priced cart on a quarterly cycle: three months' charge, once a quarter.
    assert line.amount_cents == 3 * 1825


def test_a_month_named_run_is_the_default_cycles_month_and_keeps_working(session):
    trash = load_rules(session)["trash"]
    account = trash_household(session, trash, "olson")
    run = open_run(
        session,
        CLERK,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    assert run.cycle == "2026-10" and run.billing_cycle_id == default_cycle(session).id
    assert (run.period_start, run.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    post_run(session, run, CLERK, RunOptions())
    assert billed_days(session, account.id) == [(date(2026, 10, 1), date(2026, 10, 31), 1825)]
    assert session.get(Account, account.id).billing_cycle_id is None  # on the default cycle


def test_an_account_moved_mid_quarter_is_billed_the_remaining_days_only(session):
    trash = load_rules(session)["trash"]
    account = trash_household(session, trash, "mover")
    monthly = default_cycle(session)
    october = open_run(
        session,
        CLERK,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, october, CLERK, RunOptions())
    quarterly = standard_cycle(session, "Q4", "quarterly", date(2026, 10, 1), date(2026, 12, 31))
    assign_accounts(session, CLERK, quarterly, [account.number])
    session.commit()
    report = post_period(session, period_of(session, quarterly, date(2026, 10, 1)))
    assert report["partial_periods"] == 1
    # NOTE: what the partial quarter costs is the rating engine's proration; here, its days.
    assert [days[:2] for days in billed_days(session, account.id)] == [
        (date(2026, 10, 1), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 12, 31)),
    ]
    # Back on the monthly cycle: November and December are billed already, and said so.
    assign_accounts(session, CLERK, monthly, [account.number])
    session.commit()
    november = open_run(
        session,
        CLERK,
        kind=InvoiceKind.UTILITY,
        cycle="2026-11",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 22),
    )
    assert preview_run(session, november, RunOptions())["already_billed"] == 1
    report = post_run(session, november, CLERK, RunOptions())
    assert (report["invoices"], report["already_billed"]) == (0, 1)
    assert len(billed_days(session, account.id)) == 2


def test_an_account_behind_its_new_cycle_is_caught_up_and_named(session):
    trash = load_rules(session)["trash"]
    account = trash_household(session, trash, "late")
    september = open_run(
        session,
        CLERK,
        kind=InvoiceKind.UTILITY,
        cycle="2026-09",
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 22),
    )
    post_run(session, september, CLERK, RunOptions())
    bimonthly = standard_cycle(session, "B1", "bimonthly", date(2026, 11, 1), date(2026, 12, 31))
    assign_accounts(session, CLERK, bimonthly, [account.number])
    session.commit()
    report = post_period(session, period_of(session, bimonthly, date(2026, 11, 1)))
    assert report["exception_counts"] == {"catch_up": 1}
    assert (
        "billed from 2026-10-01: last billed through 2026-09-30" in report["exceptions"][0]["note"]
    )
    days = billed_days(session, account.id)
    assert [d[:2] for d in days] == [
        (date(2026, 9, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 12, 31)),
    ]


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, (date(2027, 1, 1), date(2027, 3, 31), "")),
        (date(2027, 3, 31), None),
        (date(2027, 4, 30), None),
        (date(2027, 1, 31), (date(2027, 2, 1), date(2027, 3, 31), "")),
        (date(2026, 11, 30), (date(2026, 12, 1), date(2027, 3, 31), "catch_up")),
    ],
)
def test_the_days_a_run_bills_follow_the_last_billed_day(last, expected):
    decision = decide(last, date(2027, 1, 1), date(2027, 3, 31), 3)
    if expected is None:
        assert decision.period is None and decision.note == "already_billed"
    else:
        start, end, note = expected
        assert decision.period == BilledPeriod(start, end, date(2027, 1, 1), date(2027, 3, 31), 3)
        assert decision.note == note


def test_an_account_more_than_a_year_behind_is_held_for_a_clerk():
    decision = decide(date(2025, 6, 30), date(2027, 1, 1), date(2027, 3, 31), 3)
    assert decision.period is None and decision.note == "billing_gap"


def test_each_cycles_period_is_its_own_run_and_old_runs_keep_their_name(session):
    trash = load_rules(session)["trash"]
    route = standard_cycle(session, "R15", "monthly", date(2026, 10, 15), date(2026, 11, 30))
    trash_household(session, trash, "a", route)
    post_period(session, period_of(session, route, date(2026, 10, 15)))
    post_period(session, period_of(session, route, date(2026, 11, 15)))
    labels = session.scalars(sa.select(BillingRun.cycle).order_by(BillingRun.id)).all()
    assert labels == [f"C{route.id}-20261015", f"C{route.id}-20261115"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 2


def test_the_scheduled_job_bills_every_cycle_whose_bill_date_has_come_and_only_those(app, runner):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        route = standard_cycle(db.session, "R15", "monthly", date(2026, 10, 15), date(2026, 12, 31))
        quarterly = standard_cycle(
            db.session, "Q", "quarterly", date(2026, 10, 1), date(2026, 12, 31)
        )
        on_route = trash_household(db.session, trash, "route", route)
        on_quarter = trash_household(db.session, trash, "quarter", quarterly)
        on_default = trash_household(db.session, trash, "default")
        on_route, on_quarter, on_default = on_route.id, on_quarter.id, on_default.id
        db.session.commit()

    def job(day: str) -> str:
        result = runner.invoke(args=["jobs", "run", "utility_billing_run", "--as-of", day])
        assert result.exit_code == 0, result.output
        return result.output

    # November 15: the route's October 15 - November 14 period is billed today; the default
    # cycle's October was billed on November 1; the quarter waits for January 1.
    job("2026-11-16")
    with app.app_context():
        assert billed_days(db.session, on_route) == [(date(2026, 10, 15), date(2026, 11, 14), 1825)]
        assert billed_days(db.session, on_default) == [
            (date(2026, 10, 1), date(2026, 10, 31), 1825)
        ]
        assert billed_days(db.session, on_quarter) == []
        runs = db.session.scalar(sa.select(sa.func.count()).select_from(BillingRun))
    again = job("2026-11-16")
    assert "'invoices': 0" in again and "'already_posted': 2" in again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BillingRun)) == runs
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 2
    job("2027-01-02")
    with app.app_context():
        assert [d[:2] for d in billed_days(db.session, on_route)] == [
            (date(2026, 10, 15), date(2026, 11, 14)),
            (date(2026, 11, 15), date(2026, 12, 14)),
        ]
        assert billed_days(db.session, on_quarter) == [
            (date(2026, 10, 1), date(2026, 12, 31), 5475)
        ]
        # NOTE: the job did not run on December 1, so the default cycle's November was never
        # billed; December's bill catches up from the day after October.
        assert [d[:2] for d in billed_days(db.session, on_default)] == [
            (date(2026, 10, 1), date(2026, 10, 31)),
            (date(2026, 11, 1), date(2026, 12, 31)),
        ]


def test_a_month_posted_before_cycles_came_is_not_billed_again_by_the_job(app, runner):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        trash_household(db.session, trash, "old")
        run = open_run(
            db.session,
            CLERK,
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, CLERK, RunOptions())
        # As the migration left runs posted before cycles: on the default cycle, no period.
        period = db.session.get(CyclePeriod, run.cycle_period_id)
        run.cycle_period_id = None
        db.session.flush()
        db.session.delete(period)
        db.session.commit()
    result = runner.invoke(args=["jobs", "run", "utility_billing_run", "--as-of", "2026-11-05"])
    assert result.exit_code == 0 and "'invoices': 0" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1
        linked = db.session.scalar(sa.select(BillingRun))
        assert linked.cycle == "2026-10" and linked.cycle_period_id is not None
