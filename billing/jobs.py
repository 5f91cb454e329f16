"""Scheduled billing work: late fees (see scheduler.py)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import BillingRun, InvoiceKind, RunStatus
from billing.penalty_service import assess_penalties
from billing.runs import RunOptions, open_run, post_run, preview_run
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


def utility_billing_run(session: Session, context: JobContext) -> dict:
    """Bill last month's utilities: the run of that cycle, issued today, posted once.

    Off by default (SCHEDULED_BILLING_RUNS); a run already posted is left as it is,
    and a run cut off part-way is resumed where it stopped (billing.runs.post_run).
    """
    first = context.as_of.replace(day=1)
    cycle = f"{first - timedelta(days=1):%Y-%m}"
    posted = session.scalar(
        sa.select(BillingRun.id).where(
            BillingRun.kind == InvoiceKind.UTILITY,
            BillingRun.cycle == cycle,
            BillingRun.status == RunStatus.POSTED,
        )
    )
    if posted is not None:
        return {"invoices": 0, "already_posted": 1}
    run = open_run(
        session,
        context.actor,
        kind=InvoiceKind.UTILITY,
        cycle=cycle,
        issue_date=context.as_of,
        due_date=context.as_of + timedelta(days=context.config["UTILITY_DUE_DAYS"]),
    )
    options = RunOptions.from_config(context.config)
    if context.dry_run:
        report = preview_run(session, run, options)
        session.rollback()
        return {"invoices": int(report.get("invoices", 0)), "already_posted": 0}
    report = post_run(session, run, context.actor, options)
    return {"invoices": int(report.get("invoices", 0)), "already_posted": 0}
