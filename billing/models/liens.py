"""Delinquent property tax: the town's lien (tax certificate) sale rules, versioned, the sale
lists a clerk certifies and one lien per parcel on a list (docs/liens.md)."""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account, Parcel
from core.db import Base, CreatedAtMixin, enum_column, intpk


class LienStatus(enum.StrEnum):
    """Where a lien stands."""

    UNDER_LIEN = "under_lien"
    #: Its amount was paid in full (at the counter) after the sale.
    REDEEMED = "redeemed"
    #: Taken back by a supervisor (sold in error, a bankruptcy stay, an abatement).
    CANCELLED = "cancelled"


class LienRule(CreatedAtMixin, Base):
    """One version of the town's lien sale rules, in force from `effective` (the newest version
    whose effective date has come applies; a tie goes to the one loaded last)."""

    __tablename__ = "lien_rule"

    id: Mapped[intpk]
    effective: Mapped[date]
    #: How many days an installment must be delinquent (past its due date) on the sale date;
    #: None when the rule names a fixed sale date instead.
    days_after_delinquency: Mapped[int | None]
    #: The one day a sale may be held on or after (the statute's date), or None.
    sale_on: Mapped[date | None]
    #: The least delinquent amount (principal, penalties and interest) a parcel is listed for.
    min_amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: Property classes never listed (lower case), e.g. ["exempt"].
    excluded_classes: Mapped[list[str]] = mapped_column(sa.JSON)
    #: Exemption flags of a parcel that keep it off the list, e.g. ["senior-deferral"].
    excluded_flags: Mapped[list[str]] = mapped_column(sa.JSON)
    #: Whether a parcel under lien may no longer pay its tax bills online.
    closes_online: Mapped[bool]
    #: The advertising and certification cost the county adds per parcel (shown on the list).
    cost_per_parcel_cents: Mapped[int] = mapped_column(sa.BigInteger)
    recorded_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.CheckConstraint("min_amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint("cost_per_parcel_cents >= 0", name="cost_not_negative"),
        sa.CheckConstraint(
            "(days_after_delinquency IS NULL) <> (sale_on IS NULL)", name="one_timing"
        ),
    )


class LienSale(CreatedAtMixin, Base):
    """A certified sale list: the parcels offered at one sale, frozen when the clerk certified it."""

    __tablename__ = "lien_sale"

    id: Mapped[intpk]
    #: "LS-YYYY-MM-DD", the list's id printed in the file's header.
    list_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    #: One list per sale date: certifying the same sale twice is refused.
    sale_date: Mapped[date] = mapped_column(unique=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("lien_rule.id"))
    #: The town's date the list was certified; its amounts are as of that day.
    certified_on: Mapped[date]
    certified_by: Mapped[str] = mapped_column(sa.String(254))
    parcel_count: Mapped[int]
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)

    liens: Mapped[list[Lien]] = relationship(back_populates="sale", order_by="Lien.id")


class Lien(CreatedAtMixin, Base):
    """One parcel on a certified sale list, with the delinquent amount it was listed for."""

    __tablename__ = "lien"

    id: Mapped[intpk]
    sale_id: Mapped[int] = mapped_column(sa.ForeignKey("lien_sale.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(sa.ForeignKey("parcel.id"), index=True)
    #: The owner's account when certified (the account its tax bills are on).
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    sale_date: Mapped[date]
    #: The tax years listed, e.g. "2024 2025".
    tax_years: Mapped[str] = mapped_column(sa.String(60))
    principal_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: Penalties and interest booked by certification and unpaid then.
    charges_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The delinquent principal, penalties and interest as of certification (their sum).
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The rule's advertising and certification cost for the parcel (the county collects it).
    cost_cents: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[LienStatus] = mapped_column(
        enum_column(LienStatus, "lien_status"), default=LienStatus.UNDER_LIEN, index=True
    )
    #: Frozen from the rule: no online payment of the parcel's tax bills while under lien.
    closes_online: Mapped[bool]
    redeemed_on: Mapped[date | None]
    #: When, by whom and why a supervisor cancelled it (status cancelled).
    cancelled_on: Mapped[date | None]
    cancelled_by: Mapped[str | None] = mapped_column(sa.String(254))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))

    sale: Mapped[LienSale] = relationship(back_populates="liens")
    parcel: Mapped[Parcel] = relationship()
    account: Mapped[Account] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("sale_id", "parcel_id"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("amount_cents = principal_cents + charges_cents", name="amount_adds_up"),
        sa.CheckConstraint("cost_cents >= 0", name="cost_not_negative"),
    )


class LienInvoice(Base):
    """A tax invoice a lien is for (what a payment is checked against, set-based)."""

    __tablename__ = "lien_invoice"

    lien_id: Mapped[int] = mapped_column(sa.ForeignKey("lien.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), primary_key=True)
