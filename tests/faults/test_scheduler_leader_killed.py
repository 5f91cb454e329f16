"""The scheduler leader killed with SIGKILL in the middle of a job, with two standbys: one
takes the lead, marks the cut-off run abandoned and runs the job again; the other does not run
it a third time although the rerun outlasts the lease; and the work (here the janitor settling
stored webhook successes, a batch per transaction) is finished without doubling any of it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import JobRun, JobStatus
from payments.models import EventStatus, Payment, Receipt, StripeEvent
from payments.webhooks import store_event
from tests.faults.conftest import ROOT, child_env, stop, wait_for
from tests.faults.ledger_checks import books_whole, settled_once
from tests.payments.signing import intent_event
from tests.payments.test_webhooks import _payment, _town

HOUSEHOLDS = 24
BATCH = 3
SCRIPT = """
from datetime import UTC, datetime, timedelta
from core import create_app
from core.scheduling import Entry, serve
app = create_app()
start = datetime.now(UTC) + timedelta(seconds=2)  # the lease is taken first
serve(app, [Entry("janitor", "tests.processes.probe_jobs:slow_janitor", "interval",
                           {"hours": 1, "next_run_time": start})])
"""


def _scheduler(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def _count(app, query) -> int:
    with app.app_context():
        value = db.session.scalar(query)
        db.session.rollback()
        return value


def _runs(app) -> list[JobRun]:
    with app.app_context():
        runs = db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()
        db.session.expunge_all()
        return runs


@pytest.mark.postgres
@pytest.mark.slow
def test_a_leader_killed_mid_job_is_finished_by_the_standby_without_doubling(
    app, database_url, instance, tmp_path
):
    payment_ids = [_payment(app, account_id) for account_id in _town(app, HOUSEHOLDS)]
    with app.app_context():
        for payment_id in payment_ids:  # stored by a receiver that died before settling them
            store_event(
                db.session,
                intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id)),
            )
        db.session.commit()
    env = child_env(
        database_url,
        instance,
        SCHEDULER_LEASE_SECONDS="3",
        WEBHOOK_BATCH_SIZE=str(BATCH),
        PROBE_COMMIT_PAUSE="0.4",
    )
    log = (tmp_path / "schedulers.log").open("ab")
    schedulers = [_scheduler(env, log) for _ in range(3)]
    receipts = sa.select(sa.func.count()).select_from(Receipt)
    try:
        assert wait_for(lambda: _count(app, receipts) >= 2 * BATCH, 30), "the job never ran"
        (cut,) = _runs(app)
        leader = next(p for p in schedulers if cut.holder.endswith(f":{p.pid}"))
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        settled_when_killed = _count(app, receipts)
        assert settled_when_killed < HOUSEHOLDS, "the job finished before it could be killed"
        assert wait_for(lambda: any(r.status == JobStatus.SUCCEEDED for r in _runs(app)), 60), (
            "the standby never finished the work"
        )
    finally:
        for process in schedulers:
            stop(process)
        log.close()
    cut_off, again = _runs(app)
    assert cut_off.status == JobStatus.ABANDONED and cut_off.holder == cut.holder
    assert again.trigger == f"again:{cut_off.id}" and again.holder != cut_off.holder
    assert again.status == JobStatus.SUCCEEDED
    assert again.counts["events_settled"] == HOUSEHOLDS - settled_when_killed
    with app.app_context():
        session = db.session
        settled_once(session, payment_ids)
        statuses = session.scalars(sa.select(StripeEvent.status)).all()
        assert statuses == [EventStatus.PROCESSED] * HOUSEHOLDS
        books_whole(session)
