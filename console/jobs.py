"""Scheduled console work: keeping the dashboard's figures (see scheduler.py).

Each function takes (session, JobContext), commits as it goes, returns counts and is
idempotent: running it twice computes the same figures again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from console import dashboard_snapshots
from core.jobs import JobContext


def keep_dashboard_figures(session: Session, context: JobContext) -> dict:
    """Compute and keep the dashboard's figures as of the day before and the day itself
    (the day before is complete once the night's postings are in)."""
    days = [context.as_of - timedelta(days=1), context.as_of]
    if context.dry_run:
        return {"days": len(days)}
    for day in days:
        dashboard_snapshots.refresh(session, day)
        session.commit()
    return {"days": len(days)}
