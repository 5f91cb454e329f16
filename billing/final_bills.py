"""The bill of a location's last days for an account: a stop's final bill, or the closing bill of
an owner's vacancy when someone starts service.

It is drafted by the billing run's own code (billing/drafts.py `_bill_account`, with the days
as the points' window) and written by the run's writer (billing/writer.py), so it rates and
posts exactly as a run would: for the days from the day after the last billed period through
the stop, with the usage from the last billed reading to the reading on the stop date.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, MeterReading, ReadingKind, ServicePoint
from billing.computed import BilledPeriod
from billing.cycles import cycle_months, cycle_or_default
from billing.drafts import _account_facts, _bill_account, _reads_by_point, utility_context
from billing.models import (
    CyclePeriod,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.runs import RunOptions
from billing.writer import write_batch
from core.audit import Actor

#: Days from a final bill's issue to its due date.
# NOTE: a final bill is due like a regular one; the town's ordinance sets no shorter term.
FINAL_BILL_DUE_DAYS = 21


class FinalBillError(ValueError):
    """A final bill that cannot be drafted; nothing was written."""


def last_billed_day(session: Session, account_id: int, point_ids: list[int]) -> date | None:
    """The last day of the account's live utility bills with a line on these points."""
    if not point_ids:
        return None
    return session.scalar(
        sa.select(sa.func.max(Invoice.period_end))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.account_id == account_id,
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status != InvoiceStatus.VOID,
            InvoiceLine.service_point_id.in_(point_ids),
        )
    )


def record_reading(
    session: Session, point: ServicePoint, on: date, reading: int | None, by: str
) -> int | None:
    """Store the reading on the day unless one is there; returns the day's reading (or None).

    A reading entered that differs from the one stored for the day is refused.
    """
    stored = session.scalar(
        sa.select(MeterReading).where(
            MeterReading.service_point_id == point.id, MeterReading.read_on == on
        )
    )
    if stored is not None:
        if reading is not None and reading != stored.reading:
            raise FinalBillError(
                f"reading: meter {point.meter_id} already has the reading {stored.reading} on "
                f"{on.isoformat()}; {reading} differs from it"
            )
        return stored.reading
    if reading is None:
        return None
    session.add(
        MeterReading(
            service_point_id=point.id,
            meter_installed_on=point.installed_on,
            read_on=on,
            reading=reading,
            kind=ReadingKind.FINAL,
            recorded_by=by,
            note="reading at a change of service",
        )
    )
    session.flush()
    return reading


def _month_end(day: date) -> date:
    """The last day of the day's month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _cycle_period(session: Session, account: Account, day: date) -> BilledPeriod | None:
    """The account's billing cycle period that holds the day, as a regular period; None when
    the cycle's calendar has none there (the day's calendar month is then the period)."""
    cycle = cycle_or_default(session, account.billing_cycle_id)
    row = session.scalar(
        sa.select(CyclePeriod).where(
            CyclePeriod.cycle_id == cycle.id,
            CyclePeriod.period_start <= day,
            CyclePeriod.period_end >= day,
        )
    )
    if row is None:
        return None
    months = cycle_months(cycle, row.period_start, row.period_end)
    return BilledPeriod(row.period_start, row.period_end, row.period_start, row.period_end, months)


def bill_last_days(
    session: Session,
    actor: Actor,
    account: Account,
    points: list[ServicePoint],
    *,
    first_day: date,
    last_day: date,
    options: RunOptions,
    issue_date: date,
    final: bool,
) -> Invoice | None:
    """Draft, write and post the bill of the points' days first_day..last_day for the account.

    The days are prorated within the account's billing cycle period that holds the last day
    (or that day's calendar month when the cycle's calendar does not reach it; days before the
    period make the bill a regular period of its own, as a run's catch-up bill); a point
    without a reading on the last day is estimated and its line marked estimated.
    None when there is nothing to bill.
    """
    if first_day > last_day or not points:
        return None
    regular = _cycle_period(session, account, last_day)
    ctx = utility_context(
        session,
        period_start=min(first_day, regular.regular_start) if regular else first_day.replace(day=1),
        period_end=regular.regular_end if regular else _month_end(last_day),
        rounding=options.rounding,
        spike_multiple=options.spike_multiple,
    )
    period = replace(regular, start=first_day, end=last_day) if regular else None
    ctx = replace(ctx, period=period, windows={p.id: (first_day, last_day) for p in points})
    reads = _reads_by_point(session, [p.id for p in points if p.meter_id], ctx)
    facts = _account_facts(session, [account.id], points, ctx)[account.id]
    draft, exceptions = _bill_account(account, points, reads, ctx, facts)
    if draft is None:
        notes = "; ".join(
            f"meter {e['meter'] or e['service_point']}: {e['note']}"
            for e in exceptions
            if e["held"]
        )
        raise FinalBillError(f"the bill through {last_day.isoformat()} cannot be computed: {notes}")
    if not draft.lines:
        return None
    write_batch(
        session,
        [draft],
        kind=InvoiceKind.UTILITY,
        period=(first_day, last_day),
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=FINAL_BILL_DUE_DAYS),
        run_id=None,
        actor=actor,
    )
    invoice = session.scalar(
        sa.select(Invoice).where(
            Invoice.account_id == account.id,
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.period_start == first_day,
            Invoice.period_end == last_day,
            Invoice.status != InvoiceStatus.VOID,
        )
    )
    invoice.is_final = final
    session.flush()
    return invoice
