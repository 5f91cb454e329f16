"""Winter averaging: the usage of each winter period, stored when it is posted, and each
service point's average over a winter's periods, which sewer is billed on outside winter.

`winter_period` is pure; the others read and write the database and only flush. A billing
run computes its drafts with `stored_averages` and stores the winter usages of the drafts it
posts with `store_winter_usage` (docs/rates.md, "Winter averaging").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import WinterAverage, WinterUsage
from billing.rate_plan_spec import RatePlanSpec
from billing.rating import billed_usage, version_in_force

_PLACES = Decimal("0.0001")
#: (service point id, winter, period end, billed usage in the plan's unit, the plan's unit)
WinterRow = tuple[int, int, date, Decimal, str]


def winter_of(period_end: date, months: tuple[int, ...]) -> int:
    """The year a winter ends in: a winter that spans the new year counts its late months
    (July to December) toward the next year's winter."""
    spans_new_year = 12 in months and 1 in months
    return period_end.year + 1 if spans_new_year and period_end.month >= 7 else period_end.year


def winter_period(
    plan: RatePlanSpec, period_end: date, usage: Decimal | None, usage_unit: str | None
) -> tuple[int, Decimal] | None:
    """(winter, billed usage) when a period ending `period_end` is a winter period of its plan."""
    version = version_in_force(plan, period_end)
    winter = version.winter
    if winter is None or usage is None or usage_unit is None:
        return None
    if period_end.month not in winter.months:
        return None
    billed = billed_usage(plan, period_end, usage, usage_unit)
    if billed is None:
        return None
    return winter_of(period_end, winter.months), billed


def stored_averages(session: Session, point_ids: Iterable[int], up_to: int) -> dict[int, Decimal]:
    """Each service point's average of its latest winter up to the year `up_to`."""
    ids = list(point_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(WinterAverage.service_point_id, WinterAverage.average)
        .where(WinterAverage.service_point_id.in_(ids), WinterAverage.winter <= up_to)
        .order_by(WinterAverage.service_point_id, WinterAverage.winter)
    ).all()
    return {point_id: Decimal(average) for point_id, average in rows}


def store_winter_usage(session: Session, rows: Iterable[WinterRow]) -> None:
    """Store the usage of posted winter periods and recompute the averages they change."""
    touched: set[tuple[int, int, str]] = set()
    for point_id, winter, period_end, usage, unit in rows:
        session.execute(
            sa.delete(WinterUsage).where(
                WinterUsage.service_point_id == point_id, WinterUsage.period_end == period_end
            )
        )
        session.add(
            WinterUsage(
                service_point_id=point_id,
                winter=winter,
                period_end=period_end,
                usage=usage,
                unit=unit,
            )
        )
        touched.add((point_id, winter, unit))
    session.flush()
    for point_id, winter, unit in sorted(touched):
        _store_average(session, point_id, winter, unit)


def _store_average(session: Session, point_id: int, winter: int, unit: str) -> None:
    """The average of one point's stored periods of one winter, in place of the one before."""
    usages = session.scalars(
        sa.select(WinterUsage.usage).where(
            WinterUsage.service_point_id == point_id, WinterUsage.winter == winter
        )
    ).all()
    average = (sum(usages, Decimal(0)) / len(usages)).quantize(_PLACES, rounding=ROUND_DOWN)
    row = session.scalar(
        sa.select(WinterAverage).where(
            WinterAverage.service_point_id == point_id, WinterAverage.winter == winter
        )
    )
    if row is None:
        row = WinterAverage(service_point_id=point_id, winter=winter)
        session.add(row)
    row.periods, row.average, row.unit = len(usages), average, unit
    session.flush()
