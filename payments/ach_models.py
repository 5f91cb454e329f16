"""Bank debits (ACH through Stripe): the mandates residents accept, returns, the return rule and
blocked bank accounts (docs/payments.md, "Bank account (ACH)")."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, UTCDateTime, intpk, utcnow


class BankMandate(CreatedAtMixin, Base):
    """The authorisation a resident gave to debit a bank account: the words shown, when, from where.

    One per bank payment (purpose "payment") or autopay enrolment (purpose "autopay").
    """

    __tablename__ = "bank_mandate"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The payment it authorised; None for an autopay enrolment's standing mandate.
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    #: "payment" (one debit) or "autopay" (debits until revoked).
    purpose: Mapped[str] = mapped_column(sa.String(16))
    #: The version of the mandate text shown (payments.ach_mandate.TEXTS).
    text_version: Mapped[str] = mapped_column(sa.String(16))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str] = mapped_column(sa.String(45))
    user_agent: Mapped[str] = mapped_column(sa.String(500))
    stripe_payment_method_id: Mapped[str] = mapped_column(sa.String(255))
    #: Stripe's mandate object, once Stripe returns it.
    stripe_mandate_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    #: Stripe's fingerprint of the bank account: the same account has it in every payment method.
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    bank_name: Mapped[str | None] = mapped_column(sa.String(100))
    last4: Mapped[str | None] = mapped_column(sa.String(4))


class AchReturn(CreatedAtMixin, Base):
    """A bank debit that failed or came back after it settled, with its ACH return code."""

    __tablename__ = "ach_return"

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    #: The NACHA return code (R01, R02 ...; payments.ach_codes).
    return_code: Mapped[str] = mapped_column(sa.String(4))
    #: Stripe's failure code as it came (insufficient_funds, account_closed ...).
    stripe_failure_code: Mapped[str | None] = mapped_column(sa.String(64))
    #: True when the debit had settled (its settlement was reversed); False when it failed in flight.
    after_settlement: Mapped[bool] = mapped_column(default=False)
    #: The town's date of the return, the date of its ledger entries.
    returned_on: Mapped[date]
    stripe_event_id: Mapped[str | None] = mapped_column(sa.String(255))
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    #: The returned-payment fee charged for it (an invoice charge); None when the rule charges none.
    fee_charge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_charge.id"))
    #: When the resident was told (portal.ach_notices), and how: "email", or "no_address" when
    #: the account has no e-mail address (the portal's status page still says it).
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    told_by: Mapped[str | None] = mapped_column(sa.String(16))


class AchReturnRule(Base):
    """The returned-payment rule in force from a date: the fee, its GL account, when to block."""

    __tablename__ = "ach_return_rule"

    id: Mapped[intpk]
    effective_from: Mapped[date] = mapped_column(unique=True)
    #: The returned-payment fee charged to the account; 0 charges none.
    fee_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The revenue account of the fee (GL 4520 Returned payment fees).
    fee_gl_code: Mapped[str] = mapped_column(sa.String(8))
    #: A bank account is blocked for online payment at this many returns within `within_months`.
    block_after_returns: Mapped[int]
    within_months: Mapped[int]

    __table_args__ = (
        sa.CheckConstraint("fee_cents >= 0", name="fee_not_negative"),
        sa.CheckConstraint("block_after_returns > 0", name="block_after_positive"),
        sa.CheckConstraint("within_months > 0", name="within_months_positive"),
    )


class BlockedBankAccount(Base):
    """A bank account (by Stripe's fingerprint) refused for online payment and autopay."""

    __tablename__ = "blocked_bank_account"

    fingerprint: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: The account whose debit's return blocked it.
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    blocked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: How many returns within the rule's months blocked it.
    returns: Mapped[int]
    #: Set when a clerk lifts the block (audited); a later return counts from then.
    unblocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unblocked_by: Mapped[str | None] = mapped_column(sa.String(254))
    unblock_reason: Mapped[str | None] = mapped_column(sa.String(500))
