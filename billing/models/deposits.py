"""Deposits held for accounts (the deposit register), their movements and the deposit rules."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk, utcnow


class DepositStatus(enum.StrEnum):
    """Where a deposit stands: held until it is applied to a final bill or refunded."""

    HELD = "held"
    APPLIED = "applied"
    REFUNDED = "refunded"


class MovementKind(enum.StrEnum):
    """What moved a deposit's balance; held and interest raise it, the others lower it."""

    HELD = "held"
    INTEREST = "interest"
    APPLIED = "applied"
    REFUNDED = "refunded"

    @property
    def sign(self) -> int:
        """+1 when the movement raises what is held, -1 when it lowers it."""
        return 1 if self in (MovementKind.HELD, MovementKind.INTEREST) else -1


class OwedStatus(enum.StrEnum):
    """Where a deposit the rules ask for stands: owed until it is billed, taken or dropped."""

    OWED = "owed"
    #: On a regular bill (collect: first_bill): held in the register from that bill's entry.
    BILLED = "billed"
    #: Taken by a clerk (collect: before_service): held in the register from the counter.
    TAKEN = "taken"
    #: No longer asked: the account's service stopped before it was billed or taken.
    DROPPED = "dropped"


class RefundMethod(enum.StrEnum):
    """How a deposit goes back to the resident (docs/deposits.md)."""

    CREDIT = "credit"
    CHECK = "check"
    CARD = "card"


class Deposit(CreatedAtMixin, Base):
    """One deposit in the register: what the town holds for an account, with its interest.

    `held_cents` is what is held today (the deposit and the interest credited on it, less
    what was applied or refunded); the register's total ties to the deposits-held GL account.
    """

    __tablename__ = "deposit"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    held_since: Mapped[date]
    #: Where it came from: "counter", "conversion", "first_bill", ...
    source: Mapped[str] = mapped_column(sa.String(32))
    #: The document behind it: a receipt, the former system's reference, an invoice number.
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    #: The GL account debited when it was taken (cash drawer, conversion clearing, ...).
    offset_gl_code: Mapped[str] = mapped_column(sa.String(32))
    #: The payment it was paid with, when it can go back to that card.
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"))
    status: Mapped[DepositStatus] = mapped_column(
        enum_column(DepositStatus, "deposit_status"), default=DepositStatus.HELD, index=True
    )
    held_cents: Mapped[int] = mapped_column(sa.BigInteger)
    interest_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: The last day interest has been credited through (None: never).
    interest_through: Mapped[date | None]
    closed_on: Mapped[date | None]

    account: Mapped[Account] = relationship()
    movements: Mapped[list[DepositMovement]] = relationship(
        back_populates="deposit", order_by="DepositMovement.id"
    )

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("held_cents >= 0", name="held_not_negative"),
        sa.CheckConstraint("interest_cents >= 0", name="interest_not_negative"),
        sa.CheckConstraint("status <> 'held' OR closed_on IS NULL", name="held_is_open"),
    )


class DepositMovement(CreatedAtMixin, Base):
    """One change of a deposit's balance, with the journal entry that booked it."""

    __tablename__ = "deposit_movement"

    id: Mapped[intpk]
    deposit_id: Mapped[int] = mapped_column(sa.ForeignKey("deposit.id"), index=True)
    kind: Mapped[MovementKind] = mapped_column(enum_column(MovementKind, "deposit_movement_kind"))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    moved_on: Mapped[date]
    #: The invoice it was applied to, the refund method, the interest year, ...
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    journal_entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entry.id"))
    recorded_by: Mapped[str] = mapped_column(sa.String(254))

    deposit: Mapped[Deposit] = relationship(back_populates="movements")

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        # NOTE: interest is credited once per deposit and year (the yearly job reruns safely).
        sa.Index(
            "uq_deposit_movement_interest_year",
            "deposit_id",
            "reference",
            unique=True,
            sqlite_where=sa.text("kind = 'interest'"),
            postgresql_where=sa.text("kind = 'interest'"),
        ),
    )


class OwedDeposit(CreatedAtMixin, Base):
    """A deposit the rules ask of an account and not yet held: billed on its next regular bill
    (collect: first_bill) or taken by a clerk before service (collect: before_service)."""

    __tablename__ = "owed_deposit"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: Why the rules ask it, comma-separated: "renter", "commercial", "late_payments".
    reasons: Mapped[str] = mapped_column(sa.String(64))
    #: How it is collected: "first_bill" or "before_service" (the rules in force that day).
    collect: Mapped[str] = mapped_column(sa.String(16))
    #: The day the rules were evaluated: the start of service, or the day the job found it.
    owed_since: Mapped[date]
    #: The start (or transfer) that asked for it; none when the late-payment job did.
    service_order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_order.id"), index=True
    )
    status: Mapped[OwedStatus] = mapped_column(
        enum_column(OwedStatus, "owed_deposit_status"), default=OwedStatus.OWED, index=True
    )
    #: The deposit in the register that settled it (billed or taken).
    deposit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deposit.id"))
    #: The regular bill that carried it (collect: first_bill).
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"))
    closed_on: Mapped[date | None]
    recorded_by: Mapped[str] = mapped_column(sa.String(254))

    account: Mapped[Account] = relationship()

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("status <> 'owed' OR closed_on IS NULL", name="owed_is_open"),
        # NOTE: an account owes at most one deposit at a time: a rerun of a job or a second
        # start never asks twice.
        sa.Index(
            "uq_owed_deposit_open",
            "account_id",
            unique=True,
            sqlite_where=sa.text("status = 'owed'"),
            postgresql_where=sa.text("status = 'owed'"),
        ),
    )


class DepositRuleSet(Base):
    """One loaded version of the deposit rules; the newest applies (docs/deposits.md)."""

    __tablename__ = "deposit_rule_set"

    version: Mapped[intpk]
    document: Mapped[dict] = mapped_column(sa.JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(sa.String(254))
