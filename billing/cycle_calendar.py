"""Billing cycle calendars: generating a year of periods and checking a calendar.

Pure module: plain dates in, plain values out. A calendar is a list of periods, each with
the days it bills and its read, bill and due dates. Periods of one cycle never overlap.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from billing.rate_plan_spec import FREQUENCY_MONTHS as PLAN_MONTHS

#: The length of a standard cycle frequency's period in months (a rate plan may also be
#: stated per year; a cycle bills at least twice a year).
FREQUENCY_MONTHS = {name: months for name, months in PLAN_MONTHS.items() if months <= 6}
#: The frequencies a cycle may have; "custom" cycles list their periods one by one.
FREQUENCIES = (*FREQUENCY_MONTHS, "custom")
#: An average month in days, for the length of a custom period in whole months.
_MONTH_DAYS = 365.2425 / 12


class CalendarError(ValueError):
    """A calendar that cannot be stored; the message names the place (row, field)."""


@dataclass(frozen=True)
class PeriodDates:
    """One period of a cycle: the days it bills, the day it is read, billed and due."""

    period_start: date
    period_end: date
    read_date: date
    bill_date: date
    due_date: date

    @property
    def months(self) -> int:
        """The period's length in whole months, at least 1."""
        return period_months(self.period_start, self.period_end)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period_months(start: date, end: date) -> int:
    """A period's length in whole months (a calendar quarter is 3), at least 1."""
    following = end + timedelta(days=1)
    months = (following.year - start.year) * 12 + following.month - start.month
    if following.day == start.day:
        return max(months, 1)
    return max(round(((end - start).days + 1) / _MONTH_DAYS), 1)


def generate_calendar(
    frequency: str,
    *,
    first_start: date,
    until: date,
    read_days_after_end: int = 0,
    bill_days_after_read: int = 1,
    due_days_after_bill: int = 21,
) -> list[PeriodDates]:
    """The periods of a standard frequency that start from first_start up to `until`.

    Each period ends the day before the next begins; the meters are read
    `read_days_after_end` days after the period's last day (0: on it, -2: two days before),
    the bill goes out `bill_days_after_read` days after the read, and is due
    `due_days_after_bill` days after the bill date.
    """
    if frequency not in FREQUENCY_MONTHS:
        raise CalendarError(
            f"frequency: a calendar is generated for {', '.join(FREQUENCY_MONTHS)}; "
            f"a {frequency} cycle's periods are loaded one by one"
        )
    if first_start.day > 28:
        raise CalendarError(
            f"first_start: periods must start on day 1 to 28 of a month, not on {first_start}"
        )
    if bill_days_after_read < 0 or due_days_after_bill < 0:
        raise CalendarError("bill_days_after_read, due_days_after_bill: cannot be negative")
    if until < first_start:
        raise CalendarError(f"until: {until} is before the first period start {first_start}")
    months = FREQUENCY_MONTHS[frequency]
    periods, index = [], 0
    while (start := add_months(first_start, index * months)) <= until:
        end = add_months(first_start, (index + 1) * months) - timedelta(days=1)
        read = end + timedelta(days=read_days_after_end)
        bill = read + timedelta(days=bill_days_after_read)
        periods.append(
            PeriodDates(start, end, read, bill, bill + timedelta(days=due_days_after_bill))
        )
        index += 1
    check_calendar(periods)
    return periods


def check_period(period: PeriodDates, where: str) -> None:
    """Refuse a period whose dates are out of order, naming the place."""
    if period.period_end < period.period_start:
        raise CalendarError(
            f"{where}: period_end {period.period_end} is before period_start {period.period_start}"
        )
    if period.read_date < period.period_start:
        raise CalendarError(
            f"{where}: read_date {period.read_date} is before the period starts "
            f"({period.period_start})"
        )
    if period.bill_date < period.read_date:
        raise CalendarError(
            f"{where}: bill_date {period.bill_date} is before the read date {period.read_date}"
        )
    if period.due_date < period.bill_date:
        raise CalendarError(
            f"{where}: due_date {period.due_date} is before the bill date {period.bill_date}"
        )


def check_calendar(periods: Sequence[PeriodDates], places: Sequence[str] | None = None) -> None:
    """Refuse a calendar with a period out of order or two periods that overlap.

    `places` names each period for messages ("calendar.csv row 4"); by default "period N".
    """
    names = (
        list(places) if places is not None else [f"period {n}" for n in range(1, len(periods) + 1)]
    )
    for period, where in zip(periods, names, strict=True):
        check_period(period, where)
    ordered = sorted(zip(periods, names, strict=True), key=lambda pair: pair[0].period_start)
    for (before, where_before), (after, where_after) in zip(ordered, ordered[1:], strict=False):
        if after.period_start <= before.period_end:
            raise CalendarError(
                f"{where_after}: the period {after.period_start}..{after.period_end} overlaps "
                f"{where_before} ({before.period_start}..{before.period_end})"
            )
