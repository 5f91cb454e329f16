"""Billing runs: a cycle previewed, then posted in batches, never twice."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from billing.models.invoices import InvoiceKind
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


class RunStatus(enum.StrEnum):
    """Where a billing run stands."""

    PREVIEWED = "previewed"
    POSTING = "posting"
    POSTED = "posted"
    FAILED = "failed"


class BillingRun(CreatedAtMixin, Base):
    """One billing cycle of one kind; rerunning it completes it and creates nothing twice."""

    __tablename__ = "billing_run"

    id: Mapped[intpk]
    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind, "run_kind"))
    #: "2026-10" for a month of the default cycle, "ROUTE-3 2026-10-15" for another cycle's
    #: period (its code and first day), "2026" for a tax year.
    cycle: Mapped[str] = mapped_column(sa.String(40))
    period_start: Mapped[date]
    period_end: Mapped[date]
    issue_date: Mapped[date]
    due_date: Mapped[date]
    status: Mapped[RunStatus] = mapped_column(
        enum_column(RunStatus, "run_status"), default=RunStatus.PREVIEWED
    )
    #: Totals per service and jurisdiction, and every exception, from the last preview or posting.
    report: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    invoices_posted: Mapped[int] = mapped_column(default=0)
    total_posted_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    started_by: Mapped[str] = mapped_column(sa.String(254))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: The billing cycle (route) a utility run bills; none for tax runs.
    billing_cycle_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("billing_cycle.id"), index=True
    )
    #: The period of the cycle's calendar it bills (period_start..period_end are its days).
    cycle_period_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cycle_period.id"), unique=True
    )

    __table_args__ = (
        sa.UniqueConstraint("kind", "cycle"),
        sa.CheckConstraint("period_end >= period_start", name="period_in_order"),
    )
