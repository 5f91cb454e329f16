"""/api/v1 endpoints for rules (rate plans, levies, penalty rules), penalties, billing runs and invoices."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort
from sqlalchemy.orm import selectinload

from accounts.models import Account
from accounts.schemas import (
    ImportQuerySchema,
)
from billing import adjustments, closed_days, deposit_checks, rules
from billing.adjustments import AdjustmentError
from billing.api_positions import positions_api
from billing.computed import RuleError
from billing.cycle_calendar import CalendarError
from billing.cycles import cycle_by_code
from billing.models import (
    BillingRun,
    Deposit,
    DepositRuleSet,
    Invoice,
    InvoiceKind,
    PenaltyRuleSet,
    RatePlan,
    Settlement,
    TaxYearLevy,
)
from billing.penalty_service import AssessError, assess_penalties, check_as_of
from billing.runs import RunError, RunOptions, open_run, post_run, preview_run
from billing.schemas import (
    AssessResultSchema,
    AssessSchema,
    ClosedDaySchema,
    CreditMemoRequestSchema,
    CreditMemoSchema,
    DepositRulesLoadSchema,
    DepositRulesSchema,
    DepositSchema,
    InvoiceDetailSchema,
    InvoiceQuerySchema,
    InvoiceSchema,
    LevyLoadSchema,
    LevySchema,
    PenaltyRulesLoadSchema,
    PenaltyRulesSchema,
    RatePlanLoadSchema,
    RatePlanSchema,
    RulesDocumentSchema,
    RunRequestSchema,
    RunSchema,
    VoidSchema,
)
from core.apidoc import links
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.pagination import page_of

rules_api = Blueprint(
    "rules_api", __name__, url_prefix="/api/v1", description="Rate plans, levies, penalty rules"
)
runs_api = Blueprint(
    "runs_api", __name__, url_prefix="/api/v1/billing-runs", description="Billing runs"
)
invoices_api = Blueprint(
    "invoices_api", __name__, url_prefix="/api/v1/invoices", description="Invoices"
)


class _Loaded:
    """A stored rules row and the warnings its load gave, as the load's answer shows them."""

    def __init__(self, row, warnings: list[str]):
        """The row as stored, and what its load warned of."""
        self.row, self.warnings = row, warnings

    def __getattr__(self, name: str):
        """The row's own fields."""
        return getattr(self.row, name)


def _load_rules(loader, document: dict, dry_run: bool):
    """Validate and store a rules document; 422 naming the place on error, warnings with it."""
    warnings: list[str] = []
    try:
        row = _Loaded(loader(db.session, request_actor(), document, warnings), warnings)
    except RuleError as error:
        db.session.rollback()
        place, _sep, message = str(error).partition(": ")
        abort(422, errors={place if message else "document": [message or str(error)]})
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return row


@rules_api.route("/rate-plans")
@rules_api.response(200, RatePlanSchema(many=True))
@requires("read")
def list_rate_plans():
    """Every rate plan."""
    return db.session.scalars(sa.select(RatePlan).order_by(RatePlan.code)).all()


@rules_api.route("/rate-plans", methods=["POST"])
@rules_api.doc(
    **links("200", plan=("GET /api/v1/rate-plans/{code}", {"code": "$response.body#/code"}))
)
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, RatePlanLoadSchema)
@requires("write")
def load_rate_plan(document, args):
    """Create or replace a rate plan from its document (docs/rates.md)."""
    return _load_rules(rules.load_rate_plan, document, args["dry_run"])


@rules_api.route("/rate-plans/<code>")
@rules_api.response(200, RatePlanSchema)
@requires("read")
def get_rate_plan(code: str):
    """One rate plan."""
    plan = db.session.scalar(sa.select(RatePlan).where(RatePlan.code == code))
    if plan is None:
        abort(404, message=f"No rate plan {code}.")
    return plan


@rules_api.route("/levies/<int:tax_year>")
@rules_api.response(200, LevySchema)
@requires("read")
def get_levy(tax_year: int):
    """The levy of a tax year."""
    # NOTE: a levy document's tax year is 1900 to 2200 (billing.levy_format); no other year
    # has a levy, and the column would not even hold some of them.
    row = db.session.get(TaxYearLevy, tax_year) if 1900 <= tax_year <= 2200 else None
    if row is None:
        abort(404, message=f"No levy for {tax_year}.")
    return row


@rules_api.route("/levies", methods=["POST"])
@rules_api.doc(
    **links("200", levy=("GET /api/v1/levies/{tax_year}", {"tax_year": "$response.body#/tax_year"}))
)
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, LevyLoadSchema)
@requires("write")
def load_levy(document, args):
    """Store a tax year's levy (docs/tax.md)."""
    return _load_rules(rules.load_levy, document, args["dry_run"])


@rules_api.route("/penalty-rules")
@rules_api.response(200, PenaltyRulesSchema)
@requires("read")
def get_penalty_rules():
    """The penalty rules in force."""
    row = db.session.scalar(
        sa.select(PenaltyRuleSet).order_by(PenaltyRuleSet.version.desc()).limit(1)
    )
    if row is None:
        abort(404, message="No penalty rules are loaded.")
    return row


@rules_api.route("/penalty-rules", methods=["POST"])
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, PenaltyRulesLoadSchema)
@requires("write")
def load_penalty_rules(document, args):
    """Load a new version of the penalty rules (docs/penalties.md)."""
    return _load_rules(rules.load_penalty_rules, document, args["dry_run"])


@rules_api.route("/penalty-sets")
@rules_api.response(200, PenaltyRulesSchema(many=True))
@requires("read")
def list_penalty_sets():
    """The penalty rule sets in force: the newest load of each, by code."""
    return rules.penalty_set_rows(db.session)


@rules_api.route("/penalty-sets/<code>")
@rules_api.response(200, PenaltyRulesSchema)
@requires("read")
def get_penalty_set(code: str):
    """One penalty rule set in force, with every version."""
    for row in rules.penalty_set_rows(db.session):
        if row.code == code:
            return row
    abort(404, message=f"No penalty rule set {code}.")


@rules_api.route("/closed-days")
@rules_api.response(200, ClosedDaySchema(many=True))
@requires("read")
def list_closed_days():
    """The town's own closed days, by date."""
    return closed_days.closed_day_rows(db.session)


@rules_api.route("/closed-days", methods=["POST"])
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, ClosedDaySchema(many=True))
@requires("write")
def load_closed_days(document, args):
    """Replace the town's own closed days with a holiday file's (docs/penalties.md)."""
    state = current_app.config.get("MUNICIPALITY_STATE", "")
    try:
        rows = closed_days.load_closed_days(db.session, request_actor(), document, state)
    except RuleError as error:
        db.session.rollback()
        place, _sep, message = str(error).partition(": ")
        abort(422, errors={place if message else "document": [message or str(error)]})
    answer = [{"day": row.day, "name": row.name} for row in rows]
    if args["dry_run"]:
        db.session.rollback()
    else:
        db.session.commit()
    return answer


@rules_api.route("/penalties/assess", methods=["POST"])
@rules_api.arguments(AssessSchema)
@rules_api.response(200, AssessResultSchema)
@requires("write")
def assess(args):
    """Assess penalties and interest owed as of a date (each at most once)."""
    try:
        check_as_of(args["as_of"], town_today(current_app.config))
    except AssessError as error:
        abort(422, errors={"as_of": [str(error)]})
    result = assess_penalties(
        db.session,
        request_actor(),
        as_of=args["as_of"],
        rounding=current_app.config["ROUNDING_RULE"],
        dry_run=args["dry_run"],
        town_state=current_app.config.get("MUNICIPALITY_STATE", ""),
    )
    db.session.commit()
    return result


def _run_or_404(run_id: int) -> BillingRun:
    """A run by id, or 404."""
    run = get_by_id(db.session, BillingRun, run_id)
    if run is None:
        abort(404, message=f"No billing run {run_id}.")
    return run


@runs_api.route("")
@runs_api.response(200, RunSchema(many=True))
@runs_api.paginate()
@requires("read")
def list_runs(pagination_parameters):
    """Billing runs, newest first."""
    return page_of(sa.select(BillingRun).order_by(BillingRun.id.desc()), pagination_parameters)


@runs_api.route("", methods=["POST"])
@runs_api.doc(
    **links(
        "200",
        run=("GET /api/v1/billing-runs/{run_id}", {"run_id": "$response.body#/id"}),
        post=("POST /api/v1/billing-runs/{run_id}/post", {"run_id": "$response.body#/id"}),
    )
)
@runs_api.arguments(RunRequestSchema)
@runs_api.response(200, RunSchema)
@requires("write")
def open_and_preview(args):
    """Open the run of a cycle and preview it: totals and exceptions, nothing posted."""
    try:
        run = open_run(
            db.session,
            request_actor(),
            kind=InvoiceKind(args["kind"]),
            cycle=args.get("cycle") or "",
            issue_date=args["issue_date"],
            due_date=args["due_date"],
            period=_requested_period(args),
        )
        if run.status.value != "posted":
            preview_run(db.session, run, RunOptions.from_config(current_app.config))
    except (RunError, RuleError) as error:
        db.session.rollback()
        field, _sep, message = str(error).partition(": ")
        if field in ("billing_cycle", "period_start"):
            abort(422, errors={field: [message]})
        abort(422, errors={"cycle": [str(error)]})
    db.session.commit()
    return run


def _requested_period(args: dict):
    """The billing cycle's period a run request names (billing_cycle, period_start), or None."""
    if not args.get("billing_cycle"):
        return None
    try:
        cycle = cycle_by_code(db.session, args["billing_cycle"], "billing_cycle")
    except CalendarError as error:
        raise RunError(str(error)) from None
    for period in cycle.periods:
        if period.period_start == args["period_start"]:
            return period
    raise RunError(
        f"period_start: cycle {cycle.code} has no period starting {args['period_start']}"
    )


@runs_api.route("/<int:run_id>")
@runs_api.response(200, RunSchema)
@requires("read")
def get_run(run_id: int):
    """A run's status and report."""
    return _run_or_404(run_id)


@runs_api.route("/<int:run_id>/post", methods=["POST"])
@runs_api.response(200, RunSchema)
@requires("write")
def post(run_id: int):
    """Post a previewed run (or finish one that was cut off); a posted run changes nothing."""
    run = _run_or_404(run_id)
    try:
        post_run(db.session, run, request_actor(), RunOptions.from_config(current_app.config))
    except (RunError, RuleError) as error:
        db.session.rollback()
        abort(409, message=str(error))
    return run


@invoices_api.route("")
@invoices_api.arguments(InvoiceQuerySchema, location="query")
@invoices_api.response(200, InvoiceSchema(many=True))
@invoices_api.paginate()
@requires("read")
def list_invoices(args, pagination_parameters):
    """Invoices, filtered by account, status, kind and due date."""
    query = sa.select(Invoice).options(selectinload(Invoice.account)).order_by(Invoice.number)
    if args.get("account"):
        query = query.join(Account).where(Account.number == args["account"])
    for name, column in (("status", Invoice.status), ("kind", Invoice.kind)):
        if args.get(name):
            query = query.where(column == args[name])
    if args.get("due_before"):
        query = query.where(Invoice.due_date < args["due_before"])
    if args.get("due_after"):
        query = query.where(Invoice.due_date > args["due_after"])
    return page_of(query, pagination_parameters)


def _invoice_or_404(number: str) -> Invoice:
    """An invoice by number, or 404."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None:
        abort(404, message=f"No invoice {number}.")
    return invoice


def _detail(invoice: Invoice) -> dict:
    """The invoice with everything that explains its balance."""
    settlements = db.session.scalars(
        sa.select(Settlement).where(Settlement.invoice_id == invoice.id).order_by(Settlement.id)
    ).all()
    owed = sum(c.balance_cents for c in invoice.charges if c.waived_at is None)
    replaces = (
        db.session.scalar(sa.select(Invoice.number).where(Invoice.id == invoice.replaces_id))
        if invoice.replaces_id
        else None
    )
    fields = {
        name: getattr(invoice, name) for name in InvoiceSchema().fields if name != "account_number"
    }
    return {
        **fields,
        "account": invoice.account,
        "lines": invoice.lines,
        "installments": invoice.installments,
        "charges": invoice.charges,
        "settlements": settlements,
        "charges_owed_cents": owed,
        "replaces": replaces,
        "void_reason": invoice.void_reason,
    }


@invoices_api.route("/<number>")
@invoices_api.response(200, InvoiceDetailSchema)
@requires("read")
def get_invoice(number: str):
    """One invoice with lines, installments, charges, settlements and balance."""
    return _detail(_invoice_or_404(number))


@invoices_api.route("/<number>/void", methods=["POST"])
@invoices_api.arguments(VoidSchema)
@invoices_api.response(200, InvoiceDetailSchema)
@requires("approve")
def void(args, number: str):
    """Void an invoice (supervisor): its ledger entries are reversed."""
    invoice = _invoice_or_404(number)
    try:
        adjustments.void_invoice(
            db.session,
            request_actor(),
            invoice,
            reason=args["reason"],
            on=town_today(current_app.config),
            resident_text=args["resident_text"],
        )
    except AdjustmentError as error:
        db.session.rollback()
        abort(409, message=str(error))
    db.session.commit()
    return _detail(invoice)


@invoices_api.route("/<number>/reissue", methods=["POST"])
@invoices_api.doc(
    **links(
        "201",
        invoice=("GET /api/v1/invoices/{number}", {"number": "$response.body#/number"}),
        notice=("POST /api/v1/invoices/{number}/notices", {"number": "$response.body#/number"}),
    )
)
@invoices_api.response(201, InvoiceDetailSchema)
@requires("approve")
def reissue(number: str):
    """Reissue a voided invoice from the corrected data (supervisor)."""
    old = _invoice_or_404(number)
    config = current_app.config
    today = town_today(config)
    try:
        new = adjustments.recompute_and_reissue(
            db.session,
            request_actor(),
            old,
            issue_date=today,
            due_date=max(old.due_date, today + timedelta(days=config["UTILITY_DUE_DAYS"])),
            rounding=config["ROUNDING_RULE"],
            spike_multiple=config["USAGE_SPIKE_MULTIPLE"],
        )
    except (AdjustmentError, RuleError) as error:
        db.session.rollback()
        abort(409, message=str(error))
    db.session.commit()
    return _detail(new)


@invoices_api.route("/<number>/credit-memos", methods=["POST"])
@invoices_api.arguments(CreditMemoRequestSchema)
@invoices_api.response(201, CreditMemoSchema)
@requires("approve")
def credit_memo(args, number: str):
    """Lower what an invoice owes, with a reason (supervisor)."""
    invoice = _invoice_or_404(number)
    try:
        memo = adjustments.issue_credit_memo(
            db.session,
            request_actor(),
            invoice,
            amount_cents=args["amount_cents"],
            reason=args["reason"],
            on=town_today(current_app.config),
            resident_text=args["resident_text"],
        )
    except AdjustmentError as error:
        db.session.rollback()
        field, _sep, message = str(error).partition(": ")
        abort(422, errors={field if message else "_request": [message or str(error)]})
    db.session.commit()
    return memo


def init_app(app, api) -> None:
    """Register the blueprints."""
    from billing import api_cycles
    from billing.api_liens import liens_api
    from billing.api_orders import orders_api
    from billing.api_plans import plans_api

    blueprints = (
        rules_api,
        runs_api,
        invoices_api,
        positions_api,
        orders_api,
        plans_api,
        liens_api,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    api_cycles.init_app(app, api)


@rules_api.route("/deposit-rules")
@rules_api.response(200, DepositRulesSchema)
@requires("read")
def current_deposit_rules():
    """The deposit rules in force (the newest version loaded)."""
    row = db.session.scalar(
        sa.select(DepositRuleSet).order_by(DepositRuleSet.version.desc()).limit(1)
    )
    if row is None:
        abort(404, message="No deposit rules are loaded.")
    return row


@rules_api.route("/deposit-rules", methods=["POST"])
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, DepositRulesLoadSchema)
@requires("write")
def load_deposit_rules(document, args):
    """Load a new version of the deposit rules (docs/deposits.md)."""
    return _load_rules(deposit_checks.load_deposit_rules, document, args["dry_run"])


@rules_api.route("/accounts/<number>/deposits")
@rules_api.response(200, DepositSchema(many=True))
@requires("read")
def account_deposits(number: str):
    """An account's deposits, held and closed, oldest first."""
    account = db.session.scalar(sa.select(Account).where(Account.number == number))
    if account is None:
        abort(404, message=f"No account {number}.")
    return db.session.scalars(
        sa.select(Deposit).where(Deposit.account_id == account.id).order_by(Deposit.id)
    ).all()
