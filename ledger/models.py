"""The general ledger: the chart of accounts (with the service kinds and taxing jurisdictions
that add accounts to it), journal entries and lines, and the head of their hash chain."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import AppendOnly, Base, UTCDateTime, enum_column, intpk, utcnow

#: The billing accounts of the subledger, named by their table: accounts/ owns the model and
#: imports the ledger, so the ledger reads just the id and number it prints on journal lines.
subledger_account = sa.table(
    "account", sa.column("id", sa.BigInteger), sa.column("number", sa.String)
)


class GLType(enum.StrEnum):
    """The five account types; assets and expenses carry debit balances."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """True when a debit increases the balance."""
        return self in (GLType.ASSET, GLType.EXPENSE)


class GLCategory(enum.StrEnum):
    """What an account is for, so code finds accounts by purpose, not by number."""

    BANK = "bank"
    CASH_DRAWER = "cash_drawer"
    STRIPE_CLEARING = "stripe_clearing"
    RECEIVABLE = "receivable"
    UNAPPLIED_CREDIT = "unapplied_credit"
    REFUNDS_PAYABLE = "refunds_payable"
    TAX_COLLECTED = "tax_collected"
    REVENUE = "revenue"
    PENALTY_REVENUE = "penalty_revenue"
    INTEREST_REVENUE = "interest_revenue"
    PROCESSOR_FEES = "processor_fees"
    WRITE_OFF = "write_off"
    FUND_BALANCE = "fund_balance"
    DISPUTED_FUNDS = "disputed_funds"
    DEPOSITS_HELD = "deposits_held"
    INTEREST_EXPENSE = "interest_expense"
    LOCKBOX_CLEARING = "lockbox_clearing"
    REMITTANCES_HELD = "remittances_held"
    DEPOSITS_IN_TRANSIT = "deposits_in_transit"
    CASH_OVER_SHORT = "cash_over_short"
    CONVENIENCE_FEE_REVENUE = "convenience_fee_revenue"
    CONVENIENCE_FEES_PAYABLE = "convenience_fees_payable"
    BANK_FEES = "bank_fees"


class GLAccount(Base):
    """An account of the chart of accounts."""

    __tablename__ = "gl_account"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[GLType] = mapped_column(enum_column(GLType, "gl_type"))
    category: Mapped[GLCategory] = mapped_column(enum_column(GLCategory, "gl_category"))
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<GLAccount {self.code} {self.name}>"


class JournalEntry(AppendOnly, Base):
    """One balanced posting. Append-only: corrections are reversing entries.

    `hash` is SHA-256 over the entry's canonical form (billing.chain), which
    includes `prev_hash`, so altering or removing any entry breaks the chain.
    """

    __tablename__ = "journal_entry"

    id: Mapped[intpk]
    #: Position in the chain: 1, 2, 3, ... with no gaps.
    seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    entry_date: Mapped[date] = mapped_column(index=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: invoice, payment, refund, adjustment, penalty, write_off, payout, reversal, ...
    source_type: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str | None] = mapped_column(sa.String(64))
    memo: Mapped[str] = mapped_column(sa.String(500), default="")
    actor_type: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    #: The entry this one reverses; an entry is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal_entry.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", order_by="JournalLine.position"
    )
    reverses: Mapped[JournalEntry | None] = relationship(remote_side="JournalEntry.id")

    __table_args__ = (
        sa.Index("ix_journal_entry_source", "source_type", "source_id"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
    )


class JournalLine(AppendOnly, Base):
    """A debit or a credit to one GL account, optionally for one billing account."""

    __tablename__ = "journal_line"

    id: Mapped[intpk]
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entry.id"))
    position: Mapped[int]
    gl_account_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"), index=True)
    #: The billing account for receivable and credit lines (the subledger).
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    debit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    gl_account: Mapped[GLAccount] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("entry_id", "position"),
        sa.CheckConstraint("debit_cents >= 0 AND credit_cents >= 0", name="amounts_not_negative"),
        sa.CheckConstraint("(debit_cents = 0) <> (credit_cents = 0)", name="exactly_one_side"),
    )


class GLDayBalance(Base):
    """What one day's journal lines add up to on one GL account: the period balance that the
    trial balance and GL balances as of a date sum (ledger/day_balances.py keeps it)."""

    __tablename__ = "gl_day_balance"

    gl_account_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"), primary_key=True)
    #: The entry date of the lines summed (the business date, not the posting instant).
    entry_date: Mapped[date] = mapped_column(primary_key=True)
    debit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (
        sa.Index("ix_gl_day_balance_entry_date", "entry_date"),
        sa.CheckConstraint("debit_cents >= 0 AND credit_cents >= 0", name="sums_not_negative"),
    )


class LedgerHead(Base):
    """The single row that holds the chain's head; locking it orders all postings."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)


class LedgerCheckpoint(AppendOnly, Base):
    """A verify of the chain that succeeded: through which entry, with which hash, by whom.

    Its facts and own hash (ledger.chain.checkpoint_hash) are also the memo of a journal
    entry without lines, posted right after the entry it names, so the chain covers it.
    """

    __tablename__ = "ledger_checkpoint"

    id: Mapped[intpk]
    #: The checkpoint's own journal entry (source_type ledger_checkpoint).
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entry.id"), unique=True)
    verified_seq: Mapped[int] = mapped_column(sa.BigInteger)
    verified_hash: Mapped[str] = mapped_column(sa.String(64))
    from_seq: Mapped[int] = mapped_column(sa.BigInteger)
    entries: Mapped[int] = mapped_column(sa.BigInteger)
    #: full or incremental.
    mode: Mapped[str] = mapped_column(sa.String(16))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (sa.CheckConstraint("mode IN ('full', 'incremental')", name="mode"),)


class ServiceKind(Base):
    """A billed service: water, sewer, trash, stormwater or one the municipality defines."""

    __tablename__ = "service_kind"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    #: Whether service points of this kind have a meter that is read.
    metered: Mapped[bool] = mapped_column(default=False)
    receivable_gl_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))
    revenue_gl_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))


class TaxingJurisdiction(Base):
    """A body that levies property tax (city, county, school district, special district)."""

    __tablename__ = "taxing_jurisdiction"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: city, county, school, special.
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: The liability account holding tax collected on its behalf.
    liability_gl_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"), unique=True)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('city', 'county', 'school', 'special', 'state')", name="kind"),
    )
