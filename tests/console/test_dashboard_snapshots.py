"""The dashboard's kept figures: what the job keeps for a day is what the full computation from
every document says that day, and the page says when they were computed and what came since."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.penalty_service import assess_penalties
from console import dashboard_snapshots
from console.models import DashboardSnapshot
from core.extensions import db
from payments.counter import open_drawer, take_counter_payment
from payments.models import Channel, Payment, Tender
from payments.refunds import void_counter_payment
from tests.billing.billing_fixtures import bill_households
from tests.conftest import sign_in
from tests.console.test_dashboard import CLERK, JOB, account_of, pay

FIRST, LAST = date(2026, 10, 25), date(2027, 3, 31)


@pytest.fixture
def busy_town(app):
    """Three households billed November 2, due November 23: one paid online, one by mail, a
    counter payment voided the next day, late fees assessed through the winter."""
    town = bill_households(app, "olson", "nguyen", "garcia")
    with app.app_context():
        pay(town[0].number, 1_500, date(2026, 11, 20))
        pay(town[1].number, 2_000, date(2026, 11, 20), Channel.MAIL, Tender.CHECK)
        taken = take_counter_payment(
            db.session,
            CLERK,
            drawer=open_drawer(db.session, CLERK),
            account=account_of(town[2].number),
            amount_cents=1_000,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[],
            on=date(2026, 12, 7),
        )
        void_counter_payment(
            db.session,
            CLERK,
            db.session.get(Payment, taken.payment_id),
            reason="keyed on the wrong account",
            on=date(2026, 12, 8),
        )
        for day in (date(2026, 11, 24), date(2026, 12, 24), date(2027, 1, 24)):
            assess_penalties(db.session, JOB, as_of=day, rounding="half_up")
        db.session.commit()
    return town


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=st.dates(min_value=FIRST, max_value=LAST))
def test_the_kept_figures_are_the_full_computation_on_any_day(ctx, busy_town, day):
    dashboard_snapshots.refresh(db.session, day)
    db.session.commit()
    figures, staleness = dashboard_snapshots.stored(db.session, day)
    assert figures == dashboard_snapshots.compute(db.session, day)
    assert (staleness.posted_since, staleness.dated_by_as_of) == (0, 0)


def test_postings_after_the_figures_were_kept_are_counted_until_they_are_kept_again(ctx, busy_town):
    day = date(2026, 12, 10)
    dashboard_snapshots.refresh(db.session, day)
    db.session.commit()
    pay(busy_town[2].number, 700, date(2026, 12, 5))  # back-dated: before the kept day
    pay(busy_town[2].number, 300, date(2026, 12, 20))  # after it
    figures, staleness = dashboard_snapshots.stored(db.session, day)
    assert staleness.posted_since >= 2 and staleness.dated_by_as_of >= 1
    assert staleness.dated_by_as_of < staleness.posted_since
    assert figures != dashboard_snapshots.compute(db.session, day)

    dashboard_snapshots.refresh(db.session, day)
    db.session.commit()
    figures, staleness = dashboard_snapshots.stored(db.session, day)
    assert figures == dashboard_snapshots.compute(db.session, day)
    assert staleness.posted_since == 0
    assert db.session.query(DashboardSnapshot).count() == 1


def test_the_page_shows_kept_figures_with_when_they_were_computed(
    app, client, make_staff, busy_town, runner
):
    assert sign_in(client, make_staff("clerk")).status_code == 302
    live = client.get("/staff/dashboard?as_of=2026-12-30").text
    assert "computed now from every bill and payment" in live

    result = runner.invoke(args=["jobs", "run", "keep_dashboard_figures", "--as-of", "2026-12-30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        kept_days = set(db.session.scalars(db.select(DashboardSnapshot.as_of)))
    assert kept_days == {date(2026, 12, 29), date(2026, 12, 30)}

    kept = client.get("/staff/dashboard?as_of=2026-12-30").text
    assert "as computed at" in kept and "nothing has been posted since" in kept

    def figures_of(page: str) -> str:
        return page[page.index('<section aria-labelledby="collections-heading">') :]

    assert figures_of(kept) == figures_of(live)

    with app.app_context():
        pay(busy_town[2].number, 700, date(2026, 12, 30) - timedelta(days=3))
    stale = client.get("/staff/dashboard?as_of=2026-12-30").text
    assert "posted since" in stale and "not in these figures" in stale
