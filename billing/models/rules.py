"""The municipality's billing rules as data: rate plans, tax levies, penalty rules."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, UTCDateTime, intpk, utcnow


class RatePlan(CreatedAtMixin, Base):
    """A utility tariff with its dated versions (docs/rates.md)."""

    __tablename__ = "rate_plan"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    service_kind: Mapped[str] = mapped_column(sa.ForeignKey("service_kind.code"))
    #: The plan's pricing unit code (gal, kgal, cf, hcf, ccf, m3; docs/rates.md); empty when unmetered.
    unit: Mapped[str | None] = mapped_column(sa.String(24))
    #: The canonical plan document, every version included.
    document: Mapped[dict] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TaxYearLevy(Base):
    """The levies, assessment ratios, exemptions and installments of one tax year (docs/tax.md)."""

    __tablename__ = "tax_year_levy"

    tax_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[dict] = mapped_column(sa.JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PenaltyRuleSet(Base):
    """One load of a penalty rule set; the newest load of each code is in force (docs/penalties.md)."""

    __tablename__ = "penalty_rule_set"

    version: Mapped[intpk]
    document: Mapped[dict] = mapped_column(sa.JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(sa.String(254))
    #: The set's code (billing.penalty_sets); "town" for a single rules file of format 1.
    code: Mapped[str] = mapped_column(
        sa.String(40), default="town", server_default="town", index=True
    )


class TownClosedDay(Base):
    """A day the town's offices are closed beyond weekends and federal and state holidays."""

    __tablename__ = "town_closed_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
