"""Scheduled billing work: late fees (see scheduler.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing.penalty_service import assess_penalties
from core.jobs import JobContext


def assess_late_fees(session: Session, context: JobContext) -> dict:
    """Assess every penalty and interest charge owed as of the day, once per invoice and period."""
    result = assess_penalties(
        session,
        context.actor,
        as_of=context.as_of,
        rounding=context.config["ROUNDING_RULE"],
        dry_run=context.dry_run,
    )
    if context.dry_run:
        session.rollback()
    return {
        "invoices_checked": result.invoices_checked,
        "charges": result.charges,
        "cents": result.cents,
    }
