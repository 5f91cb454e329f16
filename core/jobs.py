"""Running jobs exactly once per trigger, and choosing the one scheduler process that leads.

Every scheduler process holds the same table (scheduler.py) and fires the
same triggers; only the leader runs jobs. The leader holds a lease row that
it renews; a standby takes the lease once it has expired, so if the leader
dies a standby leads within LEASE_SECONDS plus one renewal. A job run is
recorded first under a unique (job, trigger) key, so even two processes that
both believe they lead run a trigger once. A run cut off by a dead process is
left "running"; the next leader marks it abandoned and runs the job again,
which is safe because every job is idempotent.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.db import insert_or_nothing, utcnow
from core.models import JobRun, JobStatus, SchedulerLease

LEASE = "scheduler"
#: How long a lease lasts without renewal; the leader renews it every third of that.
LEASE_SECONDS = 30


def holder_name() -> str:
    """This process, as "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lead(session: Session, holder: str, *, now=None, seconds: int = LEASE_SECONDS) -> bool:
    """Renew our lease, or take it if it expired; True if we lead now. Commits."""
    now = now or utcnow()
    session.execute(
        insert_or_nothing(session, SchedulerLease, unique=["name"]).values(
            name=LEASE, holder=holder, expires_at=now + timedelta(seconds=seconds)
        )
    )
    table = SchedulerLease.__table__
    taken = session.execute(
        table.update()
        .where(
            table.c.name == LEASE,
            sa.or_(table.c.holder == holder, table.c.expires_at < now),
        )
        .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
    ).rowcount
    session.commit()
    return taken == 1


def give_up_lead(session: Session, holder: str) -> None:
    """Let the lease go at once (a clean shutdown), so a standby need not wait for it to expire."""
    table = SchedulerLease.__table__
    session.execute(
        table.update()
        .where(table.c.name == LEASE, table.c.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()


@dataclass
class JobContext:
    """What a job is given: the day it runs for, whether to change nothing, who it is."""

    as_of: date
    dry_run: bool
    actor: Actor
    config: Any
    counts: dict[str, int] = field(default_factory=dict)


#: A job: given the session and its context, do the work (committing as it goes) and
#: return counts of what it did.
JobFunction = Callable[[Session, JobContext], dict]


def run_job(
    session: Session,
    config,
    name: str,
    function: JobFunction,
    *,
    as_of: date,
    trigger: str,
    dry_run: bool = False,
    holder: str | None = None,
    on_failure: Callable[[JobRun], None] | None = None,
) -> JobRun | None:
    """Run a job once for a trigger and record it; None if another process already has this trigger.

    A job that raises is recorded as failed with its error (and on_failure is
    told), never re-raised: the scheduler goes on with the next trigger.
    """
    run = JobRun(
        job=name,
        trigger=trigger,
        as_of=as_of,
        dry_run=dry_run,
        status=JobStatus.RUNNING,
        holder=holder or holder_name(),
        counts={},
    )
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    actor = Actor.job(name)
    context = JobContext(as_of=as_of, dry_run=dry_run, actor=actor, config=config)
    try:
        counts = function(session, context) or {}
        session.commit()
    except Exception as error:  # noqa: BLE001 - recorded; the scheduler carries on
        session.rollback()
        run = session.get(JobRun, run.id)
        run.status, run.finished_at = JobStatus.FAILED, utcnow()
        run.error = "".join(traceback.format_exception_only(error)).strip()[:4000]
        run.counts = dict(context.counts)
        record(session, actor, "job.failed", run, job=name, error=run.error[:500])
        session.commit()
        if on_failure is not None:
            on_failure(run)
        return run
    run = session.get(JobRun, run.id)
    run.status, run.finished_at, run.counts = JobStatus.SUCCEEDED, utcnow(), dict(counts)
    record(session, actor, "job.run", run, job=name, dry_run=dry_run, counts=dict(counts))
    session.commit()
    return run


def abandoned_runs(session: Session, holder: str) -> list[JobRun]:
    """Runs left "running" by another process (one that no longer leads); marks them abandoned."""
    runs = list(
        session.scalars(
            sa.select(JobRun).where(JobRun.status == JobStatus.RUNNING, JobRun.holder != holder)
        )
    )
    for run in runs:
        run.status, run.finished_at = JobStatus.ABANDONED, utcnow()
        run.error = f"the process {run.holder} stopped while it ran"
    session.commit()
    return runs
