"""Convenience fee rules (versioned, as data), the fee quoted on each payment and what of it
each refund gave back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk, utcnow
from payments.fee_terms import (
    FeeAccount,
    FeeBearer,
    FeeChannel,
    FeeCharge,
    FeeKind,
    FeeMethod,
    FeeRefund,
    FeeTerms,
    Tier,
)


class ConvenienceFeeRule(Base):
    """One version of the fee rule of a channel and method; a new version retires the one before.

    A rule is never edited: its id is the version a payment's quote names.
    """

    __tablename__ = "convenience_fee_rule"

    id: Mapped[intpk]
    channel: Mapped[FeeChannel] = mapped_column(enum_column(FeeChannel, "fee_channel"))
    method: Mapped[FeeMethod] = mapped_column(enum_column(FeeMethod, "fee_method"))
    kind: Mapped[FeeKind] = mapped_column(enum_column(FeeKind, "fee_kind"))
    flat_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Percent of the payment (2.5 is 2.5 %), at most payments.fee_terms.LEGAL_PERCENT_LIMIT.
    percent: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3), default=Decimal("0"))
    #: [{"from_cents", "to_cents" (None: no end), "flat_cents", "percent"}], for kind tiered.
    tiers: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    minimum_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    cap_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    bearer: Mapped[FeeBearer] = mapped_column(enum_column(FeeBearer, "fee_bearer"))
    charge_as: Mapped[FeeCharge] = mapped_column(enum_column(FeeCharge, "fee_charge"))
    account: Mapped[FeeAccount] = mapped_column(enum_column(FeeAccount, "fee_account"))
    refund: Mapped[FeeRefund] = mapped_column(enum_column(FeeRefund, "fee_refund"))
    created_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Set when a newer version of the same channel and method took its place.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.Index("ix_convenience_fee_rule_channel_method", "channel", "method"),
        sa.CheckConstraint("flat_cents >= 0", name="flat_not_negative"),
        sa.CheckConstraint("percent >= 0", name="percent_not_negative"),
        sa.CheckConstraint("minimum_cents >= 0", name="minimum_not_negative"),
        sa.CheckConstraint(
            "cap_cents IS NULL OR cap_cents >= minimum_cents", name="cap_not_below_minimum"
        ),
    )

    @property
    def terms(self) -> FeeTerms:
        """The rule's terms for payments.fee_terms.fee_cents."""
        return FeeTerms(
            kind=self.kind,
            flat_cents=self.flat_cents,
            percent=Decimal(self.percent),
            tiers=tuple(
                Tier(
                    from_cents=t["from_cents"],
                    to_cents=t["to_cents"],
                    flat_cents=t["flat_cents"],
                    percent=Decimal(t["percent"]),
                )
                for t in self.tiers or []
            ),
            minimum_cents=self.minimum_cents,
            cap_cents=self.cap_cents,
        )


class ConvenienceFee(Base):
    """The fee a payer was shown for a payment (the quote) and what became of it.

    The payment itself is always the bill amount; the fee is its own ledger line
    (and, when `charge_as` is separate_charge, its own PaymentIntent).
    """

    __tablename__ = "convenience_fee"

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    #: The rule version the fee was worked out by; None: no rule applied (no fee).
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("convenience_fee_rule.id"))
    channel: Mapped[FeeChannel] = mapped_column(enum_column(FeeChannel, "fee_channel"))
    method: Mapped[FeeMethod] = mapped_column(enum_column(FeeMethod, "fee_method"))
    #: The fee the payer saw and agreed to (0 when there is none or the town absorbs it).
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The rule's choices, copied when quoted, so the quote holds even after the rule changes.
    charge_as: Mapped[FeeCharge] = mapped_column(enum_column(FeeCharge, "fee_charge"))
    account: Mapped[FeeAccount] = mapped_column(enum_column(FeeAccount, "fee_account"))
    refund: Mapped[FeeRefund] = mapped_column(enum_column(FeeRefund, "fee_refund"))
    #: The PaymentIntent of a fee charged on its own.
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    #: The town's date the fee was posted; None until its money is in.
    posted_on: Mapped[date | None]
    #: What of the fee has been given back by refunds of the payment (all of it once the bank
    #: returned the debit that carried it).
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_within_fee"
        ),
    )


class ConvenienceFeeRefund(CreatedAtMixin, Base):
    """The fee's share one refund of the payment gave back (by the quote's rule); one per refund."""

    __tablename__ = "convenience_fee_refund"

    id: Mapped[intpk]
    fee_id: Mapped[int] = mapped_column(sa.ForeignKey("convenience_fee.id"), index=True)
    refund_id: Mapped[int] = mapped_column(sa.ForeignKey("refund.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: Stripe's refund of the fee's share (on the payment's intent, or the fee's own), so that
    #: reconciliation knows it as ours.
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)
