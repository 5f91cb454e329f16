"""/api/v1 endpoints for convenience fees: the rules in force, a new version of a rule, and
the fee a payment of an amount would carry (thin: validate, call a service, commit once).

The fee endpoint answers every pay page and client the same way
(`payments.convenience_fees.convenience_fee`); docs/payments.md "Convenience fees".
"""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint, abort
from marshmallow import validate

from core.auth import request_actor, requires
from core.extensions import db
from payments.convenience_fees import convenience_fee, rule_row, rules_in_force, set_rule
from payments.fee_terms import (
    FeeAccount,
    FeeBearer,
    FeeChannel,
    FeeCharge,
    FeeKind,
    FeeMethod,
    FeeRefund,
    FeeRuleError,
)

fees_api = Blueprint(
    "convenience_fees_api",
    __name__,
    url_prefix="/api/v1",
    description="Convenience fee rules per channel and method, and the fee of a payment",
)


def _one_of(enum_cls) -> validate.OneOf:
    return validate.OneOf([member.value for member in enum_cls])


class TierSchema(ma.Schema):
    """One tier of a tiered rule: amounts from `from_cents` up to `to_cents` (null: no end)."""

    from_cents = ma.fields.Integer(required=True, strict=True)
    to_cents = ma.fields.Integer(strict=True, allow_none=True, load_default=None)
    flat_cents = ma.fields.Integer(strict=True, load_default=0)
    #: A percentage as a decimal string ("2.25"); never a float.
    percent = ma.fields.String(load_default="0")


class FeeRuleRequestSchema(ma.Schema):
    """A new version of the rule of a channel and method (docs/payments.md)."""

    channel = ma.fields.String(required=True, validate=_one_of(FeeChannel))
    method = ma.fields.String(required=True, validate=_one_of(FeeMethod))
    kind = ma.fields.String(required=True, validate=_one_of(FeeKind))
    flat_cents = ma.fields.Integer(strict=True, load_default=0)
    percent = ma.fields.String(load_default="0")
    tiers = ma.fields.List(ma.fields.Nested(TierSchema), load_default=list)
    minimum_cents = ma.fields.Integer(strict=True, load_default=0)
    cap_cents = ma.fields.Integer(strict=True, allow_none=True, load_default=None)
    bearer = ma.fields.String(load_default="payer", validate=_one_of(FeeBearer))
    charge_as = ma.fields.String(load_default="own_line", validate=_one_of(FeeCharge))
    account = ma.fields.String(load_default="revenue", validate=_one_of(FeeAccount))
    refund = ma.fields.String(load_default="never", validate=_one_of(FeeRefund))


class FeeRuleSchema(FeeRuleRequestSchema):
    """A rule version as kept."""

    id = ma.fields.Integer()
    tiers = ma.fields.List(ma.fields.Nested(TierSchema))
    created_by = ma.fields.String()
    in_force = ma.fields.Boolean()


class FeeQuestionSchema(ma.Schema):
    """Which payment's fee is asked for."""

    channel = ma.fields.String(required=True, validate=_one_of(FeeChannel))
    method = ma.fields.String(required=True, validate=_one_of(FeeMethod))
    #: From the query string, so text digits; a fraction is still refused.
    amount_cents = ma.fields.Integer(required=True, validate=validate.Range(min=1))


class FeeQuoteSchema(ma.Schema):
    """The fee of a payment now, by the rule version that gives it (null: no rule)."""

    channel = ma.fields.String()
    method = ma.fields.String()
    amount_cents = ma.fields.Integer()
    fee_cents = ma.fields.Integer()
    rule_id = ma.fields.Integer(allow_none=True)
    charge_as = ma.fields.String()
    absorbed = ma.fields.Boolean()


@fees_api.route("/convenience-fee-rules")
@fees_api.response(200, FeeRuleSchema(many=True))
@requires("read")
def fee_rules():
    """The convenience fee rules in force, by channel and method."""
    return [rule_row(rule) for rule in rules_in_force(db.session)]


@fees_api.route("/convenience-fee-rules", methods=["POST"])
@fees_api.arguments(FeeRuleRequestSchema)
@fees_api.response(201, FeeRuleSchema)
@requires("write")
def new_fee_rule(args):
    """Keep a new version of a channel and method's rule; the one before is retired."""
    try:
        rule = set_rule(db.session, request_actor(), args)
    except FeeRuleError as error:
        db.session.rollback()
        abort(422, errors={error.field: [error.message]})
    db.session.commit()
    return rule_row(rule)


@fees_api.route("/convenience-fee")
@fees_api.arguments(FeeQuestionSchema, location="query")
@fees_api.response(200, FeeQuoteSchema)
@requires("read")
def fee_of_a_payment(args):
    """The convenience fee a payment of `amount_cents` by this channel and method carries now."""
    quote = convenience_fee(db.session, args["channel"], args["method"], args["amount_cents"])
    return {
        "channel": quote.channel.value,
        "method": quote.method.value,
        "amount_cents": args["amount_cents"],
        "fee_cents": quote.fee_cents,
        "rule_id": quote.rule_id,
        "charge_as": quote.charge_as.value,
        "absorbed": quote.absorbed,
    }
