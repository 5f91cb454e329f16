"""Billing cycles (routes, books) and their calendars: which days a bill covers, when it goes out."""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, CreatedAtMixin, enum_column, intpk


class CycleFrequency(enum.StrEnum):
    """How often a cycle bills; custom cycles list their periods one by one."""

    MONTHLY = "monthly"
    BIMONTHLY = "bimonthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    CUSTOM = "custom"


class BillingCycle(CreatedAtMixin, Base):
    """A route or book: the accounts read and billed together, on its own calendar."""

    __tablename__ = "billing_cycle"

    id: Mapped[intpk]
    #: "MONTHLY", "ROUTE-3", "BOOK_12": capitals, digits, - and _.
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    frequency: Mapped[CycleFrequency] = mapped_column(
        enum_column(CycleFrequency, "cycle_frequency")
    )
    active: Mapped[bool] = mapped_column(default=True)
    #: The town's default cycle: accounts assigned to no cycle are on it. Exactly one.
    is_default: Mapped[bool] = mapped_column(default=False)

    periods: Mapped[list[CyclePeriod]] = relationship(
        back_populates="cycle", order_by="CyclePeriod.period_start"
    )

    __table_args__ = (
        sa.Index(
            "uq_billing_cycle_one_default",
            "is_default",
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        ),
    )

    def __repr__(self) -> str:
        return f"<BillingCycle {self.code} {self.frequency}>"


class CyclePeriod(Base):
    """One period of a cycle's calendar: the days it bills, its read, bill and due dates.

    Periods of one cycle never overlap (billing.cycles checks every calendar before storing).
    """

    __tablename__ = "cycle_period"

    id: Mapped[intpk]
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_cycle.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    #: The day the route's meters are read.
    read_date: Mapped[date]
    #: The day the bills are issued; the scheduled billing job bills the period from this day on.
    bill_date: Mapped[date] = mapped_column(index=True)
    due_date: Mapped[date]

    cycle: Mapped[BillingCycle] = relationship(back_populates="periods")

    __table_args__ = (
        sa.UniqueConstraint("cycle_id", "period_start"),
        sa.CheckConstraint("period_end >= period_start", name="period_in_order"),
        sa.CheckConstraint("due_date >= bill_date", name="due_after_bill"),
    )

    def __repr__(self) -> str:
        return f"<CyclePeriod {self.cycle_id} {self.period_start}..{self.period_end}>"
