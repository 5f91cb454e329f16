"""Utility shutoff: the town's eligibility rules, versioned, and the medical certificates that
hold a shutoff off until their end date (docs/shutoff.md)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, intpk


class ShutoffRule(CreatedAtMixin, Base):
    """One version of the town's shutoff rules, in force from `effective` (the newest version
    whose effective date has come applies; a tie goes to the one loaded last)."""

    __tablename__ = "shutoff_rule"

    id: Mapped[intpk]
    effective: Mapped[date]
    #: The least past-due utility balance an account may be shut off for.
    min_past_due_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: How many days the oldest past-due utility amount must be late.
    min_days_past_due: Mapped[int]
    #: Business days from the shutoff notice to the earliest shutoff.
    notice_lead_days: Mapped[int]
    #: Date ranges with no shutoffs (heat, freeze): [{"name", "starts", "ends"}], ISO dates,
    #: both days included.
    moratoria: Mapped[list[dict]] = mapped_column(sa.JSON)
    recorded_by: Mapped[str] = mapped_column(sa.String(254))
    #: Calendar days after a shutoff notice within which a resident may appeal it.
    appeal_days: Mapped[int] = mapped_column(default=15, server_default="15")
    #: Business days after an appeal is denied before a shutoff may happen.
    appeal_denial_lead_days: Mapped[int] = mapped_column(default=5, server_default="5")
    #: Calendar days the occupants' tenant notice goes before a shutoff: a multi-unit or
    #: master-metered location, and a detached home (Cal. Pub. Util. Code 10009, 777.1).
    tenant_notice_days_multi_unit: Mapped[int] = mapped_column(default=10, server_default="10")
    tenant_notice_days_detached: Mapped[int] = mapped_column(default=15, server_default="15")

    __table_args__ = (
        sa.CheckConstraint("min_past_due_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint("min_days_past_due >= 0", name="age_not_negative"),
        sa.CheckConstraint("notice_lead_days >= 0", name="lead_not_negative"),
    )


class MedicalCertificate(CreatedAtMixin, Base):
    """A medical certificate on file for an account: no shutoff from its first to its last day."""

    __tablename__ = "medical_certificate"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    starts_on: Mapped[date]
    #: The last day the certificate holds (included).
    ends_on: Mapped[date]
    #: Who certified it (a physician or clinic), as the certificate says.
    certified_by: Mapped[str] = mapped_column(sa.String(200))
    recorded_by: Mapped[str] = mapped_column(sa.String(254))

    account: Mapped[Account] = relationship()

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)
