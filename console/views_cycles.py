"""Billing cycles (routes, books) and service kinds in the console: create a cycle, generate
or upload its calendar, put accounts on it; add a service the town bills with its GL accounts.

Thin: each form calls the services the CLI and the API call (billing.cycles,
billing.cycle_imports, billing.service_kinds), commits once and shows the outcome.
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.imports import ImportFailed
from accounts.models import Account
from billing.cycle_calendar import FREQUENCIES, CalendarError
from billing.cycle_imports import import_assignments, import_calendars
from billing.cycles import assign_accounts, create_cycle, cycle_by_code, generate_periods
from billing.models import BillingCycle
from billing.service_kinds import ServiceKindError, add_service_kind, service_kinds
from core.auth import request_actor, requires
from core.extensions import db
from core.limits import body_limit

bp = Blueprint("cycles", __name__, url_prefix="/staff/billing-cycles", template_folder="templates")
kinds_bp = Blueprint(
    "service_kinds", __name__, url_prefix="/staff/service-kinds", template_folder="templates"
)
#: The largest CSV the page takes (the CLI takes any size).
MAX_UPLOAD = 5 * 1024 * 1024
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _page(errors: dict | None = None, status: int = 200, **shown):
    """The cycles page with the field errors and the values the clerk entered."""
    cycles = db.session.scalars(sa.select(BillingCycle).order_by(BillingCycle.code)).all()
    counts = dict(
        db.session.execute(
            sa.select(Account.billing_cycle_id, sa.func.count()).group_by(Account.billing_cycle_id)
        ).all()
    )
    accounts = {
        c.id: counts.get(c.id, 0) + (counts.get(None, 0) if c.is_default else 0) for c in cycles
    }
    page = render_template(
        "console/cycles.html",
        cycles=cycles,
        accounts=accounts,
        frequencies=FREQUENCIES,
        errors=errors or {},
        shown=shown,
    )
    return page, status


def _form(*names: str) -> dict[str, str]:
    """The form's fields, trimmed."""
    return {name: request.form.get(name, "").strip() for name in names}


def _field_error(error: Exception, default: str) -> dict[str, list[str]]:
    """A service's message as {field: [message]}."""
    field, _sep, message = str(error).partition(": ")
    return {field if message else default: [message or str(error)]}


@bp.get("/")
@login_required
@requires("read")
def index():
    """Every cycle with its calendar and accounts, and the forms to change them."""
    return _page()


@bp.post("/")
@login_required
@requires("write")
def create():
    """Create a cycle."""
    shown = _form("code", "name", "frequency")
    try:
        cycle = create_cycle(db.session, request_actor(), **shown)
    except CalendarError as error:
        db.session.rollback()
        return _page(_field_error(error, "code"), 422, **shown)
    db.session.commit()
    flash(f"Billing cycle {cycle.code} created; give it a calendar next.")
    return redirect(url_for(".index"), 303)


def _day(raw: str) -> date | None:
    """A YYYY-MM-DD day, or None."""
    try:
        return date.fromisoformat(raw) if _ISO_DAY.fullmatch(raw) else None
    except ValueError:
        return None


def _whole(raw: str, default: int) -> int | None:
    """A whole number the clerk typed (may be negative), the default if blank, None if not one."""
    if not raw:
        return default
    return int(raw) if re.fullmatch(r"-?\d{1,3}", raw) else None


@bp.post("/calendar")
@login_required
@requires("write")
def calendar():
    """Generate a standard cycle's calendar for a year from its first period start."""
    names = ("cycle", "first_start", "read_days_after_end", "bill_days_after_read")
    shown = _form(*names, "due_days_after_bill")
    first = _day(shown["first_start"])
    offsets = {
        name: _whole(shown[name], default)
        for name, default in (
            ("read_days_after_end", 0),
            ("bill_days_after_read", 1),
            ("due_days_after_bill", 21),
        )
    }
    errors = {name: ["Enter a whole number of days."] for name, v in offsets.items() if v is None}
    if first is None:
        errors["first_start"] = ["Enter the first period's first day as YYYY-MM-DD."]
    if errors:
        return _page(errors, 422, **shown)
    try:
        cycle = cycle_by_code(db.session, shown["cycle"])
        periods = generate_periods(db.session, request_actor(), cycle, first_start=first, **offsets)
    except CalendarError as error:
        db.session.rollback()
        return _page(_field_error(error, "first_start"), 422, **shown)
    db.session.commit()
    flash(f"{len(periods)} periods added to {cycle.code}.")
    return redirect(url_for(".index"), 303)


@bp.post("/accounts")
@login_required
@requires("write")
def assign():
    """Put accounts (numbers, one per line or separated by spaces or commas) on a cycle."""
    shown = _form("cycle", "accounts")
    numbers = [n for n in re.split(r"[\s,;]+", shown["accounts"]) if n]
    if not numbers:
        return _page({"accounts": ["Enter at least one account number."]}, 422, **shown)
    try:
        cycle = cycle_by_code(db.session, shown["cycle"])
        moved = assign_accounts(db.session, request_actor(), cycle, numbers)
    except CalendarError as error:
        db.session.rollback()
        return _page({"accounts": [str(error)]}, 422, **shown)
    db.session.commit()
    flash(f"{moved} accounts moved to {cycle.code}; their next bill starts after their last.")
    return redirect(url_for(".index"), 303)


@bp.post("/imports/<kind>")
@login_required
@requires("write")
def upload(kind: str):
    """Import cycle_calendars.csv or cycle_accounts.csv: every row or none."""
    loader = {"calendars": import_calendars, "accounts": import_assignments}.get(kind)
    field = f"file_{kind}"
    upload_file = request.files.get("file")
    if loader is None:
        return _page({"file": ["Unknown import."]}, 404)
    if upload_file is None or not upload_file.filename:
        return _page({field: ["Choose the CSV file."]}, 422)
    data = upload_file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _page({field: ["The file is larger than 5 MB; import it with the CLI."]}, 413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page({field: ["The file is not UTF-8 text (save it as CSV UTF-8)."]}, 422)
    try:
        result = loader(db.session, request_actor(), text)
    except ImportFailed as failed:
        db.session.rollback()
        return _page({field: failed.errors}, 422)
    db.session.commit()
    flash(f"Imported {result.rows} rows; {result.created} cycles created.")
    return redirect(url_for(".index"), 303)


def _kinds_page(errors: dict | None = None, status: int = 200, **shown):
    """The service kinds page."""
    page = render_template(
        "console/service_kinds.html",
        kinds=service_kinds(db.session),
        errors=errors or {},
        shown=shown,
    )
    return page, status


@kinds_bp.get("/")
@login_required
@requires("read")
def kinds():
    """Every service the town bills, with its GL accounts."""
    return _kinds_page()


@kinds_bp.post("/")
@login_required
@requires("approve")
def add_kind():
    """Add a service kind with new GL accounts, or existing ones of the right kind."""
    shown = _form("code", "name", "revenue_gl", "receivable_gl")
    metered = request.form.get("metered") == "yes"
    try:
        kind, revenue, receivable = add_service_kind(
            db.session,
            request_actor(),
            code=shown["code"],
            name=shown["name"],
            metered=metered,
            revenue_code=shown["revenue_gl"] or None,
            receivable_code=shown["receivable_gl"] or None,
        )
    except ServiceKindError as error:
        db.session.rollback()
        return _kinds_page(_field_error(error, "code"), 422, **shown)
    db.session.commit()
    flash(f"Service {kind.code} added: revenue {revenue}, receivable {receivable}.")
    return redirect(url_for(".kinds"), 303)


def init_app(app) -> None:
    """Register the pages, with the uploads' body limit."""
    app.register_blueprint(bp)
    app.register_blueprint(kinds_bp)
    body_limit(app, "cycles.upload", "UPLOAD_MAX_CONTENT_LENGTH")
