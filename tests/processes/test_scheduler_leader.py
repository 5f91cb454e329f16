"""Two real scheduler processes: each trigger runs once; when the leader is killed the standby leads."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import JobRun, JobStatus

SCRIPT = """
from core import create_app
from core.scheduling import Entry, serve
serve(create_app(), [Entry("tick", "tests.processes.probe_jobs:tick", "interval", {"seconds": 1})])
"""


def _start(database_url: str, instance: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        MUNIBILL_DOTENV=os.devnull,
        SECRET_KEY="s" * 40,
        MUNIBILL_INSTANCE_PATH=str(instance),
        SCHEDULER_LEASE_SECONDS="3",
    )
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _runs(app) -> list[JobRun]:
    with app.app_context():
        runs = db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()
        for run in runs:
            db.session.expunge(run)
        return runs


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.postgres
def test_two_schedulers_run_each_trigger_once_and_the_standby_takes_over(
    app, database_url, tmp_path
):
    first = _start(database_url, tmp_path)
    second = _start(database_url, tmp_path)
    try:
        assert _wait_for(lambda: len(_runs(app)) >= 6, 30), "the scheduler never ran its job"
        runs = _runs(app)
        holders = {run.holder for run in runs}
        assert len(holders) == 1  # only the leader runs jobs
        triggers = [run.trigger for run in runs]
        assert len(triggers) == len(set(triggers))  # once per trigger
        pids = {first.pid: first, second.pid: second}
        leader = pids[int(next(iter(holders)).rsplit(":", 1)[1])]
        standby = first if leader is second else second
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        killed_at = len(runs)
        assert _wait_for(
            lambda: any(run.holder.endswith(f":{standby.pid}") for run in _runs(app)), 15
        ), "the standby never took over"
        after = _runs(app)
        taken_over = [run for run in after if run.holder.endswith(f":{standby.pid}")]
        assert taken_over and all(run.status != JobStatus.FAILED for run in after)
        triggers = [run.trigger for run in after]
        assert len(triggers) == len(set(triggers)) and len(after) > killed_at
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
