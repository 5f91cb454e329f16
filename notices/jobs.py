"""Scheduled notice work: payment reminders (see scheduler.py and notices.reminders).

Each function takes (session, JobContext), commits as it goes, returns counts
and is idempotent: running it twice does nothing new.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.jobs import JobContext
from notices.reminders import send_reminders as send


def send_reminders(session: Session, context: JobContext) -> dict:
    """Send the reminder stages due as of the day: one notice per account, e-mailed or printed."""
    outcome = send(
        session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
    )
    return outcome.counts()
