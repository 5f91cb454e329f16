"""Tax payoff quotes: what pays a parcel's property tax off through a good-through date, and
the payments made against them (docs/payoff-quotes.md)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account, Parcel
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk, utcnow


class QuoteStatus(enum.StrEnum):
    """Where a payoff quote stands."""

    OPEN = "open"
    PAID = "paid"
    #: Its good-through date passed unpaid.
    EXPIRED = "expired"
    #: A newer quote for the same parcel and requester replaced it.
    SUPERSEDED = "superseded"


class Requester(enum.StrEnum):
    """Who asked for the quote."""

    OWNER = "owner"
    TITLE_COMPANY = "title_company"
    LENDER = "lender"


class PayoffQuote(CreatedAtMixin, Base):
    """A payoff quote: the amount that pays a parcel's open tax invoices off if paid on or
    before `good_through`, with its lines as the letter prints them."""

    __tablename__ = "payoff_quote"

    id: Mapped[intpk]
    #: PQ-YYYY-NNNNNN, gap-free per year (core.numbering series "payoff_quote").
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    parcel_id: Mapped[int] = mapped_column(sa.ForeignKey("parcel.id"), index=True)
    #: The owner's billing account when the quote was issued (its payments settle the parcel).
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    requester: Mapped[Requester] = mapped_column(enum_column(Requester, "payoff_requester"))
    requester_name: Mapped[str] = mapped_column(sa.String(200))
    #: The requester's mailing address, lines separated by newlines.
    requester_address: Mapped[str] = mapped_column(sa.String(500))
    #: The letter's language (es only for an owner whose account reads Spanish).
    language: Mapped[str] = mapped_column(sa.String(8))
    #: The town's date the quote was issued.
    issued_on: Mapped[date]
    good_through: Mapped[date]
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: Of the amount, the penalties and interest not yet assessed on `issued_on`.
    projected_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: One entry per invoice installment: invoice, tax_year, installment, due_date,
    #: principal_cents, charges_cents (posted), projected_cents, total_cents.
    lines: Mapped[list[dict]] = mapped_column(sa.JSON)
    status: Mapped[QuoteStatus] = mapped_column(
        enum_column(QuoteStatus, "payoff_quote_status"), default=QuoteStatus.OPEN
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(sa.String(254))
    paid_on: Mapped[date | None]

    parcel: Mapped[Parcel] = relationship()
    account: Mapped[Account] = relationship()
    payments: Mapped[list[PayoffPayment]] = relationship(
        back_populates="quote", order_by="PayoffPayment.id"
    )

    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint("good_through >= issued_on", name="good_through_not_past"),
    )


class PayoffOutcome(enum.StrEnum):
    """What a payment against a quote did."""

    #: Settled the parcel's tax (any excess is refunded to the payer).
    SETTLED = "settled"
    #: The parcel was already settled: the whole payment is refunded to the payer.
    REFUNDED = "refunded"
    #: Paid after good-through: it settled what it covered, the rest stays owed.
    LATE = "late"


class PayoffPayment(CreatedAtMixin, Base):
    """A payment made against a payoff quote, and the refund its excess became."""

    __tablename__ = "payoff_payment"

    id: Mapped[intpk]
    quote_id: Mapped[int] = mapped_column(sa.ForeignKey("payoff_quote.id"), index=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    payer_name: Mapped[str] = mapped_column(sa.String(200))
    paid_on: Mapped[date]
    outcome: Mapped[PayoffOutcome] = mapped_column(enum_column(PayoffOutcome, "payoff_outcome"))
    #: What the payment settled on the parcel's invoices.
    applied_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: What of it is to be sent back to the payer (a refund of the payment).
    refund_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund.id"))
    #: What the parcel's tax still owed after a late payment (the clerks' list shows it).
    still_owed_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    quote: Mapped[PayoffQuote] = relationship(back_populates="payments")
