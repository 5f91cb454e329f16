"""/api/v1 endpoints for parcels, service points, readings, rules, imports, runs and invoices."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request
from flask_smorest import Blueprint, abort
from sqlalchemy.orm import selectinload

from billing import adjustments, rules
from billing.adjustments import AdjustmentError
from billing.computed import RuleError
from billing.imports import KINDS, ImportFailed, import_csv
from billing.models import (
    Account,
    BillingRun,
    Invoice,
    InvoiceKind,
    MeterReading,
    Parcel,
    PenaltyRuleSet,
    RatePlan,
    ServicePoint,
    Settlement,
    TaxYearLevy,
)
from billing.penalty_service import assess_penalties
from billing.runs import RunError, RunOptions, open_run, post_run, preview_run
from billing.schemas import (
    AssessResultSchema,
    AssessSchema,
    CreditMemoRequestSchema,
    CreditMemoSchema,
    ImportQuerySchema,
    ImportResultSchema,
    InvoiceDetailSchema,
    InvoiceQuerySchema,
    InvoiceSchema,
    LevySchema,
    ParcelSchema,
    PenaltyRulesSchema,
    RatePlanSchema,
    ReadingQuerySchema,
    ReadingSchema,
    RulesDocumentSchema,
    RunRequestSchema,
    RunSchema,
    ServicePointSchema,
    VoidSchema,
)
from core.auth import request_actor, requires
from core.db import get_by_id
from core.extensions import db
from core.pagination import page_of
from core.settings import municipal_today

data_api = Blueprint(
    "data_api",
    __name__,
    url_prefix="/api/v1",
    description="Parcels, service points, readings, imports",
)
rules_api = Blueprint(
    "rules_api", __name__, url_prefix="/api/v1", description="Rate plans, levies, penalty rules"
)
runs_api = Blueprint(
    "runs_api", __name__, url_prefix="/api/v1/billing-runs", description="Billing runs"
)
invoices_api = Blueprint(
    "invoices_api", __name__, url_prefix="/api/v1/invoices", description="Invoices"
)


@data_api.route("/parcels")
@data_api.response(200, ParcelSchema(many=True))
@data_api.paginate()
@requires("read")
def list_parcels(pagination_parameters):
    """Parcels with their values."""
    return page_of(
        sa.select(Parcel).options(selectinload(Parcel.valuations)).order_by(Parcel.parcel_number),
        pagination_parameters,
    )


@data_api.route("/parcels/<parcel_number>")
@data_api.response(200, ParcelSchema)
@requires("read")
def get_parcel(parcel_number: str):
    """One parcel."""
    parcel = db.session.scalar(sa.select(Parcel).where(Parcel.parcel_number == parcel_number))
    if parcel is None:
        abort(404, message=f"No parcel {parcel_number}.")
    return parcel


@data_api.route("/accounts/<number>/service-points")
@data_api.response(200, ServicePointSchema(many=True))
@requires("read")
def account_service_points(number: str):
    """The service points of an account."""
    account = db.session.scalar(sa.select(Account).where(Account.number == number))
    if account is None:
        abort(404, message=f"No account {number}.")
    return account.service_points


@data_api.route("/readings")
@data_api.arguments(ReadingQuerySchema, location="query")
@data_api.response(200, ReadingSchema(many=True))
@data_api.paginate()
@requires("read")
def list_readings(args, pagination_parameters):
    """The reads of one meter, newest first."""
    query = (
        sa.select(MeterReading)
        .join(ServicePoint)
        .where(ServicePoint.meter_id == args["meter_id"])
        .order_by(MeterReading.read_on.desc())
    )
    if args.get("since"):
        query = query.where(MeterReading.read_on >= args["since"])
    return page_of(query, pagination_parameters)


@data_api.route("/imports/<kind>", methods=["POST"])
@data_api.arguments(ImportQuerySchema, location="query")
@data_api.response(200, ImportResultSchema)
@data_api.doc(
    requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
)
@requires("write")
def import_file(args, kind: str):
    """Import a CSV file (docs/imports.md) sent as the text/csv body; all rows or none."""
    kind = kind.replace("-", "_")
    if kind not in KINDS:
        abort(404, message=f"No import kind {kind}; use one of {', '.join(KINDS)}.")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        abort(400, message="The file must be UTF-8 text.")
    try:
        result = import_csv(
            db.session,
            request_actor(),
            kind,
            text,
            code_key=current_app.config["ACCESS_CODE_KEY"],
            dry_run=args["dry_run"],
        )
    except ImportFailed as failure:
        db.session.rollback()
        abort(422, errors={"rows": failure.errors})
    db.session.commit()
    return result


def _load_rules(loader, document: dict, dry_run: bool):
    """Validate and store a rules document; 422 naming the place on error."""
    try:
        row = loader(db.session, request_actor(), document)
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
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, RatePlanSchema)
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
@rules_api.arguments(RulesDocumentSchema)
@rules_api.arguments(ImportQuerySchema, location="query")
@rules_api.response(200, LevySchema)
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
@rules_api.response(200, PenaltyRulesSchema)
@requires("write")
def load_penalty_rules(document, args):
    """Load a new version of the penalty rules (docs/penalties.md)."""
    return _load_rules(rules.load_penalty_rules, document, args["dry_run"])


@rules_api.route("/penalties/assess", methods=["POST"])
@rules_api.arguments(AssessSchema)
@rules_api.response(200, AssessResultSchema)
@requires("write")
def assess(args):
    """Assess penalties and interest owed as of a date (each at most once)."""
    today = municipal_today(current_app.config)
    if args["as_of"] > today:
        # NOTE: a charge is owed for a month of delinquency that has begun, never
        # for one still to come; a later day would also charge every month up to it.
        abort(422, errors={"as_of": [f"Assess as of {today} or an earlier day."]})
    result = assess_penalties(
        db.session,
        request_actor(),
        as_of=args["as_of"],
        rounding=current_app.config["ROUNDING_RULE"],
        dry_run=args["dry_run"],
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
            cycle=args["cycle"],
            issue_date=args["issue_date"],
            due_date=args["due_date"],
        )
        if run.status.value != "posted":
            preview_run(db.session, run, RunOptions.from_config(current_app.config))
    except (RunError, RuleError) as error:
        db.session.rollback()
        abort(422, errors={"cycle": [str(error)]})
    db.session.commit()
    return run


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
            on=municipal_today(current_app.config),
        )
    except AdjustmentError as error:
        db.session.rollback()
        abort(409, message=str(error))
    db.session.commit()
    return _detail(invoice)


@invoices_api.route("/<number>/reissue", methods=["POST"])
@invoices_api.response(201, InvoiceDetailSchema)
@requires("approve")
def reissue(number: str):
    """Reissue a voided invoice from the corrected data (supervisor)."""
    old = _invoice_or_404(number)
    config = current_app.config
    today = municipal_today(config)
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
            on=municipal_today(current_app.config),
        )
    except AdjustmentError as error:
        db.session.rollback()
        field, _sep, message = str(error).partition(": ")
        abort(422, errors={field if message else "_request": [message or str(error)]})
    db.session.commit()
    return memo


def init_app(app, api) -> None:
    """Register the blueprints."""
    for blueprint in (data_api, rules_api, runs_api, invoices_api):
        api.register_blueprint(blueprint)
