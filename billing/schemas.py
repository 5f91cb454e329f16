"""Marshmallow schemas for the billing API and imports: cents are strict integers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from billing.models import AccountStatus, GLType, Language

ZIP = validate.Regexp(r"^\d{5}(-\d{4})?$", error="Use a ZIP code like 54901 or 54901-1234.")
STATE = validate.Regexp(r"^[A-Z]{2}$", error="Use the two-letter state code, e.g. WI.")
PHONE = validate.Regexp(r"^[0-9()+\-. x]{7,32}$", error="Use digits, spaces and ()+-. only.")
#: A Decimal sent as a string ("11.95000000") is described as one, not as a JSON number.
DECIMAL_STRING = {"type": "string", "format": "decimal"}


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


class RulesDocumentSchema(ma.Schema):
    """A rules document (rate plan, levy or penalty rules) as JSON; validated by its format module."""

    class Meta:
        unknown = ma.INCLUDE


class RatePlanSchema(ma.Schema):
    """A stored rate plan."""

    code = ma.fields.String()
    name = ma.fields.String()
    service_kind = ma.fields.String()
    unit = ma.fields.String(allow_none=True)
    document = ma.fields.Dict()
    updated_at = ma.fields.DateTime()


class LevySchema(ma.Schema):
    """A stored tax-year levy."""

    tax_year = ma.fields.Integer()
    document = ma.fields.Dict()
    loaded_at = ma.fields.DateTime()


class PenaltyRulesSchema(ma.Schema):
    """The penalty rules in force."""

    version = ma.fields.Integer()
    document = ma.fields.Dict()
    loaded_at = ma.fields.DateTime()
    loaded_by = ma.fields.String()


class AssessSchema(ma.Schema):
    """A penalty assessment request."""

    class Meta:
        unknown = ma.RAISE

    as_of = ma.fields.Date(required=True)
    dry_run = ma.fields.Boolean(load_default=False)


class AssessResultSchema(ma.Schema):
    """What an assessment did."""

    as_of = ma.fields.Date()
    invoices_checked = ma.fields.Integer()
    charges = ma.fields.Integer()
    cents = ma.fields.Integer()
    dry_run = ma.fields.Boolean()


class RunRequestSchema(ma.Schema):
    """Open (and preview) a billing run."""

    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(required=True, validate=validate.OneOf(["utility", "tax"]))
    cycle = ma.fields.String(
        required=True, validate=validate.Regexp(r"^\d{4}(-\d{2})?$", error="Use YYYY-MM or YYYY.")
    )
    issue_date = ma.fields.Date(required=True)
    due_date = ma.fields.Date(required=True)


class RunSchema(ma.Schema):
    """A billing run and its report."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    cycle = ma.fields.String()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date()
    issue_date = ma.fields.Date()
    due_date = ma.fields.Date()
    status = ma.fields.String()
    invoices_posted = ma.fields.Integer()
    total_posted_cents = ma.fields.Integer()
    report = ma.fields.Dict()
    posted_at = ma.fields.DateTime(allow_none=True)


class InvoiceLineSchema(ma.Schema):
    """One invoice line with its arithmetic."""

    position = ma.fields.Integer()
    description = ma.fields.String()
    category = ma.fields.String()
    quantity = ma.fields.Decimal(as_string=True, allow_none=True, metadata=DECIMAL_STRING)
    unit = ma.fields.String(allow_none=True)
    unit_rate = ma.fields.Decimal(as_string=True, allow_none=True, metadata=DECIMAL_STRING)
    amount_cents = ma.fields.Integer()


class InstallmentSchema(ma.Schema):
    """One installment of a tax invoice."""

    number = ma.fields.Integer()
    due_date = ma.fields.Date()
    amount_cents = ma.fields.Integer()
    balance_cents = ma.fields.Integer()


class ChargeSchema(ma.Schema):
    """A penalty or interest charge."""

    rule_id = ma.fields.String()
    period_key = ma.fields.String()
    category = ma.fields.String()
    description = ma.fields.String()
    amount_cents = ma.fields.Integer()
    balance_cents = ma.fields.Integer()
    assessed_on = ma.fields.Date()
    waived = ma.fields.Function(lambda charge: charge.waived_at is not None)


class SettlementSchema(ma.Schema):
    """Something that lowered what the invoice owes."""

    kind = ma.fields.String()
    source_id = ma.fields.String(allow_none=True)
    amount_cents = ma.fields.Integer()
    settled_on = ma.fields.Date()
    installment_number = ma.fields.Integer()


class InvoiceSchema(ma.Schema):
    """An invoice in a list."""

    number = ma.fields.String()
    account_number = ma.fields.String(attribute="account.number")
    kind = ma.fields.String()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date()
    issue_date = ma.fields.Date()
    due_date = ma.fields.Date()
    status = ma.fields.String()
    total_cents = ma.fields.Integer()
    balance_cents = ma.fields.Integer()


class InvoiceDetailSchema(InvoiceSchema):
    """An invoice with its lines, installments, charges and settlements."""

    lines = ma.fields.List(ma.fields.Nested(InvoiceLineSchema))
    installments = ma.fields.List(ma.fields.Nested(InstallmentSchema))
    charges = ma.fields.List(ma.fields.Nested(ChargeSchema))
    settlements = ma.fields.List(ma.fields.Nested(SettlementSchema))
    charges_owed_cents = ma.fields.Integer()
    replaces = ma.fields.String(allow_none=True)
    void_reason = ma.fields.String(allow_none=True)


class InvoiceQuerySchema(ma.Schema):
    """Filters for the invoice list."""

    account = ma.fields.String()
    status = ma.fields.String(
        validate=validate.OneOf(["open", "partially_paid", "paid", "void", "written_off"])
    )
    kind = ma.fields.String(validate=validate.OneOf(["utility", "tax"]))
    due_before = ma.fields.Date()
    due_after = ma.fields.Date()


class VoidSchema(ma.Schema):
    """Void an invoice."""

    class Meta:
        unknown = ma.RAISE

    reason = ma.fields.String(required=True, validate=validate.Length(5, 500))


class CreditMemoRequestSchema(ma.Schema):
    """Issue a credit memo."""

    class Meta:
        unknown = ma.RAISE

    amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reason = ma.fields.String(required=True, validate=validate.Length(5, 500))


class CreditMemoSchema(ma.Schema):
    """A credit memo."""

    number = ma.fields.String()
    amount_cents = ma.fields.Integer()
    reason = ma.fields.String()
    issued_on = ma.fields.Date()
    issued_by = ma.fields.String()
