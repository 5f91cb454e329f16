"""Payment arrangements: the town's plan rules, each account's plans, their installments and
the invoices whose balance they schedule (docs/arrangements.md).

A plan is a schedule over a balance already owed: it posts nothing to the ledger when it is
made and nothing when it defaults; it changes when the balance is due, not what is owed.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


class PlanStatus(enum.StrEnum):
    """Where a plan stands (docs/arrangements.md, "A plan's life")."""

    #: Made and waiting for the resident's acceptance (online) or signature (at the counter).
    PROPOSED = "proposed"
    #: Accepted and kept: collection of the included balance pauses as the rule says.
    CURRENT = "current"
    #: Every scheduled cent was paid.
    COMPLETED = "completed"
    #: An installment was missed past the grace days: the remaining balance is due at once.
    DEFAULTED = "defaulted"
    #: Withdrawn by a clerk, or a proposal not accepted before its down payment fell late.
    CANCELLED = "cancelled"


#: The statuses of a plan still in force or waiting to be; an account has at most one.
OPEN_STATUSES = (PlanStatus.PROPOSED, PlanStatus.CURRENT)


class PlanRule(CreatedAtMixin, Base):
    """One version of the town's rules for payment plans, in force from `effective`.

    The newest version whose effective date has come applies; a later one never changes a plan
    already made under an earlier one (the plan keeps the version it was made under).
    """

    __tablename__ = "plan_rule"

    id: Mapped[intpk]
    effective: Mapped[date]
    #: The receivable groups a plan may include: any of "utility", "tax", "other".
    classes: Mapped[list[str]] = mapped_column(sa.JSON)
    #: The least down payment, as a percent of the included balance.
    min_down_percent: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal(0))
    #: The least down payment in cents, whatever the percent gives.
    min_down_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: The most monthly installments after the down payment.
    max_installments: Mapped[int]
    #: The largest balance a plan may include (None: no limit).
    max_included_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Days after an installment's due date before it counts as missed.
    grace_days: Mapped[int]
    pause_penalties: Mapped[bool] = mapped_column(default=True)
    pause_reminders: Mapped[bool] = mapped_column(default=True)
    #: Whether residents may request a plan from the portal (clerks always may make one).
    residents_may_request: Mapped[bool] = mapped_column(default=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.CheckConstraint("max_installments >= 1", name="some_installments"),
        sa.CheckConstraint("grace_days >= 0", name="grace_not_negative"),
        sa.CheckConstraint("min_down_cents >= 0", name="down_not_negative"),
        sa.CheckConstraint(
            "min_down_percent >= 0 AND min_down_percent <= 100", name="percent_in_range"
        ),
    )


class PaymentPlan(CreatedAtMixin, Base):
    """A payment arrangement: a balance of an account, a down payment and monthly installments."""

    __tablename__ = "payment_plan"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_rule.id"))
    status: Mapped[PlanStatus] = mapped_column(
        enum_column(PlanStatus, "plan_status"), default=PlanStatus.PROPOSED, index=True
    )
    #: The receivable groups it includes ("utility", "tax", "other").
    classes: Mapped[list[str]] = mapped_column(sa.JSON)
    #: What the included invoices owed on `start_date`: the balance the schedule covers.
    included_cents: Mapped[int] = mapped_column(sa.BigInteger)
    down_payment_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The day it was made; the down payment is due that day.
    start_date: Mapped[date]
    #: "resident" (the portal) or "clerk" (the console).
    requested_via: Mapped[str] = mapped_column(sa.String(16))
    created_by: Mapped[str] = mapped_column(sa.String(254))
    accepted_on: Mapped[date | None]
    #: "online" (accepted on the portal) or "counter" (signed before a clerk).
    accepted_how: Mapped[str | None] = mapped_column(sa.String(16))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The day it left the current status (completed, defaulted or cancelled).
    ended_on: Mapped[date | None]
    #: The installment whose miss defaulted it.
    missed_installment: Mapped[int | None]

    account: Mapped[Account] = relationship()
    rule: Mapped[PlanRule] = relationship()
    installments: Mapped[list[PlanInstallment]] = relationship(
        back_populates="plan", order_by="PlanInstallment.number", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[PlanInvoice]] = relationship(
        back_populates="plan", order_by="PlanInvoice.invoice_id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("included_cents > 0", name="included_positive"),
        sa.CheckConstraint(
            "down_payment_cents >= 0 AND down_payment_cents <= included_cents",
            name="down_within_included",
        ),
        # NOTE: one plan in force (or proposed) per account: a second request is refused.
        sa.Index(
            "uq_payment_plan_open",
            "account_id",
            unique=True,
            sqlite_where=sa.text("status IN ('proposed', 'current')"),
            postgresql_where=sa.text("status IN ('proposed', 'current')"),
        ),
    )


class PlanInstallment(Base):
    """One scheduled payment of a plan; number 0 is the down payment."""

    __tablename__ = "plan_installment"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_plan.id"), index=True)
    number: Mapped[int]
    due_date: Mapped[date]
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)

    plan: Mapped[PaymentPlan] = relationship(back_populates="installments")

    __table_args__ = (
        sa.UniqueConstraint("plan_id", "number"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )


class PlanInvoice(Base):
    """An invoice whose balance a plan includes, with what it owed when the plan was made."""

    __tablename__ = "plan_invoice"

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_plan.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), primary_key=True)
    owed_cents: Mapped[int] = mapped_column(sa.BigInteger)

    plan: Mapped[PaymentPlan] = relationship(back_populates="invoices")

    __table_args__ = (sa.CheckConstraint("owed_cents > 0", name="owed_positive"),)
