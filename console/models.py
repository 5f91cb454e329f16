"""Requests a clerk makes and a supervisor decides (refunds, voids, credit memos, waivers), and
the dashboard's figures kept by a job."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


class ApprovalKind(enum.StrEnum):
    """What a clerk asks a supervisor to approve."""

    #: Refund part or all of a settled payment (card refunds go through Stripe).
    REFUND = "refund"
    #: Take back a counter payment entirely (keyed wrongly, a bounced check).
    VOID_PAYMENT = "void_payment"
    #: Lower what an invoice owes.
    CREDIT_MEMO = "credit_memo"
    #: Void an invoice nothing was paid or credited on.
    VOID_INVOICE = "void_invoice"
    #: Waive what is still owed on a penalty or interest charge.
    WAIVE_CHARGE = "waive_charge"


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Approved, but the action itself was refused (the reason is kept); nothing changed.
    FAILED = "failed"


class ApprovalRequest(CreatedAtMixin, Base):
    """A change a clerk asked for, with a reason, until a supervisor approves or rejects it.

    Who asked and who decided are different people; the action runs, audited, as the
    supervisor when approved.
    """

    __tablename__ = "approval_request"

    id: Mapped[intpk]
    kind: Mapped[ApprovalKind] = mapped_column(enum_column(ApprovalKind, "approval_kind"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"))
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"))
    charge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_charge.id"))
    amount_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Words for the resident (statements, notices); the reason above is the staff's own.
    resident_text: Mapped[str | None] = mapped_column(sa.String(200))
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[ApprovalStatus] = mapped_column(
        enum_column(ApprovalStatus, "approval_status"), default=ApprovalStatus.PENDING, index=True
    )
    decided_by: Mapped[str | None] = mapped_column(sa.String(254))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))
    #: What the approved action made: a refund id, a credit memo number, ...
    outcome: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (
        sa.CheckConstraint("amount_cents IS NULL OR amount_cents > 0", name="amount_positive"),
    )


class DashboardSnapshot(Base):
    """The dashboard's figures as of one day, as a job computed them (console/dashboard_snapshots.py)."""

    __tablename__ = "dashboard_snapshot"

    as_of: Mapped[date] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The ledger's length when computed: entries with a higher seq came after.
    ledger_length: Mapped[int] = mapped_column(sa.BigInteger)
    #: Collections, aging, delinquency and months, in whole cents and counts.
    figures: Mapped[dict] = mapped_column(sa.JSON)
