"""Payments, Stripe customers, stored webhook events and receipts."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk, utcnow


class PaymentStatus(enum.StrEnum):
    """Where a payment stands; only a verified success settles invoices."""

    PENDING = "pending"
    #: A bank debit in flight: shown as pending, never as paid.
    PROCESSING = "processing"
    #: Stripe gave no answer to the charge (a timeout, a lost connection): it may have charged
    #: the card or not. The janitor asks Stripe at once; until then no second payment of the
    #: same bills is taken.
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    #: A counter payment taken back by a supervisor (keyed wrongly, bounced check).
    VOIDED = "voided"
    #: A bank debit that settled and that the resident's bank sent back later (an ACH return):
    #: its settlement is reversed and it never settles again (payments.ach_returns).
    RETURNED = "returned"


class Channel(enum.StrEnum):
    """How the money came in."""

    ONLINE = "online"
    COUNTER = "counter"
    MAIL = "mail"


class Tender(enum.StrEnum):
    """What the money came in as."""

    CARD = "card"
    CASH = "cash"
    CHECK = "check"
    MONEY_ORDER = "money_order"
    #: A payment the resident's bank sent through a bill-pay network (docs/lockbox.md).
    BILL_PAY = "bill_pay"
    #: A debit of the resident's US bank account through Stripe (ACH Direct Debit).
    BANK_DEBIT = "bank_debit"


class Payment(CreatedAtMixin, Base):
    """Money a resident pays, recorded before anything reaches Stripe."""

    __tablename__ = "payment"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "payment_channel"))
    tender: Mapped[Tender] = mapped_column(enum_column(Tender, "payment_tender"))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING, index=True
    )
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd")
    #: The invoices the payer chose; empty means the oldest due first.
    invoice_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    #: The cash drawer a counter payment was taken into.
    drawer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cash_drawer.id"), index=True)
    #: Check or money order number, or another reference of the tender.
    tender_reference: Mapped[str | None] = mapped_column(sa.String(64))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(sa.String(500))
    failure_code: Mapped[str | None] = mapped_column(sa.String(64))
    failure_message: Mapped[str | None] = mapped_column(sa.String(500))
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: What the card processor kept, from Stripe's balance transaction; None until known.
    fee_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: The card's brand as Stripe names it ("visa", "amex"...) and its last four digits, read
    #: from Stripe's charge (payments.cards), never from the browser; None until known.
    card_brand: Mapped[str | None] = mapped_column(sa.String(32))
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    #: Who recorded it: a staff e-mail, "quick pay", "stripe webhook".
    created_by: Mapped[str] = mapped_column(sa.String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(
            "channel <> 'counter' OR drawer_id IS NOT NULL", name="counter_has_a_drawer"
        ),
    )


class CashDrawer(Base):
    """A clerk's cash drawer (batch): opened, filled with counter payments, closed against the deposit."""

    __tablename__ = "cash_drawer"

    id: Mapped[intpk]
    opened_by: Mapped[str] = mapped_column(sa.String(254))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Cash in the drawer when it was opened (change), in cents.
    opening_float_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    closed_by: Mapped[str | None] = mapped_column(sa.String(254))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The close-out: totals per tender taken, counted and the differences.
    close_out: Mapped[dict | None] = mapped_column(sa.JSON)
    #: Counted minus expected over all tenders, posted to GL 5300 (over > 0, short < 0); None
    #: for a drawer closed before over and short were posted.
    over_short_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: True while an over or short above the approval threshold waits for a supervisor.
    awaiting_approval: Mapped[bool] = mapped_column(default=False)
    over_short_approved_by: Mapped[str | None] = mapped_column(sa.String(254))
    #: What the drawer sends to the bank: everything counted but the opening float.
    deposit_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: The bank deposit that took this drawer's money; set once (payments.bank_deposits).
    bank_deposit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bank_deposit.id"), index=True
    )

    __table_args__ = (
        sa.CheckConstraint("opening_float_cents >= 0", name="float_not_negative"),
        sa.CheckConstraint(
            "deposit_cents IS NULL OR deposit_cents >= 0", name="deposit_not_negative"
        ),
    )


class BankDepositStatus(enum.StrEnum):
    """Where a bank deposit stands."""

    #: Made and taken to the bank (GL 1050 Deposits in transit); the bank has not confirmed it.
    IN_TRANSIT = "in_transit"
    #: The bank statement or a clerk confirmed it reached the bank (GL 1000 Bank).
    AT_BANK = "at_bank"


class BankDeposit(CreatedAtMixin, Base):
    """Money taken to the bank in one deposit: closed drawers, lockbox and bill-pay files.

    Each source row names the deposit that took it (`bank_deposit_id`), set once.
    """

    __tablename__ = "bank_deposit"

    id: Mapped[intpk]
    #: "BD-YYYY-NNNNNN", gap-free within the year.
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    status: Mapped[BankDepositStatus] = mapped_column(
        enum_column(BankDepositStatus, "bank_deposit_status"),
        default=BankDepositStatus.IN_TRANSIT,
        index=True,
    )
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: What the deposit moved out of which clearing account: [{"gl": "1010", "cents": n,
    #: "source": "drawer", "id": 7, "label": "Drawer 7"}, ...].
    parts: Mapped[list[dict]] = mapped_column(sa.JSON)
    made_by: Mapped[str] = mapped_column(sa.String(254))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The town's date of the deposit, the date of its ledger entry (core.calendar).
    made_on: Mapped[date]
    #: The date the bank credited it, from the statement or the clerk who confirmed it.
    reached_bank_on: Mapped[date | None]
    confirmed_by: Mapped[str | None] = mapped_column(sa.String(254))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(
            "status <> 'at_bank' OR reached_bank_on IS NOT NULL", name="at_bank_has_a_date"
        ),
    )


class RefundStatus(enum.StrEnum):
    """Where a refund stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(CreatedAtMixin, Base):
    """Money given back on a payment: through Stripe for cards, as refunds payable otherwise."""

    __tablename__ = "refund"

    id: Mapped[intpk]
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Words for the resident (statements, notices); the reason above is the staff's own.
    resident_text: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus, "refund_status"))
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    #: The town's date of the refund, the date of its ledger entry (core.calendar).
    refunded_on: Mapped[date]

    payment: Mapped[Payment] = relationship()

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class DisputeStatus(enum.StrEnum):
    """Where a card dispute stands."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Dispute(CreatedAtMixin, Base):
    """A cardholder's dispute of a payment: the funds are held until it closes."""

    __tablename__ = "dispute"

    id: Mapped[intpk]
    stripe_dispute_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[DisputeStatus] = mapped_column(enum_column(DisputeStatus, "dispute_status"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class StripeCustomer(CreatedAtMixin, Base):
    """The one Stripe Customer of a billing account, created on its first payment."""

    __tablename__ = "stripe_customer"

    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("account.id"), primary_key=True, autoincrement=False
    )
    stripe_customer_id: Mapped[str] = mapped_column(sa.String(255), unique=True)


class EventStatus(enum.StrEnum):
    """What became of a stored webhook event."""

    RECEIVED = "received"
    PROCESSED = "processed"
    #: Verified, but it names nothing of ours (shown to clerks for reconciliation).
    UNMATCHED = "unmatched"
    IGNORED = "ignored"
    FAILED = "failed"


class StripeEvent(Base):
    """Every verified webhook event, stored by its Stripe id before it is processed."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[EventStatus] = mapped_column(
        enum_column(EventStatus, "event_status"), default=EventStatus.RECEIVED, index=True
    )
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Receipt(Base):
    """The receipt of a settled payment: what it paid and what is left."""

    __tablename__ = "receipt"

    id: Mapped[intpk]
    #: "R-YYYY-NNNNNN", gap-free within the year.
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    tender: Mapped[Tender] = mapped_column(enum_column(Tender, "receipt_tender"))
    #: [{"invoice": number, "installment": n, "category": ..., "cents": n}, ...]
    paid: Mapped[list[dict]] = mapped_column(sa.JSON)
    credit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: What the account still owed right after this payment.
    balance_after_cents: Mapped[int] = mapped_column(sa.BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The town's date of the payment, the date of its ledger entry (core.calendar).
    paid_on: Mapped[date] = mapped_column(index=True)
    #: The moment of the payment (UTC): Stripe's success, or when the counter took it.
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    payment: Mapped[Payment] = relationship()

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class ReconciliationKind(enum.StrEnum):
    """What reconciliation found that does not match."""

    #: Stripe received another amount than our payment is for.
    AMOUNT_MISMATCH = "amount_mismatch"
    #: Stripe says succeeded; we recorded the payment as failed or canceled.
    FAILED_HERE = "failed_here"
    #: Our payment names an intent Stripe does not know.
    UNKNOWN_TO_STRIPE = "unknown_to_stripe"
    #: A succeeded intent at Stripe that names no payment of ours.
    UNKNOWN_HERE = "unknown_here"
    #: A refund at Stripe we never recorded.
    REFUND_NOT_RECORDED = "refund_not_recorded"
    #: A payout whose amount is not the sum of its balance transactions.
    PAYOUT_MISMATCH = "payout_mismatch"
    #: A stored webhook event that still failed after its retries.
    EVENT_FAILED = "event_failed"
    #: A bank statement credit no deposit or payout of the books matched.
    BANK_CREDIT_UNMATCHED = "bank_credit_unmatched"
    #: A bank statement debit no book item or fee rule matched.
    BANK_DEBIT_UNMATCHED = "bank_debit_unmatched"
    #: A bank debit event that contradicts what we hold (a success after a return).
    ACH_OUT_OF_ORDER = "ach_out_of_order"
    #: A bank return (failed charge) that names no payment of ours.
    RETURN_NOT_OURS = "return_not_ours"


class ReconciliationStatus(enum.StrEnum):
    """Where a reconciliation item stands in the clerks' queue."""

    OPEN = "open"
    RESOLVED = "resolved"


class ReconciliationItem(CreatedAtMixin, Base):
    """A mismatch between Stripe and our records, with its evidence and a suggested resolution.

    One item per (kind, Stripe object): found again on the next run, it is not added again.
    """

    __tablename__ = "reconciliation_item"

    id: Mapped[intpk]
    kind: Mapped[ReconciliationKind] = mapped_column(
        enum_column(ReconciliationKind, "reconciliation_kind")
    )
    #: The Stripe object it is about (an intent, refund or payout id; or ours when Stripe has none).
    stripe_id: Mapped[str] = mapped_column(sa.String(255))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    #: Our record and Stripe's, as found.
    ours: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    theirs: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    suggestion: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[ReconciliationStatus] = mapped_column(
        enum_column(ReconciliationStatus, "reconciliation_status"),
        default=ReconciliationStatus.OPEN,
        index=True,
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.String(254))
    resolution: Mapped[str | None] = mapped_column(sa.String(500))
    #: The queue's action that resolved it (settle, refund, write_off...); none for a note alone.
    action: Mapped[str | None] = mapped_column(sa.String(40))
    #: A refund made at Stripe from the queue (of money no payment of ours holds).
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)

    __table_args__ = (sa.UniqueConstraint("kind", "stripe_id", name="uq_reconciliation_item"),)


class SyncCursor(Base):
    """Where a reading of Stripe's lists left off (e.g. the newest intent reconciled)."""

    __tablename__ = "sync_cursor"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RemittanceKind(enum.StrEnum):
    """What a bank's remittance file carries."""

    #: Checks with the stubs munibill printed, read at the bank's lockbox.
    LOCKBOX = "lockbox"
    #: Payments from residents' banks by account number (RPPS-style bill-pay).
    BILL_PAY = "bill_pay"


class RemittanceFile(Base):
    """A bank's lockbox or bill-pay file, imported once (by the SHA-256 of its bytes)."""

    __tablename__ = "remittance_file"

    id: Mapped[intpk]
    kind: Mapped[RemittanceKind] = mapped_column(enum_column(RemittanceKind, "remittance_kind"))
    #: The layout it was read with (payments/lockbox_layouts/<layout>.yaml).
    layout: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str] = mapped_column(sa.String(255))
    #: Hex SHA-256 of the file's bytes: the same file is never imported twice.
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: The bank's deposit date: the town's date of the payments and their ledger entries.
    deposit_date: Mapped[date]
    item_count: Mapped[int]
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)
    settled_count: Mapped[int]
    settled_cents: Mapped[int] = mapped_column(sa.BigInteger)
    exception_count: Mapped[int]
    exception_cents: Mapped[int] = mapped_column(sa.BigInteger)
    imported_by: Mapped[str] = mapped_column(sa.String(254))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The bank deposit that took the file's money (all its items, queued ones too) from 1040
    #: to 1050; set once (payments.bank_deposits).
    bank_deposit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bank_deposit.id"), index=True
    )

    items: Mapped[list[RemittanceItem]] = relationship(
        back_populates="file", order_by="RemittanceItem.sequence"
    )


class RemittanceStatus(enum.StrEnum):
    """Where an item of a remittance file stands."""

    SETTLED = "settled"
    #: Waiting in the clerks' exception queue.
    EXCEPTION = "exception"
    #: A clerk applied it to an account by hand.
    APPLIED = "applied"
    #: A clerk sent the money back to the payer.
    RETURNED = "returned"


class RemittanceItem(Base):
    """One check or bill-pay payment of a remittance file, recorded once per file and sequence."""

    __tablename__ = "remittance_item"

    id: Mapped[intpk]
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("remittance_file.id"))
    #: The item's place in the file, from 1.
    sequence: Mapped[int]
    #: The bank's batch and item numbers.
    batch: Mapped[str] = mapped_column(sa.String(16))
    item: Mapped[str | None] = mapped_column(sa.String(16))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The check number, or the bill-pay trace number.
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    #: The scan line as the bank read it.
    scan_line: Mapped[str | None] = mapped_column(sa.String(64))
    #: The account reference as the bank keyed or sent it (bill-pay, old stubs).
    account_text: Mapped[str | None] = mapped_column(sa.String(64))
    #: The amount the stub says (lockbox items with a readable scan line).
    stub_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    payer_name: Mapped[str | None] = mapped_column(sa.String(100))
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"), unique=True)
    status: Mapped[RemittanceStatus] = mapped_column(
        enum_column(RemittanceStatus, "remittance_status"), index=True
    )
    #: Why it went to the exception queue (payments.lockbox.REASONS); kept once resolved.
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    detail: Mapped[str | None] = mapped_column(sa.String(300))
    resolved_by: Mapped[str | None] = mapped_column(sa.String(254))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(sa.String(500))

    file: Mapped[RemittanceFile] = relationship(back_populates="items")

    __table_args__ = (
        sa.UniqueConstraint("file_id", "sequence", name="uq_remittance_item_sequence"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
    )


# NOTE: the convenience fee models live in their own module; imported here so that every
# place that loads the payment models (the app, the migrations' comparison) knows them too.
from payments import ach_models  # noqa: E402,F401 - the bank debit tables share this metadata
from payments.fee_models import (  # noqa: E402, F401
    ConvenienceFee,
    ConvenienceFeeRefund,
    ConvenienceFeeRule,
)
