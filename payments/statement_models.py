"""Bank statements and their lines: what the bank says it credited and debited, matched to the books.

One statement per file (BAI2 or CSV), imported once: by the SHA-256 of its bytes and by
(bank account, statement date, sequence). Each line is matched to at most one book item and
each book item to at most one line (docs/bank-statements.md).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, enum_column, intpk, utcnow


class StatementFormat(enum.StrEnum):
    """The file a statement came in."""

    BAI2 = "bai2"
    CSV = "csv"


class LineStatus(enum.StrEnum):
    """What became of a statement line."""

    #: Matched to a book item (a deposit, a Stripe payout): it clears.
    MATCHED = "matched"
    #: A bank fee the fee rule took: posted Dr 5400 Bank service charges / Cr 1000 Bank.
    FEE_POSTED = "fee_posted"
    #: Nothing in the books matched it: a reconciliation item waits for a clerk.
    QUEUED = "queued"


class MatchKind(enum.StrEnum):
    """The kind of book item a line matched; with `matched_ref` it names the item."""

    #: A BankDeposit (drawers, lockbox batches), by its number "BD-YYYY-NNNNNN".
    BANK_DEPOSIT = "bank_deposit"
    #: A Stripe payout posted to the bank, by its id "po_...".
    PAYOUT = "payout"
    #: A bank fee posted from the line itself, by its entry's source id.
    BANK_FEE = "bank_fee"


class BankStatement(Base):
    """A bank statement of one account for one date, imported once."""

    __tablename__ = "bank_statement"

    id: Mapped[intpk]
    #: The bank account number as the file gives it.
    bank_account: Mapped[str] = mapped_column(sa.String(64))
    statement_date: Mapped[date] = mapped_column(index=True)
    #: The bank's file or statement number; "" when the file has none.
    sequence: Mapped[str] = mapped_column(sa.String(32))
    format: Mapped[StatementFormat] = mapped_column(
        enum_column(StatementFormat, "statement_format")
    )
    #: The layout a CSV file was read with (payments/statement_layouts); "bai2" for BAI2.
    layout: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str] = mapped_column(sa.String(255))
    #: Hex SHA-256 of the file's bytes: the same file is never imported twice.
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: The bank's ledger balances of the day (BAI2 type codes 010 and 015), in cents.
    opening_ledger_cents: Mapped[int] = mapped_column(sa.BigInteger)
    closing_ledger_cents: Mapped[int] = mapped_column(sa.BigInteger)
    line_count: Mapped[int]
    credit_cents: Mapped[int] = mapped_column(sa.BigInteger)
    debit_cents: Mapped[int] = mapped_column(sa.BigInteger)
    matched_count: Mapped[int]
    fee_count: Mapped[int]
    queued_count: Mapped[int]
    imported_by: Mapped[str] = mapped_column(sa.String(254))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint(
            "bank_account", "statement_date", "sequence", name="uq_bank_statement_day"
        ),
    )


class BankStatementLine(Base):
    """One credit (positive) or debit (negative) of a statement, and what it matched."""

    __tablename__ = "bank_statement_line"

    id: Mapped[intpk]
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_statement.id"), index=True)
    #: Its place in the file, from 1.
    number: Mapped[int]
    #: Signed: credits positive, debits negative.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The BAI2 detail type code ("301" commercial deposit, "698" miscellaneous fee...).
    type_code: Mapped[str] = mapped_column(sa.String(3))
    bank_reference: Mapped[str] = mapped_column(sa.String(64), default="")
    customer_reference: Mapped[str] = mapped_column(sa.String(64), default="")
    text: Mapped[str] = mapped_column(sa.String(500), default="")
    #: The day the bank credited or debited it (the statement date when the file gives none).
    value_date: Mapped[date]
    status: Mapped[LineStatus] = mapped_column(enum_column(LineStatus, "statement_line_status"))
    matched_kind: Mapped[MatchKind | None] = mapped_column(
        enum_column(MatchKind, "statement_match_kind")
    )
    #: The deposit number, payout id or fee entry the line matched.
    matched_ref: Mapped[str | None] = mapped_column(sa.String(64))
    #: Which rule matched it: "reference", "amount_and_date", "fee_rule".
    rule: Mapped[str | None] = mapped_column(sa.String(24))

    __table_args__ = (
        sa.UniqueConstraint("statement_id", "number", name="uq_bank_statement_line_number"),
        # NOTE: one book item clears one line, ever: a second statement naming the same deposit
        # or payout cannot match it again.
        sa.UniqueConstraint("matched_kind", "matched_ref", name="uq_bank_statement_line_match"),
        sa.CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        sa.CheckConstraint(
            "(status = 'queued') = (matched_ref IS NULL)", name="matched_names_its_item"
        ),
    )
