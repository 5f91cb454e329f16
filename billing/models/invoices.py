"""Invoices, their lines and gap-free document numbers."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models.accounts import Account
from core.db import Base, CreatedAtMixin, enum_column, intpk


class InvoiceKind(enum.StrEnum):
    """What an invoice bills."""

    UTILITY = "utility"
    TAX = "tax"


class InvoiceStatus(enum.StrEnum):
    """Where an invoice stands; only payments, voids and write-offs move it."""

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"
    WRITTEN_OFF = "written_off"


class LineCategory(enum.StrEnum):
    """What a line is, which decides the order a payment settles it in."""

    CHARGE = "charge"
    FEE = "fee"
    TAX = "tax"
    PENALTY = "penalty"
    INTEREST = "interest"


class Invoice(CreatedAtMixin, Base):
    """A posted bill. It never changes once posted: it is voided and reissued instead."""

    __tablename__ = "invoice"

    id: Mapped[intpk]
    #: "YYYY-NNNNNN", gap-free within the year of issue.
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind, "invoice_kind"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    issue_date: Mapped[date]
    due_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_column(InvoiceStatus, "invoice_status"), default=InvoiceStatus.OPEN, index=True
    )
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: What is still owed on this invoice.
    balance_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The invoice this one reissues after a void.
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"), unique=True)

    account: Mapped[Account] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("total_cents >= 0", name="total_not_negative"),
        sa.CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
        sa.CheckConstraint("balance_cents <= total_cents", name="balance_within_total"),
        sa.CheckConstraint("period_end >= period_start", name="period_in_order"),
        sa.CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        sa.CheckConstraint("status <> 'paid' OR balance_cents = 0", name="paid_means_nothing_owed"),
        # NOTE: one live invoice per account, kind and period: a billing run
        # that is rerun cannot bill the same period twice. A voided invoice
        # steps aside for its reissue.
        sa.Index(
            "uq_invoice_account_kind_period",
            "account_id",
            "kind",
            "period_start",
            "period_end",
            unique=True,
            sqlite_where=sa.text("status <> 'void'"),
            postgresql_where=sa.text("status <> 'void'"),
        ),
    )

    def __repr__(self) -> str:
        return f"<Invoice {self.number} {self.status} {self.balance_cents}/{self.total_cents}>"


class InvoiceLine(Base):
    """One line of an invoice, with the arithmetic a resident can check."""

    __tablename__ = "invoice_line"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[LineCategory] = mapped_column(
        enum_column(LineCategory, "line_category"), default=LineCategory.CHARGE
    )
    quantity: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))
    unit: Mapped[str | None] = mapped_column(sa.String(24))
    unit_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 8))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The revenue or liability account credited for this line.
    gl_account_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    parcel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parcel.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (sa.UniqueConstraint("invoice_id", "position"),)


class NumberSeries(Base):
    """The next number of a gap-free series (invoices per year, receipts per year)."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.BigInteger, default=0)
