"""Row schemas of the CSV imports (docs/imports.md): one per file kind.

Every value arrives as text; empty cells are missing values. Money columns
are dollars with at most two decimals; readings are whole numbers.
"""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import validate

from accounts.models import Language, ReadingKind
from accounts.schemas import FLAG, PHONE, STATE, ZIP
from core.money import MoneyError, parse_dollars
from core.text import only_digits


class WholeNumber(ma.fields.Field):
    """A whole number written as text: "1234", not "1234.5"."""

    def _deserialize(self, value, attr, data, **kwargs):
        """Parse or explain."""
        text = str(value).strip().replace(",", "")
        if not only_digits(text.lstrip("-")):
            raise ma.ValidationError(f"{value} is not a whole number")
        return int(text)


class Dollars(ma.fields.Field):
    """Dollars and cents written as text ("185000" or "185,000.00"), loaded as cents."""

    def _deserialize(self, value, attr, data, **kwargs):
        """Parse or explain."""
        try:
            cents = parse_dollars(str(value))
        except MoneyError as error:
            raise ma.ValidationError(
                f"{error}; write dollars and cents, such as 185000.00"
            ) from None
        if cents < 0:
            raise ma.ValidationError(f"{value} is negative")
        return cents


class Flags(ma.fields.Field):
    """Semicolon-separated flags, e.g. "homestead;senior"."""

    def _deserialize(self, value, attr, data, **kwargs):
        """Split, trim and lower-case."""
        flags = [part.strip().lower() for part in str(value).split(";") if part.strip()]
        for flag in flags:
            if not flag.replace("_", "").isalnum():
                raise ma.ValidationError(f"{flag!r} is not a flag name")
        return sorted(set(flags))


class Attributes(ma.fields.Field):
    """Semicolon-separated name=number pairs, e.g. "impervious_area=3200;extra_carts=2"."""

    def _deserialize(self, value, attr, data, **kwargs):
        """Split and check each pair: a lower-case name and a non-negative number."""
        attributes = {}
        for part in (p.strip() for p in str(value).split(";")):
            if not part:
                continue
            name, sep, number = (x.strip() for x in part.partition("="))
            if not sep or not re.fullmatch(FLAG, name):
                raise ma.ValidationError(f"{part!r} is not name=number, e.g. impervious_area=3200")
            if not re.fullmatch(r"\d+(\.\d{1,4})?", number):
                raise ma.ValidationError(f"{name}: {number!r} is not a number like 3200 or 2.5")
            if name in attributes:
                raise ma.ValidationError(f"{name} is given twice")
            attributes[name] = number
        return attributes


class Ceilings(ma.fields.Field):
    """Frozen tax ceilings, "jurisdiction=dollars" separated by semicolons, e.g.
    "austin-isd=2500.00;travis-county=812.40"; loaded as {jurisdiction: cents}."""

    def _deserialize(self, value, attr, data, **kwargs):
        """Split and parse each ceiling, or explain which one is wrong."""
        ceilings: dict[str, int] = {}
        for part in (p.strip() for p in str(value).split(";") if p.strip()):
            code, sign, amount = (text.strip() for text in part.partition("="))
            if not sign or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", code.lower()):
                raise ma.ValidationError(
                    f"{part!r} is not jurisdiction=dollars (e.g. austin-isd=2500.00)"
                )
            try:
                cents = parse_dollars(amount)
            except MoneyError as error:
                raise ma.ValidationError(f"{code}: {error}") from None
            if cents < 0:
                raise ma.ValidationError(f"{code}: a ceiling of {amount} is below zero")
            if code.lower() in ceilings:
                raise ma.ValidationError(f"{code}: given twice")
            ceilings[code.lower()] = cents
        return ceilings or None


class Row(ma.Schema):
    """Common behaviour: unknown columns are refused, empty cells are missing."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def drop_empty(self, data, **_kwargs):
        """Treat empty cells as absent and trim the rest."""
        return {k: v.strip() for k, v in data.items() if isinstance(v, str) and v.strip()}


class AccountRow(Row):
    """accounts.csv"""

    account_number = ma.fields.String(
        validate=validate.Regexp(r"^\d{8}$", error="must be 8 digits")
    )
    holder_name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    mail_street = ma.fields.String(required=True, validate=validate.Length(1, 200))
    mail_street2 = ma.fields.String(validate=validate.Length(max=200))
    mail_city = ma.fields.String(required=True, validate=validate.Length(1, 100))
    mail_state = ma.fields.String(required=True, validate=STATE)
    mail_zip = ma.fields.String(required=True, validate=ZIP)
    email = ma.fields.Email()

    @ma.pre_load
    def upper_state(self, data, **_kwargs):
        """State codes are written in capitals; accept them in any case."""
        state = data.get("mail_state")
        return {**data, "mail_state": state.strip().upper()} if isinstance(state, str) else data

    phone = ma.fields.String(validate=PHONE)
    language = ma.fields.Enum(Language, by_value=True, load_default=Language.EN)
    paperless = ma.fields.Boolean(load_default=False)
    #: Eligibility for rate plans' credits, e.g. "low_income;senior" (docs/rates.md).
    flags = Flags()


class ParcelRow(Row):
    """parcels.csv"""

    parcel_number = ma.fields.String(required=True, validate=validate.Length(1, 40))
    situs_street = ma.fields.String(required=True, validate=validate.Length(1, 200))
    situs_city = ma.fields.String(required=True, validate=validate.Length(1, 100))
    situs_zip = ma.fields.String(required=True, validate=ZIP)
    property_class = ma.fields.String(required=True, validate=validate.Length(1, 32))
    owner_account = ma.fields.String(
        required=True, validate=validate.Regexp(r"^\d{8}$", error="must be 8 digits")
    )
    exemptions = Flags(load_default=list)
    tax_ceilings = Ceilings(load_default=None)


class AssessmentRow(Row):
    """assessments.csv"""

    parcel_number = ma.fields.String(required=True)
    tax_year = ma.fields.Integer(required=True, strict=False, validate=validate.Range(1900, 2200))
    market_value = Dollars()
    assessed_value = Dollars()

    @ma.validates_schema
    def needs_a_value(self, data, **_kwargs):
        """A valuation needs a market or an assessed value."""
        if "market_value" not in data and "assessed_value" not in data:
            raise ma.ValidationError("give market_value, assessed_value or both", "market_value")


class ServicePointRow(Row):
    """service_points.csv"""

    account_number = ma.fields.String(
        required=True, validate=validate.Regexp(r"^\d{8}$", error="must be 8 digits")
    )
    service_kind = ma.fields.String(required=True)
    service_street = ma.fields.String(required=True, validate=validate.Length(1, 200))
    service_city = ma.fields.String(required=True, validate=validate.Length(1, 100))
    service_zip = ma.fields.String(required=True, validate=ZIP)
    meter_id = ma.fields.String(validate=validate.Length(1, 40))
    meter_size = ma.fields.String(validate=validate.Length(1, 16))
    dial_digits = WholeNumber(validate=validate.Range(3, 12))
    meter_unit = ma.fields.String(validate=validate.Length(1, 16))
    dwelling_units = WholeNumber(load_default=1, validate=validate.Range(1, 10000))
    rate_plan = ma.fields.String()
    usage_from_meter = ma.fields.String()
    installed_on = ma.fields.Date(required=True)
    #: What per_unit charges count, e.g. "impervious_area=3200;extra_carts=2" (docs/rates.md).
    attributes = Attributes()

    @ma.validates_schema
    def meter_needs_a_unit(self, data, **_kwargs):
        """A meter is read in a unit."""
        if data.get("meter_id") and not data.get("meter_unit"):
            raise ma.ValidationError(
                "a meter needs its unit (gallons, cubic feet, ...)", "meter_unit"
            )


class ReadingRow(Row):
    """readings.csv"""

    meter_id = ma.fields.String(required=True)
    read_on = ma.fields.Date(required=True)
    reading = WholeNumber(
        required=True, validate=validate.Range(min=0, error="must not be negative")
    )
    kind = ma.fields.Enum(ReadingKind, by_value=True, load_default=ReadingKind.ACTUAL)
    note = ma.fields.String(validate=validate.Length(max=200))
