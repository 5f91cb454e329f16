"""Marshmallow schemas of the ledger's API: the chart, the trial balance, the chain's verification."""

from __future__ import annotations

import marshmallow as ma

from ledger.models import GLType


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
