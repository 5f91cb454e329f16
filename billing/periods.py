"""The days a bill covers: a cycle's regular period, clipped to a service point's service.

Pure module: dates in, dates out, no clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from billing.computed import BilledPeriod


def clip_period(
    period: BilledPeriod, installed_on: date | None, removed_on: date | None
) -> BilledPeriod | None:
    """The part of `period` in which the service was in place; None when it had none.

    Service starts on `installed_on` and stops at the end of `removed_on` (the last day billed).
    """
    start, end = period.start, period.end
    if installed_on is not None and installed_on > start:
        start = installed_on
    if removed_on is not None and removed_on < end:
        end = removed_on
    if start > end:
        return None
    return replace(period, start=start, end=end)


def regular_months(start: date, end: date) -> int:
    """The length in whole months of a regular period from `start` to `end` (at least 1).

    A period from the 1st of a month to the last day of a month is counted exactly; any other
    is counted to the nearest month of 365.25 / 12 days.
    """
    after = end + timedelta(days=1)
    if start.day == 1 and after.day == 1:
        return max(1, (after.year - start.year) * 12 + after.month - start.month)
    days = (end - start).days + 1
    return max(1, round(days * 12 / 365.25))


def days_in(start: date, end: date) -> int:
    """The number of days from start to end, both included."""
    return (end - start).days + 1
