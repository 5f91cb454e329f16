"""Utility shutoff: the town's eligibility rules, versioned, and the medical certificates that
hold a shutoff off until their end date (docs/shutoff.md)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


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
    #: Hours before the shutoff that the door hanger (the 48-hour notice) is left.
    final_notice_hours: Mapped[int] = mapped_column(default=48, server_default="48")
    #: The reconnection fee, charged when the crew shuts the service off (0: none).
    reconnection_fee_cents: Mapped[int] = mapped_column(
        sa.BigInteger, default=0, server_default="0"
    )
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
        sa.CheckConstraint("final_notice_hours >= 0", name="final_hours_not_negative"),
        sa.CheckConstraint("reconnection_fee_cents >= 0", name="fee_not_negative"),
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


class DoorHanger(CreatedAtMixin, Base):
    """The 48-hour notice of one delinquency: a door hanger left at the service address on the
    day before the shutoff may happen (one per account and delinquency)."""

    __tablename__ = "door_hanger"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The oldest past-due utility invoice: it names the delinquency (as the shutoff notice's).
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: The day the hanger is left at the door.
    hung_on: Mapped[date]
    #: The earliest shutoff (the shutoff notice's).
    shutoff_on: Mapped[date]
    #: The past-due utility balance (billing.position) that stops the shutoff, on hung_on.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    route: Mapped[str] = mapped_column(sa.String(24))
    service_address: Mapped[str] = mapped_column(sa.String(300))
    language: Mapped[str] = mapped_column(sa.String(2))
    created_by: Mapped[str] = mapped_column(sa.String(254))
    #: The hanger as a notice (its PDF), where it was also texted or e-mailed to the account
    #: (notices.notice; notices comes after billing).
    notice_id: Mapped[int | None] = mapped_column(index=True)

    __table_args__ = (
        sa.UniqueConstraint("account_id", "invoice_id", name="uq_door_hanger_delinquency"),
    )


class OrderState(enum.StrEnum):
    """Where a shutoff work order stands."""

    ISSUED = "issued"
    SHUT_OFF = "shut_off"
    NOT_SHUT_OFF = "not_shut_off"
    CANCELLED = "cancelled"


class NotDoneReason(enum.StrEnum):
    """Why the crew did not shut the service off (the fixed list on the crew's sheet)."""

    NO_ACCESS = "no_access"
    DOG = "dog"
    PAID_AT_DOOR = "paid_at_door"
    MEDICAL_EMERGENCY = "medical_emergency"
    OUT_OF_TIME = "out_of_time"
    OTHER = "other"


class ShutoffOrder(CreatedAtMixin, Base):
    """A shutoff work order for a field crew: one per account, delinquency and attempt (a new
    attempt after a crew could not shut off), and its result."""

    __tablename__ = "shutoff_order"

    id: Mapped[intpk]
    #: "SO-2027-000001", numbered without gaps per year.
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: The day the crew is to go out.
    work_on: Mapped[date]
    route: Mapped[str] = mapped_column(sa.String(24))
    service_address: Mapped[str] = mapped_column(sa.String(300))
    meter_id: Mapped[str | None] = mapped_column(sa.String(40))
    #: The past-due utility balance (billing.position) that stops the shutoff, on work_on.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    state: Mapped[OrderState] = mapped_column(
        enum_column(OrderState, "shutoff_order_state"), default=OrderState.ISSUED
    )
    issued_by: Mapped[str] = mapped_column(sa.String(254))
    #: When the crew did what the result says (shut off, or went and did not).
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_by: Mapped[str | None] = mapped_column(sa.String(254))
    meter_reading: Mapped[int | None] = mapped_column(sa.BigInteger)
    not_done_reason: Mapped[NotDoneReason | None] = mapped_column(
        enum_column(NotDoneReason, "shutoff_not_done_reason")
    )
    #: The crew's words for "other", or the cancellation's reason.
    note: Mapped[str | None] = mapped_column(sa.String(500))
    #: A payment taken at the door (payments.payment id; payments comes after billing).
    door_payment_id: Mapped[int | None]
    #: The reconnection fee charged at the shutoff (billing.invoice_charge).
    fee_charge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_charge.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: 1 for the first order of the delinquency; 2, 3, … for each after a crew could not shut off.
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")

    account: Mapped[Account] = relationship()

    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "invoice_id", "attempt", name="uq_shutoff_order_delinquency_attempt"
        ),
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
    )


class ReconnectionOrder(CreatedAtMixin, Base):
    """The order to turn the service back on, made in the transaction that settles the payment
    of the amount that stops the shutoff (billing.reconnection)."""

    __tablename__ = "reconnection_order"

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    shutoff_order_id: Mapped[int] = mapped_column(sa.ForeignKey("shutoff_order.id"), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The moment of the payment that cleared the amount.
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The moment the crew turned the service back on (None: not yet).
    reconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconnected_by: Mapped[str | None] = mapped_column(sa.String(254))
    meter_reading: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_by: Mapped[str] = mapped_column(sa.String(254))

    shutoff_order: Mapped[ShutoffOrder] = relationship()
