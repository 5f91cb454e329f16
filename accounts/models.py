"""Billing accounts, parcels, service points, meters and readings."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


class AccountStatus(enum.StrEnum):
    """Whether an account is billed."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"


class Language(enum.StrEnum):
    """The language of the account's notices and pages."""

    EN = "en"
    ES = "es"


class ReadingKind(enum.StrEnum):
    """How a meter reading was obtained."""

    ACTUAL = "actual"
    ESTIMATED = "estimated"
    FINAL = "final"


class Account(CreatedAtMixin, Base):
    """A billing account: who is billed, where the bill is mailed."""

    __tablename__ = "account"

    id: Mapped[intpk]
    #: Eight digits: seven digits of sequence and a Luhn check digit (docs/accounts.md).
    number: Mapped[str] = mapped_column(sa.String(12), unique=True)
    holder_name: Mapped[str] = mapped_column(sa.String(200))
    mail_street: Mapped[str] = mapped_column(sa.String(200))
    mail_street2: Mapped[str | None] = mapped_column(sa.String(200))
    mail_city: Mapped[str] = mapped_column(sa.String(100))
    mail_state: Mapped[str] = mapped_column(sa.String(2))
    #: ZIP or ZIP+4 ("54901" or "54901-1234").
    mail_zip: Mapped[str] = mapped_column(sa.String(10), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    language: Mapped[Language] = mapped_column(
        enum_column(Language, "account_language"), default=Language.EN
    )
    paperless: Mapped[bool] = mapped_column(default=False)
    #: Set when mail to `email` bounced permanently; notices go by print until the address changes.
    email_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Hash of the quick-pay access code printed on notices (docs/accounts.md).
    access_code_hash: Mapped[str] = mapped_column(sa.String(255))
    #: Bumped to issue a new access code; older notices' codes stop working.
    access_code_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus, "account_status"), default=AccountStatus.ACTIVE
    )
    #: Eligibility for a rate plan's credits, e.g. ["low_income", "senior"] (docs/rates.md).
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    #: The billing cycle (route, book) the account is read and billed on (billing.cycles);
    #: none means the town's default cycle.
    billing_cycle_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("billing_cycle.id"), index=True
    )
    #: The account's number in the system the town converted from (docs/conversion.md); found
    #: by the clerks' search and accepted by quick pay for CONVERSION_FORMER_NUMBER_DAYS.
    former_number: Mapped[str | None] = mapped_column(sa.String(40), unique=True, index=True)
    #: The day the account was converted from the old system; none for accounts opened here.
    converted_on: Mapped[date | None]

    parcels: Mapped[list[Parcel]] = relationship(back_populates="owner_account")
    service_points: Mapped[list[ServicePoint]] = relationship(back_populates="account")

    __table_args__ = (
        sa.CheckConstraint("length(mail_state) = 2", name="mail_state_two_letters"),
        sa.CheckConstraint("access_code_version >= 1", name="access_code_version_positive"),
    )

    def __repr__(self) -> str:
        return f"<Account {self.number} {self.holder_name}>"


class Parcel(CreatedAtMixin, Base):
    """A piece of taxable real property."""

    __tablename__ = "parcel"

    id: Mapped[intpk]
    #: The assessor's parcel id (APN/PIN), e.g. "251-0042-00".
    parcel_number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    situs_street: Mapped[str] = mapped_column(sa.String(200))
    situs_city: Mapped[str] = mapped_column(sa.String(100))
    situs_zip: Mapped[str] = mapped_column(sa.String(10))
    #: The assessor's class, e.g. residential, commercial, agricultural.
    property_class: Mapped[str] = mapped_column(sa.String(32))
    owner_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: Exemption eligibility, e.g. ["homestead", "senior"].
    exemption_flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: Frozen tax ceilings by jurisdiction code, in cents (e.g. Texas' over-65 school tax
    #: ceiling): {"austin-isd": 250000}; that levy's tax is never more than its ceiling.
    tax_ceilings: Mapped[dict | None] = mapped_column(sa.JSON)

    owner_account: Mapped[Account] = relationship(back_populates="parcels")
    valuations: Mapped[list[ParcelValuation]] = relationship(
        back_populates="parcel", order_by="ParcelValuation.tax_year"
    )


class ParcelValuation(Base):
    """A parcel's values for one tax year."""

    __tablename__ = "parcel_valuation"

    id: Mapped[intpk]
    parcel_id: Mapped[int] = mapped_column(sa.ForeignKey("parcel.id"))
    tax_year: Mapped[int]
    market_value_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    assessed_value_cents: Mapped[int | None] = mapped_column(sa.BigInteger)

    parcel: Mapped[Parcel] = relationship(back_populates="valuations")

    __table_args__ = (
        sa.UniqueConstraint("parcel_id", "tax_year"),
        sa.CheckConstraint(
            "market_value_cents IS NULL OR market_value_cents >= 0",
            name="market_value_not_negative",
        ),
        sa.CheckConstraint(
            "assessed_value_cents IS NULL OR assessed_value_cents >= 0",
            name="assessed_value_not_negative",
        ),
        sa.CheckConstraint(
            "market_value_cents IS NOT NULL OR assessed_value_cents IS NOT NULL", name="has_a_value"
        ),
        sa.CheckConstraint("tax_year BETWEEN 1900 AND 2200", name="tax_year_plausible"),
    )


class ServicePoint(CreatedAtMixin, Base):
    """Where a service is delivered and billed: a meter, a cart, a roof."""

    __tablename__ = "service_point"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    service_kind: Mapped[str] = mapped_column(sa.ForeignKey("service_kind.code"))
    service_street: Mapped[str] = mapped_column(sa.String(200))
    service_city: Mapped[str] = mapped_column(sa.String(100))
    service_zip: Mapped[str] = mapped_column(sa.String(10))
    meter_id: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    #: Meter size as the tariff names it, e.g. '5/8"', '1"', '2"'.
    meter_size: Mapped[str | None] = mapped_column(sa.String(16))
    #: Digits on the register; the reading rolls over to zero at 10**dial_digits.
    dial_digits: Mapped[int | None]
    #: The register's unit, e.g. gallons, cubic feet, HCF.
    meter_unit: Mapped[str | None] = mapped_column(sa.String(16))
    dwelling_units: Mapped[int] = mapped_column(default=1)
    #: The tariff this point is billed on; none means "no rate plan" in a billing run's exceptions.
    rate_plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rate_plan.id"))
    #: An unmetered service billed on another point's usage (sewer on the water meter).
    usage_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    installed_on: Mapped[date]
    removed_on: Mapped[date | None]
    #: What a rate plan's per_unit charges count, as decimal strings by name, e.g.
    #: {"impervious_area": "3200", "extra_carts": "2"} (docs/rates.md).
    attributes: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    #: The premises (accounts/locations.py); the account above is the one responsible for it now.
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_location.id"), index=True
    )

    account: Mapped[Account] = relationship(back_populates="service_points")
    usage_from: Mapped[ServicePoint | None] = relationship(remote_side="ServicePoint.id")
    readings: Mapped[list[MeterReading]] = relationship(
        back_populates="service_point", order_by="MeterReading.read_on"
    )

    __table_args__ = (
        # The pair is the target of MeterReading's composite foreign key.
        sa.UniqueConstraint("id", "installed_on", name="uq_service_point_id_installed_on"),
        sa.CheckConstraint("dwelling_units >= 1", name="dwelling_units_positive"),
        sa.CheckConstraint(
            "dial_digits IS NULL OR dial_digits BETWEEN 3 AND 12", name="dial_digits_range"
        ),
        sa.CheckConstraint(
            "removed_on IS NULL OR removed_on >= installed_on", name="removed_after_installed"
        ),
    )


class MeterReading(Base):
    """One read of a meter's register."""

    __tablename__ = "meter_reading"

    id: Mapped[intpk]
    service_point_id: Mapped[int]
    #: Copied from the service point so that a CHECK can refuse reads before installation.
    meter_installed_on: Mapped[date]
    read_on: Mapped[date]
    #: The register value in the meter's unit; whole numbers only.
    reading: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[ReadingKind] = mapped_column(
        enum_column(ReadingKind, "reading_kind"), default=ReadingKind.ACTUAL
    )
    #: Who or what recorded it: a user's e-mail, an import file, "estimate".
    recorded_by: Mapped[str] = mapped_column(sa.String(254))
    note: Mapped[str | None] = mapped_column(sa.String(200))

    service_point: Mapped[ServicePoint] = relationship(back_populates="readings")

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["service_point_id", "meter_installed_on"],
            ["service_point.id", "service_point.installed_on"],
            name="fk_meter_reading_service_point",
            onupdate="CASCADE",
        ),
        sa.UniqueConstraint("service_point_id", "read_on"),
        sa.CheckConstraint("read_on >= meter_installed_on", name="read_after_installation"),
        sa.CheckConstraint("reading >= 0", name="reading_not_negative"),
    )


# The premises, responsibility and service order models live in their own module; importing it
# here puts their tables beside the service points' wherever accounts' models are loaded.
from accounts import locations as _locations  # noqa: E402, F401
