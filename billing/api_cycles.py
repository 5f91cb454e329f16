"""/api/v1 endpoints for billing cycles (routes, books), their calendars and accounts, the
periods due to bill, the CSV imports of cycles, and service kinds."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, request
from flask_smorest import Blueprint, abort

from accounts.imports import ImportFailed
from accounts.schemas import ImportQuerySchema, ImportResultSchema
from billing.cycle_calendar import CalendarError, PeriodDates
from billing.cycle_imports import import_assignments, import_calendars
from billing.cycle_schemas import (
    AssignResultSchema,
    AssignSchema,
    CalendarGenerateSchema,
    CycleCreateSchema,
    CycleSchema,
    DuePeriodSchema,
    DueQuerySchema,
    PeriodsLoadSchema,
    ServiceKindCreateSchema,
    ServiceKindSchema,
)
from billing.cycles import (
    add_periods,
    assign_accounts,
    create_cycle,
    cycle_by_code,
    generate_periods,
    periods_to_bill,
)
from billing.models import BillingCycle
from billing.service_kinds import ServiceKindError, add_service_kind, service_kinds
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from core.limits import body_limit

cycles_api = Blueprint(
    "cycles_api",
    __name__,
    url_prefix="/api/v1/billing-cycles",
    description="Billing cycles (routes, books), their calendars and accounts",
)
service_kinds_api = Blueprint(
    "service_kinds_api",
    __name__,
    url_prefix="/api/v1/service-kinds",
    description="The services the town bills, with their GL accounts",
)


def _refuse(error: Exception, default_field: str = "_request"):
    """Roll back and answer 422 with the field the message names."""
    db.session.rollback()
    field, _sep, message = str(error).partition(": ")
    abort(422, errors={field if message else default_field: [message or str(error)]})


def _cycle_or_404(code: str) -> BillingCycle:
    """A cycle by code, or 404."""
    try:
        return cycle_by_code(db.session, code)
    except CalendarError:
        abort(404, message=f"No billing cycle {code}.")


@cycles_api.route("")
@cycles_api.response(200, CycleSchema(many=True))
@requires("read")
def list_cycles():
    """Every billing cycle with its calendar."""
    return db.session.scalars(sa.select(BillingCycle).order_by(BillingCycle.code)).all()


@cycles_api.route("", methods=["POST"])
@cycles_api.arguments(CycleCreateSchema)
@cycles_api.response(201, CycleSchema)
@requires("write")
def create(args):
    """Create a billing cycle (its calendar comes next)."""
    try:
        cycle = create_cycle(db.session, request_actor(), **args)
    except CalendarError as error:
        _refuse(error)
    db.session.commit()
    return cycle


@cycles_api.route("/due")
@cycles_api.arguments(DueQuerySchema, location="query")
@cycles_api.response(200, DuePeriodSchema(many=True))
@requires("read")
def due(args):
    """Periods of active cycles whose bill date has come (or comes by `through`), not billed."""
    today = town_today(current_app.config)
    return periods_to_bill(db.session, today, through=args["through"] or today)


@cycles_api.route("/<code>")
@cycles_api.response(200, CycleSchema)
@requires("read")
def get_cycle(code: str):
    """One billing cycle with its calendar."""
    return _cycle_or_404(code)


@cycles_api.route("/<code>/periods", methods=["POST"])
@cycles_api.arguments(PeriodsLoadSchema)
@cycles_api.response(200, CycleSchema)
@requires("write")
def add_cycle_periods(args, code: str):
    """Add periods to the calendar; overlapping periods are refused, naming both."""
    cycle = _cycle_or_404(code)
    periods = [PeriodDates(**period) for period in args["periods"]]
    places = [f"periods.{n}" for n in range(len(periods))]
    try:
        add_periods(db.session, request_actor(), cycle, periods, places)
    except CalendarError as error:
        _refuse(error, "periods")
    db.session.commit()
    return cycle


@cycles_api.route("/<code>/calendar", methods=["POST"])
@cycles_api.arguments(CalendarGenerateSchema)
@cycles_api.response(200, CycleSchema)
@requires("write")
def generate(args, code: str):
    """Generate a standard cycle's calendar from its first period start and day offsets."""
    cycle = _cycle_or_404(code)
    try:
        generate_periods(db.session, request_actor(), cycle, **args)
    except CalendarError as error:
        _refuse(error)
    db.session.commit()
    return cycle


@cycles_api.route("/<code>/accounts", methods=["POST"])
@cycles_api.arguments(AssignSchema)
@cycles_api.response(200, AssignResultSchema)
@requires("write")
def assign(args, code: str):
    """Put accounts on the cycle; each one's next bill starts the day after its last."""
    cycle = _cycle_or_404(code)
    numbers = args["accounts"]
    try:
        moved = assign_accounts(
            db.session,
            request_actor(),
            cycle,
            numbers,
            [f"accounts.{n}" for n in range(len(numbers))],
        )
    except CalendarError as error:
        _refuse(error, "accounts")
    db.session.commit()
    return {"cycle": cycle.code, "moved": moved, "accounts": len(numbers)}


@cycles_api.route("/imports/<kind>", methods=["POST"])
@cycles_api.arguments(ImportQuerySchema, location="query")
@cycles_api.response(200, ImportResultSchema)
@cycles_api.doc(
    requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
)
@requires("write")
def import_file(args, kind: str):
    """Import cycle_calendars.csv ("calendars") or cycle_accounts.csv ("accounts"); all or none."""
    loaders = {"calendars": import_calendars, "accounts": import_assignments}
    if kind not in loaders:
        abort(404, message=f"No cycle import {kind}; use calendars or accounts.")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        abort(400, message="The file must be UTF-8 text.")
    try:
        result = loaders[kind](db.session, request_actor(), text, dry_run=args["dry_run"])
    except ImportFailed as failure:
        db.session.rollback()
        abort(422, errors={"rows": failure.errors})
    if args["dry_run"]:
        db.session.rollback()
    else:
        db.session.commit()
    return result


@service_kinds_api.route("")
@service_kinds_api.response(200, ServiceKindSchema(many=True))
@requires("read")
def list_service_kinds():
    """Every service kind with its GL accounts."""
    return [
        _service(kind, revenue, receivable)
        for kind, revenue, receivable in service_kinds(db.session)
    ]


@service_kinds_api.route("", methods=["POST"])
@service_kinds_api.arguments(ServiceKindCreateSchema)
@service_kinds_api.response(201, ServiceKindSchema)
@requires("approve")
def add(args):
    """Add a service kind with new GL accounts, or with existing ones of the right kind."""
    try:
        kind, revenue, receivable = add_service_kind(
            db.session,
            request_actor(),
            code=args["code"],
            name=args["name"],
            metered=args["metered"],
            revenue_code=args["revenue_gl"],
            receivable_code=args["receivable_gl"],
        )
    except ServiceKindError as error:
        _refuse(error)
    db.session.commit()
    return _service(kind, revenue, receivable)


def _service(kind, revenue: str, receivable: str) -> dict:
    """A service kind as the API shows it."""
    return {
        "code": kind.code,
        "name": kind.name,
        "metered": kind.metered,
        "revenue_gl": revenue,
        "receivable_gl": receivable,
    }


def init_app(app, api) -> None:
    """Register the blueprints."""
    api.register_blueprint(cycles_api)
    api.register_blueprint(service_kinds_api)
    body_limit(app, "cycles_api.import_file", "UPLOAD_MAX_CONTENT_LENGTH")
