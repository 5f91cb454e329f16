"""Marshmallow schemas of the accounts API: accounts, balances, parcels, service points, readings, imports."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from accounts.models import AccountStatus, Language

ZIP = validate.Regexp(r"^\d{5}(-\d{4})?$", error="Use a ZIP code like 54901 or 54901-1234.")


STATE = validate.Regexp(r"^[A-Z]{2}$", error="Use the two-letter state code, e.g. WI.")


PHONE = validate.Regexp(r"^[0-9()+\-. x]{7,32}$", error="Use digits, spaces and ()+-. only.")
#: An account flag or a service point attribute name: lower-case letters, digits, underscores.
FLAG = r"^[a-z][a-z0-9_]{0,31}$"


class AccountFields(ma.Schema):
    """The fields a clerk may set on an account."""

    holder_name = ma.fields.String(validate=validate.Length(1, 200))
    mail_street = ma.fields.String(validate=validate.Length(1, 200))
    mail_street2 = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    mail_city = ma.fields.String(validate=validate.Length(1, 100))
    mail_state = ma.fields.String(validate=STATE)
    mail_zip = ma.fields.String(validate=ZIP)
    email = ma.fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = ma.fields.String(allow_none=True, validate=PHONE)
    language = ma.fields.Enum(Language, by_value=True)
    paperless = ma.fields.Boolean()
    #: Eligibility for rate plans' credits, e.g. ["low_income", "senior"] (docs/rates.md).
    flags = ma.fields.List(
        ma.fields.String(
            validate=validate.Regexp(FLAG, error="must be a flag name such as senior")
        ),
        validate=validate.Length(max=20),
    )

    @ma.pre_load
    def strip_strings(self, data, **_kwargs):
        """Trim whitespace, turn empty optional strings into None."""
        if not isinstance(data, dict):
            return data
        cleaned = {key: _strip(value) for key, value in data.items()}
        for key in ("mail_street2", "email", "phone"):
            if cleaned.get(key) == "":
                cleaned[key] = None
        if isinstance(cleaned.get("mail_state"), str):
            cleaned["mail_state"] = cleaned["mail_state"].upper()
        return cleaned


class AccountCreateSchema(AccountFields):
    """A new account: name and mailing address are required."""

    class Meta:
        unknown = ma.RAISE

    holder_name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    mail_street = ma.fields.String(required=True, validate=validate.Length(1, 200))
    mail_city = ma.fields.String(required=True, validate=validate.Length(1, 100))
    mail_state = ma.fields.String(required=True, validate=STATE)
    mail_zip = ma.fields.String(required=True, validate=ZIP)


class AccountUpdateSchema(AccountFields):
    """A change to an account; only the fields sent are changed."""

    class Meta:
        unknown = ma.RAISE

    status = ma.fields.Enum(AccountStatus, by_value=True)


class AccountSchema(AccountFields):
    """An account as the API shows it."""

    number = ma.fields.String(dump_only=True)
    status = ma.fields.Enum(AccountStatus, by_value=True, dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class NewAccountSchema(AccountSchema):
    """A created account, with the access code to print or tell the holder."""

    access_code = ma.fields.String(dump_only=True)


class AccountQuerySchema(ma.Schema):
    """Filters for the account list."""

    q = ma.fields.String(metadata={"description": "Part of the holder name or the account number"})
    status = ma.fields.Enum(AccountStatus, by_value=True)


class ParcelValuationSchema(ma.Schema):
    """A parcel's values for one tax year."""

    tax_year = ma.fields.Integer()
    market_value_cents = ma.fields.Integer(allow_none=True)
    assessed_value_cents = ma.fields.Integer(allow_none=True)


class ParcelSchema(ma.Schema):
    """A parcel with its values."""

    parcel_number = ma.fields.String()
    situs_street = ma.fields.String()
    situs_city = ma.fields.String()
    situs_zip = ma.fields.String()
    property_class = ma.fields.String()
    owner_account = ma.fields.Function(lambda parcel: parcel.owner_account.number)
    exemption_flags = ma.fields.List(ma.fields.String())
    #: Frozen tax ceilings by jurisdiction, in cents.
    tax_ceilings = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), allow_none=True
    )
    valuations = ma.fields.List(ma.fields.Nested(ParcelValuationSchema))


class ServicePointSchema(ma.Schema):
    """A service point."""

    id = ma.fields.Integer()
    account_number = ma.fields.Function(lambda point: point.account.number)
    service_kind = ma.fields.String()
    service_street = ma.fields.String()
    service_city = ma.fields.String()
    service_zip = ma.fields.String()
    meter_id = ma.fields.String(allow_none=True)
    meter_size = ma.fields.String(allow_none=True)
    dial_digits = ma.fields.Integer(allow_none=True)
    meter_unit = ma.fields.String(allow_none=True)
    dwelling_units = ma.fields.Integer()
    rate_plan_id = ma.fields.Integer(allow_none=True)
    usage_from_id = ma.fields.Integer(allow_none=True)
    installed_on = ma.fields.Date()
    removed_on = ma.fields.Date(allow_none=True)
    attributes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


class ReadingSchema(ma.Schema):
    """A meter read."""

    id = ma.fields.Integer(dump_only=True)
    meter_id = ma.fields.Function(lambda read: read.service_point.meter_id)
    read_on = ma.fields.Date()
    reading = ma.fields.Integer(strict=True)
    kind = ma.fields.String()
    recorded_by = ma.fields.String()
    note = ma.fields.String(allow_none=True)


class ReadingQuerySchema(ma.Schema):
    """Filters for readings."""

    meter_id = ma.fields.String(required=True)
    since = ma.fields.Date()


class ImportQuerySchema(ma.Schema):
    """Options of an import."""

    dry_run = ma.fields.Boolean(load_default=False)


class ImportResultSchema(ma.Schema):
    """What an import did."""

    kind = ma.fields.String()
    rows = ma.fields.Integer()
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    dry_run = ma.fields.Boolean()


def _strip(value):
    """Trim surrounding whitespace from strings."""
    return value.strip() if isinstance(value, str) else value
