"""The scheduled utility billing run: off unless asked for, posts last month's cycle once."""

import sqlalchemy as sa

from billing.models import BillingRun, Invoice, RunStatus
from core.extensions import db
from core.scheduling import build_scheduler
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import household, load_rules


def test_the_billing_run_is_scheduled_only_when_switched_on(app):
    scheduler, _leader = build_scheduler(app, SCHEDULE)
    assert "utility_billing_run" not in {job.id for job in scheduler.get_jobs()}
    assert "janitor" in {job.id for job in scheduler.get_jobs()}
    app.config["SCHEDULED_BILLING_RUNS"] = True
    scheduler, _leader = build_scheduler(app, SCHEDULE)
    assert "utility_billing_run" in {job.id for job in scheduler.get_jobs()}


def test_last_months_utilities_are_billed_once(app, runner):
    with app.app_context():
        plans = load_rules(db.session)
        for n in range(3):
            household(db.session, plans, f"h{n}", [1000, 5000, 9000, 13000, 18400])
        db.session.commit()
    dry = runner.invoke(
        args=["jobs", "run", "utility_billing_run", "--as-of", "2026-11-02", "--dry-run"]
    )
    assert dry.exit_code == 0 and "'invoices': 3" in dry.output, dry.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0
    first = runner.invoke(args=["jobs", "run", "utility_billing_run", "--as-of", "2026-11-02"])
    assert first.exit_code == 0 and "'invoices': 3" in first.output, first.output
    again = runner.invoke(args=["jobs", "run", "utility_billing_run", "--as-of", "2026-11-05"])
    assert "'already_posted': 1" in again.output
    with app.app_context():
        run = db.session.scalar(sa.select(BillingRun))
        assert (run.cycle, run.status) == ("2026-10", RunStatus.POSTED)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 3
