"""Marshmallow schemas of the billing API (rules, runs, invoices): cents are strict integers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

#: A Decimal sent as a string ("11.95000000") is described as one, not as a JSON number.
DECIMAL_STRING = {"type": "string", "format": "decimal"}


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
    code = ma.fields.String(
        metadata={"description": "The rule set's code ('town': one rules file)."}
    )


class _Warnings:
    """What a load answers beside the stored rules: the texts missing in a town's language."""

    warnings = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Texts with no wording in one of the town's languages."},
    )


class RatePlanLoadSchema(_Warnings, RatePlanSchema):
    """A rate plan as loaded, with the load's warnings."""


class LevyLoadSchema(_Warnings, LevySchema):
    """A levy as loaded, with the load's warnings."""


class PenaltyRulesLoadSchema(_Warnings, PenaltyRulesSchema):
    """Penalty rules as loaded, with the load's warnings."""


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
    skipped = ma.fields.List(
        ma.fields.Tuple((ma.fields.String(), ma.fields.String())),
        metadata={"description": "(invoice number, why) of each invoice left out"},
    )


class RunRequestSchema(ma.Schema):
    """Open (and preview) a billing run."""

    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(required=True, validate=validate.OneOf(["utility", "tax"]))
    cycle = ma.fields.String(
        validate=validate.Regexp(
            r"^\d{4}(-\d{2}|-estimate)?$", error="Use YYYY-MM, YYYY or YYYY-estimate."
        )
    )
    issue_date = ma.fields.Date(required=True)
    due_date = ma.fields.Date(required=True)
    #: A billing cycle's code and its period's first day, in place of `cycle` (utility runs).
    billing_cycle = ma.fields.String(validate=validate.Length(min=1, max=24))
    period_start = ma.fields.Date()

    @ma.validates_schema
    def one_cycle(self, data, **_kwargs):
        """Either a cycle (a month or a tax year) or a billing cycle with its period."""
        if data.get("billing_cycle"):
            if data.get("cycle") or data.get("kind") != "utility":
                raise ma.ValidationError(
                    "billing_cycle bills a utility period; leave cycle out", "billing_cycle"
                )
            if not data.get("period_start"):
                raise ma.ValidationError("the period's first day is needed", "period_start")
        elif not data.get("cycle"):
            raise ma.ValidationError("Missing data for required field.", "cycle")


class RunSchema(ma.Schema):
    """A billing run and its report."""

    id = ma.fields.Integer()
    billing_cycle_id = ma.fields.Integer(allow_none=True)
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
    #: The texts by language as posted, and the places the rules wrote the rate with.
    descriptions = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), allow_none=True
    )
    units = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), allow_none=True)
    rate_places = ma.fields.Integer(allow_none=True)


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
    descriptions = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), allow_none=True
    )
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
    resident_text = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Words for the resident (statements, notices); optional."},
    )


class CreditMemoRequestSchema(ma.Schema):
    """Issue a credit memo."""

    class Meta:
        unknown = ma.RAISE

    amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reason = ma.fields.String(required=True, validate=validate.Length(5, 500))
    resident_text = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Words for the resident (statements, notices); optional."},
    )


class CreditMemoSchema(ma.Schema):
    """A credit memo."""

    number = ma.fields.String()
    amount_cents = ma.fields.Integer()
    reason = ma.fields.String()
    resident_text = ma.fields.String(allow_none=True)
    issued_on = ma.fields.Date()
    issued_by = ma.fields.String()


class ClosedDaySchema(ma.Schema):
    """One of the town's own closed days (docs/penalties.md, "Working days")."""

    day = ma.fields.Date()
    name = ma.fields.String()


class DepositRulesSchema(PenaltyRulesSchema):
    """The deposit rules in force (docs/deposits.md)."""


class DepositRulesLoadSchema(_Warnings, DepositRulesSchema):
    """Deposit rules as loaded, with the load's warnings (none: they hold no resident texts)."""


class DepositSchema(ma.Schema):
    """A deposit in the register, with what it holds today."""

    id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    held_since = ma.fields.Date()
    source = ma.fields.String()
    reference = ma.fields.String(allow_none=True)
    status = ma.fields.Function(lambda deposit: deposit.status.value)
    held_cents = ma.fields.Integer()
    interest_cents = ma.fields.Integer()
    interest_through = ma.fields.Date(allow_none=True)
    closed_on = ma.fields.Date(allow_none=True)
