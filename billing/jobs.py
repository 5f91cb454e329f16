"""Scheduled billing work: late fees, the billing cycles' runs, interest on deposits, deposits
asked after late payments (see scheduler.py)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from billing.cycle_calendar import CalendarError
from billing.cycles import month_period, periods_to_bill
from billing.deposit_checks import deposit_rule_on
from billing.deposit_owed import ask_after_late_payments
from billing.deposits import credit_interest
from billing.models import (
    BillingRun,
    CyclePeriod,
    Deposit,
    DepositStatus,
    InvoiceKind,
    RunStatus,
)
from billing.penalty_service import PENALTY_HOLDS, assess_penalties
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
        town_state=context.config.get("MUNICIPALITY_STATE", ""),
        holds=current_app.extensions.get(PENALTY_HOLDS),
    )
    if context.dry_run:
        session.rollback()
    return {
        "invoices_checked": result.invoices_checked,
        "charges": result.charges,
        "cents": result.cents,
        "skipped": len(result.skipped),
        "held": result.held,
        **(
            {"skipped_invoices": [f"{n}: {why}" for n, why in result.skipped]}
            if result.skipped
            else {}
        ),
    }


def utility_billing_run(session: Session, context: JobContext) -> dict:
    """Bill every billing cycle's period whose bill date has come and that is not billed yet.

    Off by default (SCHEDULED_BILLING_RUNS). The default cycle's calendar month before the
    job's day is added to its calendar if missing (billed the 1st, as this job always did).
    Each period is billed by its own run, issued on its bill date (or today, if later) and
    due on its due date; a run already posted is left as it is, and a run cut off part-way
    is resumed where it stopped (billing.runs.post_run).
    """
    first = context.as_of.replace(day=1)
    month = f"{first - timedelta(days=1):%Y-%m}"
    due_days = context.config["UTILITY_DUE_DAYS"]
    # NOTE: refused when the default cycle keeps a calendar of its own covering the month.
    with contextlib.suppress(CalendarError):
        month_period(session, month, due_days)
    posted = session.scalar(
        sa.select(sa.func.count()).where(
            BillingRun.kind == InvoiceKind.UTILITY,
            BillingRun.status == RunStatus.POSTED,
            BillingRun.cycle_period_id.in_(
                sa.select(CyclePeriod.id).where(CyclePeriod.bill_date <= context.as_of)
            ),
        )
    )
    options = RunOptions.from_config(context.config)
    invoices, runs = 0, []
    for period in periods_to_bill(session, context.as_of):
        # NOTE: issued the day the job bills it (its bill date, unless the job was late); due
        # on the calendar's due date, or UTILITY_DUE_DAYS after a late issue.
        issue = context.as_of
        due = period.due_date if period.due_date >= issue else issue + timedelta(days=due_days)
        run = open_run(
            session,
            context.actor,
            kind=InvoiceKind.UTILITY,
            cycle="",
            issue_date=issue,
            due_date=due,
            period=period,
        )
        if run.status == RunStatus.POSTED:
            continue  # a month's run posted before cycles came, now linked to its period
        runs.append(run.cycle)
        if context.dry_run:
            invoices += int(preview_run(session, run, options).get("invoices", 0))
        else:
            session.commit()
            invoices += int(post_run(session, run, context.actor, options).get("invoices", 0))
    if context.dry_run:
        session.rollback()
    return {"invoices": invoices, "runs": runs, "already_posted": int(posted or 0)}


def credit_deposit_interest(session: Session, context: JobContext) -> dict:
    """Credit last year's interest on every deposit held, at the ordinance's rate (once a year).

    Interest runs through December 31 of the year before the run's day, from the day held or
    the last day already credited; rerunning it credits nothing new.
    """
    year = context.as_of.year - 1
    through = date(year, 12, 31)
    rule = deposit_rule_on(session, through)
    counts = {"deposits": 0, "cents": 0}
    if rule is None or rule.interest_percent is None:
        return counts
    deposits = session.scalars(
        sa.select(Deposit)
        .where(Deposit.status == DepositStatus.HELD, Deposit.held_since <= through)
        .order_by(Deposit.id)
    ).all()
    for deposit in deposits:
        if deposit.interest_through is not None and deposit.interest_through >= through:
            continue
        cents = credit_interest(
            session,
            context.actor,
            deposit,
            rule,
            through=through,
            reference=str(year),
            rounding=context.config["ROUNDING_RULE"],
        )
        counts["deposits"] += 1 if cents else 0
        counts["cents"] += cents
    if context.dry_run:
        session.rollback()
    else:
        session.commit()
    return counts


def ask_late_payment_deposits(session: Session, context: JobContext) -> dict:
    """Ask a deposit of every account that reached the rules' late-payment trigger and holds or
    owes none: billed on its next bill or taken at the counter, per the rules' `collect`.

    Rerunning it asks nothing new: an account owing a deposit is not asked again.
    """
    counts = ask_after_late_payments(
        session, context.actor, context.as_of, context.config["ROUNDING_RULE"]
    )
    if context.dry_run:
        session.rollback()
    else:
        session.commit()
    return counts
