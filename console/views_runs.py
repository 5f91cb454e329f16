"""The billing run wizard: upload the meter readings, open and preview the cycle (its
exceptions and totals), post it, and read its report afterwards.

Thin: each step calls the billing services the CLI and the API call (billing.imports,
billing.runs) and commits once; a posted run changes nothing when posted again.
"""

from __future__ import annotations

import re
from datetime import date

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

from billing.computed import RuleError
from billing.imports import ImportFailed, import_csv
from billing.models import BillingRun, InvoiceKind
from billing.runs import RunError, RunOptions, open_run, post_run, preview_run
from core.auth import request_actor, requires
from core.db import get_by_id
from core.extensions import db

bp = Blueprint("runs", __name__, url_prefix="/staff/billing-runs", template_folder="templates")
#: The largest readings file the wizard takes (the CLI takes any size).
MAX_UPLOAD = 20 * 1024 * 1024
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _runs_page(errors: dict | None = None, status: int = 200, **shown):
    runs = db.session.scalars(sa.select(BillingRun).order_by(BillingRun.id.desc()).limit(50)).all()
    page = render_template(
        "console/runs.html", runs=runs, errors=errors or {}, shown=shown, kinds=list(InvoiceKind)
    )
    return page, status


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


def _day(name: str) -> date | None:
    raw = request.form.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if _ISO_DAY.fullmatch(raw) else None
    except ValueError:
        return None


@bp.post("/")
@login_required
@requires("write")
def preview():
    """Open the cycle's run and compute it without posting: totals and exceptions."""
    shown = {k: request.form.get(k, "") for k in ("kind", "cycle", "issue_date", "due_date")}
    errors: dict[str, list[str]] = {}
    try:
        kind = InvoiceKind(shown["kind"])
    except ValueError:
        errors["kind"] = ["Choose utility or tax."]
    issue, due = _day("issue_date"), _day("due_date")
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
            cycle=shown["cycle"].strip(),
            issue_date=issue,
            due_date=due,
        )
        preview_run(db.session, run, RunOptions.from_config(current_app.config))
    except (RunError, RuleError) as error:
        db.session.rollback()
        return _runs_page({"cycle": [str(error)]}, 422, **shown)
    db.session.commit()
    return redirect(url_for(".run", run_id=run.id), 303)


def _run_or_404(run_id: int) -> BillingRun:
    run = get_by_id(db.session, BillingRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.get("/<int:run_id>")
@login_required
@requires("read")
def run(run_id: int):
    """Step 3: the preview (exceptions, totals) and the post button; afterwards, the report."""
    return render_template("console/run.html", run=_run_or_404(run_id))


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
    """Register the wizard."""
    app.register_blueprint(bp)
