"""Marshmallow schemas for the billing API and imports: cents are strict integers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from billing.models import AccountStatus, GLType, Language

ZIP = validate.Regexp(r"^\d{5}(-\d{4})?$", error="Use a ZIP code like 54901 or 54901-1234.")
STATE = validate.Regexp(r"^[A-Z]{2}$", error="Use the two-letter state code, e.g. WI.")
PHONE = validate.Regexp(r"^[0-9()+\-. x]{7,32}$", error="Use digits, spaces and ()+-. only.")


def _strip(value):
    """Trim surrounding whitespace from strings."""
    return value.strip() if isinstance(value, str) else value


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


class BalanceSchema(ma.Schema):
    """An account's balances from the ledger."""

    account_number = ma.fields.String()
    receivable_cents = ma.fields.Integer(strict=True)
    credit_cents = ma.fields.Integer(strict=True)
    as_of = ma.fields.Date(allow_none=True)


class AsOfSchema(ma.Schema):
    """An optional as-of date."""

    as_of = ma.fields.Date(metadata={"description": "Include entries dated on or before this day"})


class TrialBalanceRowSchema(ma.Schema):
    """One GL account in the trial balance."""

    code = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.Enum(GLType, by_value=True)
    debit_cents = ma.fields.Integer(strict=True)
    credit_cents = ma.fields.Integer(strict=True)
    balance_cents = ma.fields.Integer(strict=True)


class TrialBalanceSchema(ma.Schema):
    """The trial balance as of a date."""

    as_of = ma.fields.Date(allow_none=True)
    rows = ma.fields.List(ma.fields.Nested(TrialBalanceRowSchema))
    total_debit_cents = ma.fields.Integer(strict=True)
    total_credit_cents = ma.fields.Integer(strict=True)


class GLAccountSchema(ma.Schema):
    """An account of the chart."""

    code = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.Enum(GLType, by_value=True)
    category = ma.fields.String()
    active = ma.fields.Boolean()


class VerifySchema(ma.Schema):
    """The result of walking the hash chain."""

    ok = ma.fields.Boolean()
    length = ma.fields.Integer()
    head_hash = ma.fields.String()
    problem = ma.fields.String(allow_none=True)
    bad_seq = ma.fields.Integer(allow_none=True)
