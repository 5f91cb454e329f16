"""Billing cycles (routes, books): creating them, loading their calendars, putting accounts on
them, and finding the periods due to bill.

Services: they receive the session, the acting user and dates, flush and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.cycle_calendar import (
    FREQUENCIES,
    FREQUENCY_MONTHS,
    CalendarError,
    PeriodDates,
    check_calendar,
    generate_calendar,
    period_months,
)
from billing.models import BillingCycle, BillingRun, CycleFrequency, CyclePeriod, RunStatus
from core.audit import Actor, record, record_many

#: Cycle codes: capitals, digits, - and _, starting with a letter or digit ("ROUTE-3", "B12").
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,23}$")
#: The default cycle's code (created by the migration).
DEFAULT_CODE = "MONTHLY"


def default_cycle(session: Session) -> BillingCycle:
    """The town's default cycle: accounts assigned to no cycle are billed on it."""
    cycle = session.scalar(sa.select(BillingCycle).where(BillingCycle.is_default.is_(True)))
    if cycle is None:
        raise CalendarError("the town has no default billing cycle (migration f1c3e5a7b9d1)")
    return cycle


def cycle_or_default(session: Session, cycle_id: int | None) -> BillingCycle:
    """The cycle of that id, or the town's default cycle when none is named."""
    return session.get(BillingCycle, cycle_id) if cycle_id else default_cycle(session)


def cycle_months(cycle: BillingCycle, start: date, end: date) -> int:
    """The length in months of the cycle's regular period start..end: its frequency's, or
    for a custom cycle the period's own (billing.computed.BilledPeriod.months)."""
    return FREQUENCY_MONTHS.get(cycle.frequency.value) or period_months(start, end)


def cycle_by_code(session: Session, code: str, where: str = "cycle") -> BillingCycle:
    """A cycle by its code, or a CalendarError naming the place."""
    cycle = session.scalar(sa.select(BillingCycle).where(BillingCycle.code == code.strip().upper()))
    if cycle is None:
        raise CalendarError(f"{where}: no billing cycle {code!r}")
    return cycle


def on_cycle(cycle: BillingCycle) -> sa.ColumnElement[bool]:
    """The condition for accounts billed on the cycle (the default one takes the unassigned)."""
    if cycle.is_default:
        return sa.or_(Account.billing_cycle_id == cycle.id, Account.billing_cycle_id.is_(None))
    return Account.billing_cycle_id == cycle.id


def create_cycle(
    session: Session, actor: Actor, *, code: str, name: str, frequency: str, where: str = ""
) -> BillingCycle:
    """A new billing cycle with no periods yet; the code must be new."""
    prefix = f"{where}: " if where else ""
    given, code = code, (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise CalendarError(
            f"{prefix}code: {given!r} is not a cycle code (1-24 capitals, digits, - or _)"
        )
    if not (name or "").strip() or len(name.strip()) > 100:
        raise CalendarError(f"{prefix}name: a cycle needs a name of at most 100 characters")
    if frequency not in FREQUENCIES:
        raise CalendarError(f"{prefix}frequency: must be one of {', '.join(FREQUENCIES)}")
    if session.scalar(sa.select(BillingCycle.id).where(BillingCycle.code == code)):
        raise CalendarError(f"{prefix}code: billing cycle {code} already exists")
    cycle = BillingCycle(code=code, name=name.strip(), frequency=CycleFrequency(frequency))
    session.add(cycle)
    session.flush()
    record(session, actor, "billing_cycle.create", cycle, after={"code": code, "name": name})
    return cycle


def _run_periods(session: Session, cycle: BillingCycle) -> set[int]:
    """Ids of the cycle's periods that a run has opened (their dates can no longer change)."""
    return set(
        session.scalars(
            sa.select(BillingRun.cycle_period_id).where(
                BillingRun.billing_cycle_id == cycle.id, BillingRun.cycle_period_id.is_not(None)
            )
        )
    )


def add_periods(
    session: Session,
    actor: Actor,
    cycle: BillingCycle,
    periods: Sequence[PeriodDates],
    places: Sequence[str] | None = None,
) -> list[CyclePeriod]:
    """Add periods to a cycle's calendar, all or none.

    A period starting on the same day as a stored one replaces its dates, unless a run has
    opened it; a period overlapping any other stored or given one is refused, naming both.
    """
    names = list(places) if places is not None else [f"period {n + 1}" for n in range(len(periods))]
    check_calendar(periods, names)
    stored = {p.period_start: p for p in cycle.periods}
    opened = _run_periods(session, cycle)
    kept = [
        (
            PeriodDates(p.period_start, p.period_end, p.read_date, p.bill_date, p.due_date),
            f"stored period {p.period_start}..{p.period_end}",
        )
        for p in cycle.periods
        if p.period_start not in {q.period_start for q in periods}
    ]
    # NOTE: the new and the kept periods together must not overlap; check_calendar names
    # the later of two overlapping periods and the earlier one.
    check_calendar([*periods, *(k for k, _ in kept)], [*names, *(w for _, w in kept)])
    rows = []
    for period, where in zip(periods, names, strict=True):
        row = stored.get(period.period_start)
        if row is not None and row.id in opened and _dates(row) != period:
            raise CalendarError(
                f"{where}: the period starting {period.period_start} has a billing run; "
                "its dates cannot change"
            )
        if row is None:
            row = CyclePeriod(cycle=cycle, period_start=period.period_start)
            session.add(row)
        row.period_end, row.read_date = period.period_end, period.read_date
        row.bill_date, row.due_date = period.bill_date, period.due_date
        rows.append(row)
    session.flush()
    record(
        session,
        actor,
        "billing_cycle.calendar",
        cycle,
        after={"periods": [f"{p.period_start}..{p.period_end}" for p in periods]},
    )
    return rows


def _dates(row: CyclePeriod) -> PeriodDates:
    """A stored period as plain dates."""
    return PeriodDates(row.period_start, row.period_end, row.read_date, row.bill_date, row.due_date)


def generate_periods(
    session: Session,
    actor: Actor,
    cycle: BillingCycle,
    *,
    first_start: date,
    until: date | None = None,
    read_days_after_end: int = 0,
    bill_days_after_read: int = 1,
    due_days_after_bill: int = 21,
) -> list[CyclePeriod]:
    """Generate a year (or up to `until`) of a standard cycle's calendar and add it."""
    last = until or (first_start.replace(year=first_start.year + 1) - timedelta(days=1))
    periods = generate_calendar(
        cycle.frequency.value,
        first_start=first_start,
        until=last,
        read_days_after_end=read_days_after_end,
        bill_days_after_read=bill_days_after_read,
        due_days_after_bill=due_days_after_bill,
    )
    return add_periods(session, actor, cycle, periods)


def assign_accounts(
    session: Session,
    actor: Actor,
    cycle: BillingCycle,
    numbers: Sequence[str],
    places: Sequence[str] | None = None,
) -> int:
    """Put accounts (by number) on a cycle, all or none; returns how many changed cycle.

    NOTE: a move between cycles never bills a day twice: the next run of the new cycle
    bills from the day after the account's last billed day (billing.billed_periods).
    """
    names = list(places) if places is not None else ["account"] * len(numbers)
    if not cycle.active:
        raise CalendarError(f"cycle: billing cycle {cycle.code} is not active")
    found = dict(
        session.execute(
            sa.select(Account.number, Account.id).where(Account.number.in_(set(numbers)))
        ).all()
    )
    for number, where in zip(numbers, names, strict=True):
        if number not in found:
            raise CalendarError(f"{where}: no account {number}")
    current = dict(
        session.execute(
            sa.select(Account.id, Account.billing_cycle_id).where(Account.id.in_(found.values()))
        ).all()
    )
    moved = {found[n]: current[found[n]] for n in set(numbers) if current[found[n]] != cycle.id}
    if moved:
        session.execute(
            sa.update(Account).where(Account.id.in_(moved)).values(billing_cycle_id=cycle.id)
        )
        record_many(
            session,
            actor,
            "account.billing_cycle",
            "Account",
            {str(i): {"from_cycle": before, "to_cycle": cycle.id} for i, before in moved.items()},
        )
    session.expire_all()
    return len(moved)


def month_period(session: Session, month: str, due_days: int) -> CyclePeriod:
    """The default cycle's period for a calendar month ("2026-10"), created if it has none.

    NOTE: this is how a run named by a month (`billing run --cycle 2026-10`, the API's
    "cycle") kept its meaning when cycles came: read on the month's last day, billed the day
    after, due UTILITY_DUE_DAYS later, as the scheduled job always billed.
    """
    try:
        year, number = (int(part) for part in month.split("-"))
        start = date(year, number, 1)
    except ValueError:
        raise CalendarError(f"cycle: {month!r} is not a utility cycle like YYYY-MM") from None
    cycle = default_cycle(session)
    period = session.scalar(
        sa.select(CyclePeriod).where(
            CyclePeriod.cycle_id == cycle.id, CyclePeriod.period_start == start
        )
    )
    if period is not None:
        return period
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    bill = end + timedelta(days=1)
    dates = PeriodDates(start, end, end, bill, bill + timedelta(days=due_days))
    (period,) = add_periods(session, Actor.system("billing calendar"), cycle, [dates])
    return period


def run_label(period: CyclePeriod) -> str:
    """A run's name: "2026-10" for a calendar month of the default cycle, else "C<cycle>-<start>"."""
    cycle = period.cycle
    end_of_month = (period.period_start.replace(day=28) + timedelta(days=4)).replace(
        day=1
    ) - timedelta(days=1)
    if cycle.is_default and period.period_start.day == 1 and period.period_end == end_of_month:
        return f"{period.period_start:%Y-%m}"
    return f"C{cycle.id}-{period.period_start:%Y%m%d}"


def periods_to_bill(
    session: Session, today: date, *, through: date | None = None
) -> list[CyclePeriod]:
    """Periods of active cycles billed on or before `through` (default today) with no posted run.

    The scheduled job bills these with through = today; the console lists them with
    through = the end of the week.
    """
    posted = sa.select(BillingRun.cycle_period_id).where(
        BillingRun.status == RunStatus.POSTED, BillingRun.cycle_period_id.is_not(None)
    )
    return list(
        session.scalars(
            sa.select(CyclePeriod)
            .join(BillingCycle, BillingCycle.id == CyclePeriod.cycle_id)
            .where(
                BillingCycle.active.is_(True),
                CyclePeriod.bill_date <= (through or today),
                CyclePeriod.id.not_in(posted),
            )
            .order_by(CyclePeriod.bill_date, BillingCycle.code)
        )
    )
