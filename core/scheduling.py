"""The scheduler process: the table's jobs on APScheduler, run by the leader only (core.jobs).

scheduler.py holds the table; this module runs it. Every process fires the
same triggers; a trigger's key is its window (an interval job's slot since
the epoch, a daily job's local date), so whichever process leads runs each
window once, and a standby that takes over mid-window does not run it again.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from core.calendar import town_date, town_now
from core.extensions import db
from core.jobs import (
    abandoned_runs,
    give_up_lead,
    holder_name,
    run_job,
    take_lead,
)
from core.models import JobRun

log = logging.getLogger(__name__)

#: The app.extensions key of the function (config, failed JobRun) that tells operations about a
#: failed run. The app factory sets it to notices' e-mail: core itself sends no mail.
FAILED_RUN_NOTIFIER = "munibill.failed_run_notifier"


@dataclass(frozen=True)
class Entry:
    """One line of the schedule table."""

    name: str
    #: "package.jobs:function".
    target: str
    #: "interval" or "cron", with APScheduler's arguments.
    trigger: str
    arguments: dict
    #: A setting that must be on for the entry to be scheduled (None: always scheduled).
    setting: str | None = None

    def function(self):
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def window(self, now: datetime) -> str:
        """The key of the trigger window `now` falls in (the same in every process)."""
        if self.trigger == "interval":
            seconds = int(
                self.arguments.get("seconds", 0)
                + 60 * self.arguments.get("minutes", 0)
                + 3600 * self.arguments.get("hours", 0)
                + 86400 * self.arguments.get("days", 0)
            )
            slot = int(now.timestamp()) // seconds * seconds
            return f"every {seconds}s from {datetime.fromtimestamp(slot, UTC):%Y-%m-%dT%H:%M:%SZ}"
        return f"{town_date(now, now.tzinfo).isoformat()} {self.arguments}"[:64]


def find(schedule: list[Entry], name: str) -> Entry:
    """The table's entry of a job, or KeyError naming the jobs there are."""
    for entry in schedule:
        if entry.name == name:
            return entry
    raise KeyError(f"no job {name!r}; the jobs are: {', '.join(e.name for e in schedule)}")


def run_entry(
    app,
    entry: Entry,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
    trigger: str | None = None,
) -> JobRun | None:
    """Run one entry in an app context (manual runs get a trigger of their own)."""
    now = town_now(app.config)
    with app.app_context():
        run = run_job(
            db.session,
            app.config,
            entry.name,
            entry.function(),
            as_of=as_of or town_date(now, now.tzinfo),
            trigger=trigger or f"manual:{uuid.uuid4().hex[:12]}",
            dry_run=dry_run,
            on_failure=lambda run: notify_operations(app, run),
        )
        if run is not None:
            db.session.refresh(run)
            db.session.expunge(run)  # handed back loaded, for the caller to read
        return run


def notify_operations(app, run: JobRun) -> None:
    """Tell operations about a failed run, through the notifier the app factory registered."""
    notify = app.extensions.get(FAILED_RUN_NOTIFIER)
    if notify is not None:
        notify(app.config, run)


class Leader:
    """This process's standing: renews or takes the lease, and runs what a dead leader cut off."""

    def __init__(self, app, schedule: list[Entry]):
        self.app, self.schedule = app, schedule
        self.holder = holder_name()
        self.leading = False
        self.lock = threading.Lock()

    def check(self) -> bool:
        """Renew or take the lease; on taking it, run again what the previous leader left running."""
        with self.lock, self.app.app_context():
            was = self.leading
            self.leading = take_lead(
                db.session, self.holder, seconds=self.app.config["SCHEDULER_LEASE_SECONDS"]
            )
            cut_off = []
            if self.leading and not was:
                log.info("%s leads the scheduler", self.holder)
                cut_off = [
                    (run.id, run.job, run.as_of) for run in abandoned_runs(db.session, self.holder)
                ]
            if was and not self.leading:
                log.warning("%s lost the lead", self.holder)
        for run_id, job, as_of in cut_off:
            try:
                entry = find(self.schedule, job)
            except KeyError:
                continue
            run_entry(self.app, entry, as_of=as_of, trigger=f"again:{run_id}")
        return self.leading

    def resign(self) -> None:
        with self.app.app_context():
            give_up_lead(db.session, self.holder)


def build_scheduler(app, schedule: list[Entry]) -> tuple[BlockingScheduler, Leader]:
    """A BlockingScheduler in the municipality's time zone with the table and the lease renewal."""
    scheduler = BlockingScheduler(
        timezone=app.config["MUNICIPALITY_TIMEZONE"],
        job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
    )
    leader = Leader(app, schedule)
    scheduler.add_job(
        leader.check,
        "interval",
        seconds=max(app.config["SCHEDULER_LEASE_SECONDS"] / 3, 0.5),
        id="_lease",
        # NOTE: a second renewal may run while the first reruns what a dead leader cut off:
        # a rerun longer than the lease would otherwise let it expire, and another standby
        # would take the lead and run the same work again.
        max_instances=2,
        next_run_time=town_now(app.config),
    )
    for entry in schedule:
        if entry.setting is None or app.config.get(entry.setting):
            scheduler.add_job(
                _fire(app, leader, entry), entry.trigger, id=entry.name, **entry.arguments
            )
    return scheduler, leader


def _fire(app, leader: Leader, entry: Entry):
    """The scheduled call of an entry: only the leader runs it, once per window."""

    def fire() -> None:
        if not leader.leading:
            return
        now = town_now(app.config)
        run_entry(app, entry, as_of=town_date(now, now.tzinfo), trigger=entry.window(now))

    fire.__name__ = entry.name
    return fire


def serve(app, schedule: list[Entry]) -> None:
    """Run the scheduler until SIGINT or SIGTERM; the lease is given up on the way out."""
    scheduler, leader = build_scheduler(app, schedule)

    def stop(_signum, _frame):
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler %s starting with %d jobs", leader.holder, len(schedule))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        leader.resign()
