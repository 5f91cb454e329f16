"""/api/v1/plan-rule and /api/v1/plans: the payment-plan rule as data, plans by status, and a
plan made for an account (thin: validate, call billing.arrangements, commit once, answer)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint, abort

from accounts.schemas import ImportQuerySchema
from accounts.services import find_account
from billing.arrangement_lists import plans_by_status
from billing.arrangement_rules import load_plan_rule, rule_to_document
from billing.arrangements import PlanRequest, propose_plan, rule_on
from billing.arrangements_terms import PlanError
from billing.computed import RuleError
from billing.models import PlanStatus
from billing.schemas import RulesDocumentSchema
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db

plans_api = Blueprint(
    "plans_api", __name__, url_prefix="/api/v1", description="Payment arrangements"
)
GROUPS = ("utility", "tax", "other")


class PlanRuleSchema(ma.Schema):
    """A version of the payment-plan rule as its document (docs/arrangements.md)."""

    effective = ma.fields.String()
    classes = ma.fields.List(ma.fields.String())
    min_down = ma.fields.Dict(metadata={"description": "percent and amount, quoted strings"})
    max_installments = ma.fields.Integer(strict=True)
    max_included = ma.fields.String(metadata={"description": "dollars; absent: no limit"})
    grace_days = ma.fields.Integer(strict=True)
    pause = ma.fields.Dict(metadata={"description": "penalties and reminders, true or false"})
    residents_may_request = ma.fields.Boolean()


class PlanQuerySchema(ma.Schema):
    """Which plans to list."""

    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in PlanStatus]))


class PlanInstallmentSchema(ma.Schema):
    """One scheduled payment; number 0 is the down payment."""

    number = ma.fields.Integer(strict=True)
    due_date = ma.fields.Date()
    amount_cents = ma.fields.Integer(strict=True)


class PlanSchema(ma.Schema):
    """A plan: its balance, status and schedule (what is paid is read from the bills)."""

    id = ma.fields.Integer(strict=True)
    account_number = ma.fields.Function(lambda plan: plan.account.number)
    status = ma.fields.Function(lambda plan: plan.status.value)
    classes = ma.fields.List(ma.fields.String())
    included_cents = ma.fields.Integer(strict=True)
    down_payment_cents = ma.fields.Integer(strict=True)
    start_date = ma.fields.Date()
    accepted_on = ma.fields.Date(allow_none=True)
    ended_on = ma.fields.Date(allow_none=True)
    installments = ma.fields.List(ma.fields.Nested(PlanInstallmentSchema))


class PlanRequestSchema(ma.Schema):
    """A plan asked for an account: equal installments, or each installment's amount."""

    account_number = ma.fields.String(required=True)
    classes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(GROUPS)),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    down_payment_cents = ma.fields.Integer(strict=True, required=True)
    installments = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=120))
    amounts_cents = ma.fields.List(
        ma.fields.Integer(strict=True), validate=ma.validate.Length(min=1, max=120)
    )

    @ma.validates_schema
    def _one_schedule(self, data, **_kwargs):
        if ("installments" in data) == ("amounts_cents" in data):
            raise ma.ValidationError("give installments or amounts_cents", "installments")


@plans_api.route("/plan-rule")
@plans_api.response(200, PlanRuleSchema)
@requires("read")
def get_plan_rule():
    """The payment-plan rule in force today, as the document that loads it."""
    rule = rule_on(db.session, town_today(current_app.config))
    if rule is None:
        abort(404, message="No payment-plan rule is in force.")
    return rule_to_document(rule)


@plans_api.route("/plan-rule", methods=["POST"])
@plans_api.arguments(RulesDocumentSchema)
@plans_api.arguments(ImportQuerySchema, location="query")
@plans_api.response(200, PlanRuleSchema)
@requires("write")
def load_rule(document, args):
    """Load a new version of the payment-plan rule (docs/arrangements.md, "The rules")."""
    try:
        rule = load_plan_rule(db.session, request_actor(), document)
    except RuleError as error:
        db.session.rollback()
        place, _sep, message = str(error).partition(": ")
        abort(422, errors={place if message else "document": [message or str(error)]})
    answer = rule_to_document(rule)
    if args["dry_run"]:
        db.session.rollback()
    else:
        db.session.commit()
    return answer


@plans_api.route("/plans")
@plans_api.arguments(PlanQuerySchema, location="query")
@plans_api.response(200, PlanSchema(many=True))
@requires("read")
def list_plans(args):
    """The latest plans (of a status), newest first."""
    status = PlanStatus(args["status"]) if args.get("status") else None
    rows = plans_by_status(db.session, status, town_today(current_app.config))
    return [row.plan for row in rows]


@plans_api.route("/plans", methods=["POST"])
@plans_api.arguments(PlanRequestSchema)
@plans_api.response(201, PlanSchema)
@requires("write")
def make_plan(data):
    """Make a plan within the rule; it waits for the resident's acceptance or signature."""
    account = find_account(db.session, data["account_number"])
    if account is None:
        abort(422, errors={"account_number": ["no such account"]})
    amounts = data.get("amounts_cents")
    request = PlanRequest(
        tuple(data["classes"]),
        data["down_payment_cents"],
        data.get("installments"),
        tuple(amounts) if amounts else None,
    )
    try:
        plan = propose_plan(
            db.session,
            request_actor(),
            account,
            request,
            as_of=town_today(current_app.config),
            via="clerk",
        )
    except PlanError as error:
        db.session.rollback()
        abort(422, errors={error.field: [error.message]})
    db.session.commit()
    return plan
