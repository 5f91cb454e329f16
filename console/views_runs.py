"""The billing run wizard: upload the meter readings, open and preview a billing cycle's
period (its exceptions and totals), post it, and read its report afterwards. The first page
shows the cycles' periods due to bill this week (or past their bill date and not billed).

Thin: each step calls the billing services the CLI and the API call (billing.imports,
billing.runs) and commits once; a posted run changes nothing when posted again.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from accounts.imports import ImportFailed, import_csv
from billing.computed import RuleError
from billing.cycles import periods_to_bill
from billing.models import BillingRun, CyclePeriod, InvoiceKind, RunStatus
from billing.runs import (
    RunError,
    RunOptions,
    open_run,
    period_not_ended,
    post_run,
    preview_run,
)
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.limits import body_limit

bp = Blueprint("runs", __name__, url_prefix="/staff/billing-runs", template_folder="templates")
#: The largest readings file the wizard takes (the CLI takes any size).
MAX_UPLOAD = 20 * 1024 * 1024
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: The box a clerk ticks to post a period that has not ended yet.
CONFIRM_EARLY = "confirm_period_not_ended"
CONFIRM_EARLY_LABEL = "Post it although the period has not ended"
#: How far ahead (days) the wizard offers cycles' periods to pick.
PICK_DAYS = 62


def _runs_page(errors: dict | None = None, status: int = 200, **shown):
    """The wizard's first page, with the field errors and the values the clerk entered."""
    runs = db.session.scalars(sa.select(BillingRun).order_by(BillingRun.id.desc()).limit(50)).all()
    today = town_today(current_app.config)
    week_end = today + timedelta(days=6 - today.weekday())
    page = render_template(
        "console/runs.html",
        runs=runs,
        errors=errors or {},
        shown=shown,
        kinds=list(InvoiceKind),
        due=periods_to_bill(db.session, today, through=week_end),
        periods=periods_to_bill(db.session, today, through=today + timedelta(days=PICK_DAYS)),
        today=today,
        week_end=week_end,
    )
    return page, status


def _chosen_period(shown: dict, errors: dict) -> CyclePeriod | None:
    """The billing cycle's period the clerk picked (utility runs), or None."""
    raw = shown.get("period_id", "").strip()
    if not raw:
        return None
    is_id = re.fullmatch(r"[0-9]{1,19}", raw) is not None
    period = get_by_id(db.session, CyclePeriod, int(raw)) if is_id else None
    if period is None:
        errors["period_id"] = ["Choose a billing cycle's period from the list."]
    elif shown.get("kind") != InvoiceKind.UTILITY.value:
        errors["period_id"] = ["A billing cycle's period is billed by a utility run."]
    return period


def _period_dates(period: CyclePeriod, shown: dict) -> None:
    """Fill in a picked period's issue and due dates where the clerk left them blank.

    NOTE: issued on its bill date (today, if that has passed); due on its calendar's due
    date, or UTILITY_DUE_DAYS after a late issue.
    """
    issue = max(period.bill_date, town_today(current_app.config))
    late = issue + timedelta(days=current_app.config["UTILITY_DUE_DAYS"])
    due = period.due_date if period.due_date >= issue else late
    for name, day in (("issue_date", issue), ("due_date", due)):
        if not shown[name].strip():
            shown[name] = day.isoformat()


@bp.get("/")
@login_required
@requires("read")
def runs():
    """Step 1 (readings) and step 2 (open and preview a cycle), and the runs so far."""
    return _runs_page()


@bp.post("/readings")
@login_required
@requires("write")
def readings():
    """Load a readings CSV: every row or none, each problem named by its row and column."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _runs_page({"file": ["Choose the readings file (CSV)."]}, 422)
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _runs_page({"file": ["The file is larger than 20 MB; load it with the CLI."]}, 413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _runs_page({"file": ["The file is not UTF-8 text (save it as CSV UTF-8)."]}, 422)
    try:
        result = import_csv(
            db.session,
            request_actor(),
            "readings",
            text,
            code_key=current_app.config["ACCESS_CODE_KEY"],
        )
    except ImportFailed as failed:
        db.session.rollback()
        return _runs_page({"file": failed.errors}, 422)
    db.session.commit()
    flash(f"Readings loaded: {result.rows} rows, {result.created} new, {result.updated} changed.")
    return redirect(url_for(".runs"), 303)


def _day(value: str) -> date | None:
    """A YYYY-MM-DD day the clerk typed, or None when it is missing or not a day."""
    raw = value.strip()
    try:
        return date.fromisoformat(raw) if _ISO_DAY.fullmatch(raw) else None
    except ValueError:
        return None


@bp.post("/")
@login_required
@requires("write")
def preview():
    """Open the cycle's run and compute it without posting: totals and exceptions."""
    fields = ("kind", "cycle", "period_id", "issue_date", "due_date")
    shown = {k: request.form.get(k, "") for k in fields}
    errors: dict[str, list[str]] = {}
    period = _chosen_period(shown, errors)
    if period is not None and not errors:
        _period_dates(period, shown)
    try:
        kind = InvoiceKind(shown["kind"])
    except ValueError:
        errors["kind"] = ["Choose utility or tax."]
    issue, due = _day(shown["issue_date"]), _day(shown["due_date"])
    if issue is None:
        errors["issue_date"] = ["Enter the issue date as YYYY-MM-DD."]
    if due is None:
        errors["due_date"] = ["Enter the due date as YYYY-MM-DD."]
    elif issue is not None and due < issue:
        errors["due_date"] = ["The due date is before the issue date."]
    if errors:
        return _runs_page(errors, 422, **shown)
    try:
        run = open_run(
            db.session,
            request_actor(),
            kind=kind,
            cycle="" if period else shown["cycle"].strip(),
            issue_date=issue,
            due_date=due,
            period=period,
        )
        preview_run(db.session, run, RunOptions.from_config(current_app.config))
    except (RunError, RuleError) as error:
        db.session.rollback()
        return _runs_page({"cycle": [str(error)]}, 422, **shown)
    db.session.commit()
    return redirect(url_for(".run", run_id=run.id), 303)


def _run_or_404(run_id: int) -> BillingRun:
    """A run by id, or 404."""
    run = get_by_id(db.session, BillingRun, run_id)
    if run is None:
        abort(404)
    return run


def _early(found: BillingRun) -> tuple[bool, date]:
    """Whether posting the run now is before its period has ended in the town, and today there."""
    today = town_today(current_app.config)
    return found.status != RunStatus.POSTED and period_not_ended(found, today), today


@bp.get("/<int:run_id>")
@login_required
@requires("read")
def run(run_id: int):
    """Step 3: the preview (exceptions, totals) and the post button; afterwards, the report."""
    found = _run_or_404(run_id)
    early, today = _early(found)
    return render_template(
        "console/run.html",
        run=found,
        early=early,
        today=today,
        confirm_name=CONFIRM_EARLY,
        confirm_label=CONFIRM_EARLY_LABEL,
    )


@bp.get("/<int:run_id>/progress")
@login_required
@requires("read")
def progress(run_id: int):
    """How far posting has come: invoices posted (committed batch by batch) of those previewed."""
    found = _run_or_404(run_id)
    total = (
        found.invoices_posted
        if found.status.value == "posted"
        else (found.report or {}).get("invoices", 0)
    )
    return jsonify(status=found.status.value, posted=found.invoices_posted, total=total)


@bp.post("/<int:run_id>/post")
@login_required
@requires("write")
def post(run_id: int):
    """Post the run batch by batch (each batch committed; a cut-off run resumes)."""
    found = _run_or_404(run_id)
    early, today = _early(found)
    if early and request.form.get(CONFIRM_EARLY) != "yes":
        flash(
            f"Not posted: the period ends {found.period_end}, after today ({today}). "
            f"Tick “{CONFIRM_EARLY_LABEL}” to post it now."
        )
        return redirect(url_for(".run", run_id=run_id), 303)
    try:
        report = post_run(
            db.session, found, request_actor(), RunOptions.from_config(current_app.config)
        )
    except (RunError, RuleError) as error:
        db.session.rollback()
        flash(f"Not posted: {error}")
        return redirect(url_for(".run", run_id=run_id), 303)
    flash(f"Run {found.id} posted: {report.get('invoices', 0)} invoices.")
    return redirect(url_for(".run", run_id=run_id), 303)


def init_app(app) -> None:
    """Register the wizard, with the uploads' body limit for its readings file."""
    app.register_blueprint(bp)
    body_limit(app, "runs.readings", "UPLOAD_MAX_CONTENT_LENGTH")
