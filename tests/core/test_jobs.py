"""Jobs run once per trigger and are recorded; one scheduler process leads; a cut-off run is run again."""

from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from core.db import utcnow
from core.extensions import db
from core.jobs import JobContext, abandoned_runs, run_job, take_lead
from core.models import AuditEvent, JobRun, JobStatus
from core.scheduling import Entry, Leader, find, run_entry
from scheduler import SCHEDULE

DAY = date(2026, 11, 26)
CALLS: list[JobContext] = []


def counting_job(session, context: JobContext) -> dict:
    """A job for the tests: remembers its calls."""
    CALLS.append(context)
    return {"seen": len(CALLS)}


def failing_job(session, context: JobContext) -> dict:
    """A job for the tests that fails half-way."""
    context.counts["before_failing"] = 3
    raise RuntimeError("the bank file is missing")


def test_a_job_runs_once_per_trigger_and_its_run_is_recorded(app):
    CALLS.clear()
    with app.app_context():
        first = run_job(
            db.session, app.config, "count", counting_job, as_of=DAY, trigger="2026-11-26"
        )
        again = run_job(
            db.session, app.config, "count", counting_job, as_of=DAY, trigger="2026-11-26"
        )
        assert again is None and len(CALLS) == 1  # the same trigger elsewhere: not run twice
        run = db.session.get(JobRun, first.id)
        assert (run.status, run.counts, run.as_of) == (JobStatus.SUCCEEDED, {"seen": 1}, DAY)
        assert run.finished_at >= run.started_at
        assert CALLS[0].actor.label == "job:count" and not CALLS[0].dry_run
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "job.run")
        )


def test_a_failing_job_is_recorded_with_its_error_and_mails_operations(app):
    app.config["OPERATIONS_EMAIL"] = "ops@example.org"
    entry = Entry("fails", "tests.core.test_jobs:failing_job", "interval", {"minutes": 5})
    run = run_entry(app, entry, as_of=DAY)
    with app.app_context():
        run = db.session.get(JobRun, run.id)
        assert run.status == JobStatus.FAILED and "the bank file is missing" in run.error
        assert run.counts == {"before_failing": 3}
    (mail,) = Path(app.config["OUTBOX_DIR"]).glob("*.eml")
    text = mail.read_text()
    assert "ops@example.org" in text and "job fails failed" in text


def test_one_process_leads_and_a_standby_takes_over_once_the_lease_expires(app):
    now = utcnow()
    with app.app_context():
        assert take_lead(db.session, "a:1", now=now, seconds=30)
        assert not take_lead(db.session, "b:2", now=now + timedelta(seconds=10), seconds=30)
        assert take_lead(db.session, "a:1", now=now + timedelta(seconds=20), seconds=30)  # renewed
        assert not take_lead(db.session, "b:2", now=now + timedelta(seconds=45), seconds=30)
        assert take_lead(db.session, "b:2", now=now + timedelta(seconds=51), seconds=30)
        assert not take_lead(db.session, "a:1", now=now + timedelta(seconds=52), seconds=30)


def test_a_new_leader_runs_again_what_a_dead_leader_cut_off(app):
    CALLS.clear()
    entry = Entry("count", "tests.core.test_jobs:counting_job", "interval", {"minutes": 15})
    with app.app_context():
        db.session.add(
            JobRun(
                job="count",
                trigger="every 900s from 2026-11-26T16:00:00Z",
                as_of=DAY,
                status=JobStatus.RUNNING,
                holder="gone:99",
                counts={},
            )
        )
        db.session.commit()
    leader = Leader(app, [entry])
    assert leader.check()
    with app.app_context():
        runs = db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()
        assert [r.status for r in runs] == [JobStatus.ABANDONED, JobStatus.SUCCEEDED]
        assert runs[1].trigger == f"again:{runs[0].id}" and runs[1].as_of == DAY
        assert abandoned_runs(db.session, leader.holder) == []
    assert len(CALLS) == 1


def test_a_trigger_window_is_the_same_in_every_process():
    from datetime import UTC, datetime

    entry = Entry("janitor", "payments.jobs:janitor", "interval", {"minutes": 15})
    early = datetime(2026, 11, 26, 16, 1, 5, tzinfo=UTC)
    late = datetime(2026, 11, 26, 16, 14, 59, tzinfo=UTC)
    assert entry.window(early) == entry.window(late) == "every 900s from 2026-11-26T16:00:00Z"
    assert entry.window(late + timedelta(seconds=2)) != entry.window(late)


def test_every_scheduled_job_names_a_function_that_exists():
    for entry in SCHEDULE:
        assert callable(entry.function()), entry.name
    assert find(SCHEDULE, "janitor").trigger == "interval"


def test_jobs_run_by_hand_and_listed(app, runner, api_headers):
    result = runner.invoke(args=["jobs", "run", "processor_fees", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "processor_fees run" in result.output and "succeeded" in result.output
    missing = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert missing.exit_code != 0 and "the jobs are" in missing.output
    listed = runner.invoke(args=["jobs", "list"])
    assert "processor_fees" in listed.output and "dry" in listed.output
    response = api_headers("auditor")
    from flask.testing import FlaskClient

    client: FlaskClient = app.test_client()
    runs = client.get("/api/v1/job-runs?job=processor_fees", headers=response).get_json()
    assert [r["status"] for r in runs] == ["succeeded"] and runs[0]["dry_run"] is True


def test_clerks_and_auditors_see_the_job_runs_with_their_counts_and_errors(app, signed_in, runner):
    assert runner.invoke(args=["jobs", "run", "processor_fees", "--dry-run"]).exit_code == 0
    with app.app_context():
        db.session.add(
            JobRun(
                job="reconcile_stripe",
                trigger="manual test",
                as_of=utcnow().date(),
                status=JobStatus.FAILED,
                holder="test",
                finished_at=utcnow(),
                error="Stripe could not be reached",
            )
        )
        db.session.commit()
    client = signed_in("auditor")
    page = client.get("/staff/jobs").text
    assert "processor_fees (dry run)" in page and "succeeded" in page
    assert "Stripe could not be reached" in page
    failed = client.get("/staff/jobs?status=failed").text
    assert "reconcile_stripe" in failed and "processor_fees (dry run)" not in failed
    only = client.get("/staff/jobs?job=processor_fees").text
    assert "Stripe could not be reached" not in only
    anonymous = app.test_client().get("/staff/jobs")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
