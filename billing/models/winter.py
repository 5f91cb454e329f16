"""Winter averaging: each service point's usage in its winter periods and their average."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, intpk


class WinterUsage(Base):
    """The billed usage of one winter period of a service point billed on a winter average."""

    __tablename__ = "winter_usage"

    id: Mapped[intpk]
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    #: The year the winter ends in (a December period belongs to the next year's winter).
    winter: Mapped[int]
    period_end: Mapped[date]
    #: Billed usage in the rate plan's unit.
    usage: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    unit: Mapped[str] = mapped_column(sa.String(8))

    __table_args__ = (
        sa.UniqueConstraint("service_point_id", "period_end"),
        sa.CheckConstraint("usage >= 0", name="usage_not_negative"),
    )


class WinterAverage(Base):
    """A service point's average usage over the periods of one winter, as the engine stored it."""

    __tablename__ = "winter_average"

    id: Mapped[intpk]
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    winter: Mapped[int]
    periods: Mapped[int]
    #: The average in the rate plan's unit, to 4 places (rounded down).
    average: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    unit: Mapped[str] = mapped_column(sa.String(8))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))

    __table_args__ = (
        sa.UniqueConstraint("service_point_id", "winter"),
        sa.CheckConstraint("periods >= 1", name="periods_positive"),
        sa.CheckConstraint("average >= 0", name="average_not_negative"),
    )
