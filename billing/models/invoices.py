"""Invoices, their lines, installments and charges, their settlements and credit memos."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


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
    #: A credit against the tax that someone else pays (the state): a negative line.
    CREDIT = "credit"


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
    billing_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_run.id"), index=True)
    #: The parcel a tax invoice bills.
    parcel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parcel.id"), index=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(sa.String(500))
    #: Words for the resident about the void (statements); void_reason is the staff's own.
    void_text: Mapped[str | None] = mapped_column(sa.String(200))
    #: The final bill of a stop of service (billing/service_orders.py): mailed to the forwarding
    #: address of its order.
    is_final: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: An opening balance carried over from the old system with its original dates
    #: (docs/conversion.md); its lines credit the conversion-clearing account, not revenue.
    converted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: An estimated first installment of a tax year (billing/estimates.py): a percent of the
    #: parcel's prior-year tax, deducted on the year's own bill (the second installment).
    estimated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    account: Mapped[Account] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    installments: Mapped[list[InvoiceInstallment]] = relationship(
        back_populates="invoice", order_by="InvoiceInstallment.number", cascade="all, delete-orphan"
    )
    charges: Mapped[list[InvoiceCharge]] = relationship(
        back_populates="invoice", order_by="InvoiceCharge.id"
    )

    __table_args__ = (
        sa.CheckConstraint("total_cents >= 0", name="total_not_negative"),
        sa.CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
        sa.CheckConstraint("balance_cents <= total_cents", name="balance_within_total"),
        sa.CheckConstraint("period_end >= period_start", name="period_in_order"),
        sa.CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        sa.CheckConstraint("status <> 'paid' OR balance_cents = 0", name="paid_means_nothing_owed"),
        sa.CheckConstraint("kind <> 'tax' OR parcel_id IS NOT NULL", name="tax_has_a_parcel"),
        # NOTE: one live invoice per account and period for utilities, per parcel
        # and tax year for taxes (and one estimated first installment beside it): a billing
        # run that is rerun cannot bill the same period twice. A voided invoice steps aside
        # for its reissue.
        sa.Index(
            "uq_invoice_utility_period",
            "account_id",
            "period_start",
            "period_end",
            unique=True,
            sqlite_where=sa.text("kind = 'utility' AND status <> 'void'"),
            postgresql_where=sa.text("kind = 'utility' AND status <> 'void'"),
        ),
        sa.Index(
            "uq_invoice_tax_parcel_period",
            "parcel_id",
            "period_start",
            "period_end",
            "estimated",
            unique=True,
            sqlite_where=sa.text("kind = 'tax' AND status <> 'void'"),
            postgresql_where=sa.text("kind = 'tax' AND status <> 'void'"),
        ),
    )

    def __repr__(self) -> str:
        return f"<Invoice {self.number} {self.status} {self.balance_cents}/{self.total_cents}>"


class InvoiceLine(Base):
    """One line of an invoice, with the arithmetic a resident can check."""

    __tablename__ = "invoice_line"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"))
    position: Mapped[int]
    description: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[LineCategory] = mapped_column(
        enum_column(LineCategory, "line_category"), default=LineCategory.CHARGE
    )
    #: The description by language as posted ({"en": ..., "es": ...}); `description` is the
    #: default language's. Lines never change, so each keeps what it said in every language.
    descriptions: Mapped[dict | None] = mapped_column(sa.JSON)
    quantity: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))
    unit: Mapped[str | None] = mapped_column(sa.String(24))
    #: The unit by language as posted; `unit` is the default language's.
    units: Mapped[dict | None] = mapped_column(sa.JSON)
    unit_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 8))
    #: The decimal places the rules wrote the rate with ("4.4400": 4), as it is printed.
    rate_places: Mapped[int | None] = mapped_column(sa.SmallInteger)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The revenue or liability account credited for this line.
    gl_account_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))
    #: The receivable debited for this line; payments credit it back.
    receivable_gl_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    parcel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parcel.id"))
    #: What produced it: "plan:<code>@<version date>:<component>", "levy:<year>:<jurisdiction>", ...
    source: Mapped[str | None] = mapped_column(sa.String(120))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (sa.UniqueConstraint("invoice_id", "position"),)


class InvoiceInstallment(Base):
    """One installment of a tax invoice; the leftover cents sit on the first."""

    __tablename__ = "invoice_installment"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"))
    number: Mapped[int]
    due_date: Mapped[date]
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    balance_cents: Mapped[int] = mapped_column(sa.BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="installments")

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "number"),
        sa.CheckConstraint("number BETWEEN 1 AND 12", name="number_range"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint(
            "balance_cents >= 0 AND balance_cents <= amount_cents", name="balance_within_amount"
        ),
    )


class InvoiceCharge(CreatedAtMixin, Base):
    """A penalty or interest charge assessed on an invoice after it was posted.

    The invoice itself never changes; its charges are documents of their own,
    assessed at most once per rule and period.
    """

    __tablename__ = "invoice_charge"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"))
    #: 0 for the invoice as a whole, else the installment the charge is on.
    installment_number: Mapped[int] = mapped_column(default=0)
    rule_id: Mapped[str] = mapped_column(sa.String(40))
    #: The period the charge is for, e.g. "once" or "2027-03"; stable across reruns.
    period_key: Mapped[str] = mapped_column(sa.String(24))
    category: Mapped[LineCategory] = mapped_column(enum_column(LineCategory, "charge_category"))
    description: Mapped[str] = mapped_column(sa.String(200))
    #: The description by language as assessed; `description` is the default language's.
    descriptions: Mapped[dict | None] = mapped_column(sa.JSON)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    balance_cents: Mapped[int] = mapped_column(sa.BigInteger)
    assessed_on: Mapped[date]
    #: The date of the ledger entry that booked it (the assessment's as-of date), from which it
    #: is owed; assessed_on is the day the rule charges it for, which may be earlier.
    booked_on: Mapped[date]
    #: Set when a supervisor waives the charge (it is reversed in the ledger).
    waived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Words for the resident about the waiver (statements); the reason stays in the audit log.
    waiver_text: Mapped[str | None] = mapped_column(sa.String(200))

    invoice: Mapped[Invoice] = relationship(back_populates="charges")

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "installment_number", "rule_id", "period_key"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(
            "balance_cents >= 0 AND balance_cents <= amount_cents", name="balance_within_amount"
        ),
    )


class SettlementKind(enum.StrEnum):
    """What reduced an invoice's balance."""

    CREDIT_APPLIED = "credit_applied"
    CREDIT_MEMO = "credit_memo"
    PAYMENT = "payment"
    WRITE_OFF = "write_off"
    #: A settlement taken back (a refund or a voided payment): it re-opens what it had settled.
    REVERSAL = "reversal"
    #: An early-payment discount honoured when the bill was paid in full by its pay-by date.
    DISCOUNT = "discount"
    #: An honoured discount taken back: a payment it was earned with was refunded, voided or
    #: lost to a dispute, so the bill (or the installment) is no longer paid in full in time.
    DISCOUNT_REVERSED = "discount_reversed"

    @property
    def reopens(self) -> bool:
        """Whether the settlement gives back what an earlier one took off (its cents count
        against what is settled)."""
        return self in REOPENING


#: The kinds that give back what an earlier settlement took off.
REOPENING = (SettlementKind.REVERSAL, SettlementKind.DISCOUNT_REVERSED)


class Settlement(CreatedAtMixin, Base):
    """One reduction of what an invoice owes (principal, an installment or a charge), dated."""

    __tablename__ = "settlement"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    installment_number: Mapped[int] = mapped_column(default=0)
    charge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_charge.id"))
    #: The receivable this settlement credited (a service's, property tax or penalties).
    receivable_gl_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))
    kind: Mapped[SettlementKind] = mapped_column(enum_column(SettlementKind, "settlement_kind"))
    #: The document behind it: a credit memo number, a payment id, ...
    source_id: Mapped[str | None] = mapped_column(sa.String(64))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    settled_on: Mapped[date]

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class CreditMemo(CreatedAtMixin, Base):
    """An adjustment that lowers what an invoice owes, with a reason; supervisor only."""

    __tablename__ = "credit_memo"

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Words for the resident (statements, notices); the reason above is the staff's own.
    resident_text: Mapped[str | None] = mapped_column(sa.String(200))
    issued_on: Mapped[date]
    issued_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class InvoiceDiscount(Base):
    """An early-payment discount of a tax invoice: paying what it still owes in full by pay_by
    costs amount_due_cents; the difference is posted to the levy's discount account."""

    __tablename__ = "invoice_discount"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: 0: the discount is for paying the whole bill (the only kind a levy gives today).
    installment_number: Mapped[int] = mapped_column(default=0)
    pay_by: Mapped[date]
    percent: Mapped[Decimal] = mapped_column(sa.Numeric(7, 4))
    discount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    amount_due_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The discount (contra-revenue or expense) account the levy names; debited when honoured.
    gl_account_id: Mapped[int] = mapped_column(sa.ForeignKey("gl_account.id"))

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "installment_number", "pay_by"),
        sa.CheckConstraint("discount_cents >= 0", name="discount_not_negative"),
        sa.CheckConstraint("amount_due_cents >= 0", name="amount_due_not_negative"),
    )
