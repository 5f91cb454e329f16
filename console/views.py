"""The clerks' dashboard and account page (thin: read the request, call the reports, render)."""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import login_required

import console.models  # noqa: F401 - the console's tables belong to the app's metadata
from accounts.services import find_account
from billing.arrangement_lists import balances_under_plan
from billing.liens import liens_of_account
from billing.reconnection import service_shut_off
from console import books, charts, dashboard_snapshots, reports
from console.account import account_record
from core.auth import requires
from core.calendar import town_today, town_zone
from core.extensions import db
from core.replica import read_engine, read_session, replica_lag
from core.text import only_digits
from ledger import balances
from ledger.export_datasets import DATASETS
from ledger.exports import FORMATS, ExportError, ExportRequest, manifest_path, write_export
from notices import text_messages

bp = Blueprint("console", __name__, url_prefix="/staff", template_folder="templates")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_of() -> date:
    """The as_of query parameter (YYYY-MM-DD), or today in the municipality; 400 if malformed."""
    return _day("as_of") or town_today(current_app.config)


@bp.get("/dashboard")
@login_required
@requires("read")
def dashboard():
    """Collections of the day, open receivables by age, delinquency and two years of trends."""
    as_of = _as_of()
    # NOTE: read-only: from the replica when there is one, which may be behind (the page says);
    # the figures a job kept for the day when there are some (with their staleness),
    # otherwise computed from every document, as before.
    session = read_session()
    kept = dashboard_snapshots.stored(session, as_of)
    figures, staleness = kept or (dashboard_snapshots.compute(session, as_of), None)
    months = figures.months
    starts = [m.month for m in months]
    billed = [m.billed_cents for m in months]
    collected = [m.collected_cents for m in months]
    return render_template(
        "console/dashboard.html",
        as_of=as_of,
        today=town_today(current_app.config),
        lag=replica_lag(session) if session is not db.session else None,
        staleness=staleness,
        zone=town_zone(current_app.config),
        collections=figures.collections,
        aging=figures.aging,
        buckets=reports.BUCKETS,
        delinquency=figures.delinquency,
        under_plan=balances_under_plan(session, as_of),
        months=months,
        # The charts escape every text they hold; the template inlines them as they are.
        collections_svg=charts.collections_chart(starts, collected),
        billed_svg=charts.billed_collected_chart(starts, billed, collected),
    )


@bp.get("/accounts/<number>")
@login_required
@requires("read")
def account(number: str):
    """One account with everything about it: balance, bills, payments, notices, reminders,
    questions, autopay and online access, its ledger lines and its audit trail."""
    found = find_account(db.session, number)
    if found is None:
        abort(404)
    zone = town_zone(current_app.config)
    return render_template(
        "console/account.html",
        record=account_record(db.session, found, town_today(current_app.config)),
        liens=liens_of_account(db.session, found.id),
        zone=zone,
        consents=text_messages.consents_of_account(db.session, found.id),
        texts=text_messages.texts_of_account(db.session, found.id),
        service_off=service_shut_off(db.session, found.id),
    )


def _day(name: str) -> date | None:
    """An optional YYYY-MM-DD query parameter; 400 naming it if malformed."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _ISO_DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name}: enter a date as YYYY-MM-DD, for example 2026-11-26.")


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if only_digits(raw) and 0 < int(raw) < 100_000 else 1


@bp.get("/books/ledger")
@login_required
@requires("read")
def ledger():
    """Journal entries by date range, GL account and source type, each with its lines."""
    wanted = books.EntryFilter(
        start=_day("from"),
        end=_day("to"),
        gl_code=request.args.get("gl", "").strip()[:32] or None,
        source_type=request.args.get("source", "").strip()[:32] or None,
    )
    page = _page()
    rows, more = books.entries(db.session, wanted, page)
    return render_template(
        "console/books/ledger.html",
        rows=rows,
        more=more,
        page=page,
        wanted=wanted,
        gl_accounts=books.gl_accounts(db.session),
        source_types=books.source_types(db.session),
    )


@bp.get("/books/trial-balance")
@login_required
@requires("read")
def trial_balance():
    """Debit and credit totals of every GL account as of a date (default: today)."""
    as_of = _as_of()
    return render_template(
        "console/books/trial_balance.html",
        report=balances.trial_balance(db.session, as_of),
        as_of=as_of,
    )


@bp.get("/books/audit")
@login_required
@requires("read")
def audit_log():
    """The audit log, newest first, by action, actor, object and time."""
    zone = town_zone(current_app.config)
    since, until = _day("since"), _day("until")
    wanted = books.AuditFilter(
        action=request.args.get("action", "").strip()[:64] or None,
        actor=request.args.get("actor", "").strip()[:254] or None,
        object_type=request.args.get("object_type", "").strip()[:64] or None,
        object_id=request.args.get("object_id", "").strip()[:64] or None,
        since=datetime.combine(since, time(), zone) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), zone) if until else None,
    )
    page = _page()
    rows, more = books.audit_events(db.session, wanted, page)
    return render_template(
        "console/books/audit.html", rows=rows, more=more, page=page, zone=zone, args=request.args
    )


@bp.get("/books/exports")
@login_required
@requires("read")
def exports():
    """The export form: a dataset, a format and a period; the download holds file and manifest."""
    return render_template(
        "console/books/exports.html", datasets=list(DATASETS), formats=list(FORMATS)
    )


@bp.get("/books/exports/<dataset>.zip")
@login_required
@requires("read")
def export_zip(dataset: str):
    """One export and its manifest, written from one snapshot, as a ZIP of the two files."""
    if dataset not in DATASETS:
        abort(404)
    try:
        wanted = ExportRequest(
            dataset,
            format=request.args.get("format", "csv"),
            date_from=_day("from"),
            date_to=_day("to"),
        )
        wanted.check()
    except ExportError as error:
        abort(400, description=str(error))
    folder = tempfile.mkdtemp(prefix="munibill-export-")
    try:
        data = Path(folder) / wanted.file_name()
        write_export(
            read_engine(), wanted, data, timezone=current_app.config["MUNICIPALITY_TIMEZONE"]
        )
        bundle = Path(folder) / "export.zip"
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(data, data.name)
            archive.write(manifest_path(data), manifest_path(data).name)
        size = bundle.stat().st_size
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def chunks():
        """The ZIP in pieces; the folder goes when the last piece has, or the client has gone."""
        try:
            with bundle.open("rb") as handle:
                while piece := handle.read(1 << 16):
                    yield piece
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    response = current_app.response_class(chunks(), mimetype="application/zip")
    # NOTE: a WSGI server closes every response; a response never read still removes the folder.
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{data.stem}.zip"'
    return response


def _dict_without(values: dict, *names: str) -> dict:
    """The query parameters less some (for the next and previous page links)."""
    return {key: value for key, value in values.items() if key not in names}


def init_app(app) -> None:
    """Register the staff dashboard, account page, the auditor's books and the users page."""
    from console import (
        views_access,
        views_appeals,
        views_approvals,
        views_bank,
        views_counter,
        views_cycles,
        views_deposits,
        views_liens,
        views_orders,
        views_payoff,
        views_plans,
        views_runs,
        views_shutoff,
        views_shutoff_admin,
        views_users,
    )

    app.register_blueprint(bp)
    app.add_template_filter(_dict_without, "dict_without")
    app.add_template_filter(books.summary_lines, "audit_lines")
    views_counter.init_app(app)
    views_approvals.init_app(app)
    views_runs.init_app(app)
    views_cycles.init_app(app)
    views_access.init_app(app)
    views_users.init_app(app)
    views_orders.init_app(app)
    views_deposits.init_app(app)
    views_payoff.init_app(app)
    views_bank.init_app(app)
    views_plans.init_app(app)
    views_appeals.init_app(app)
    views_shutoff.init_app(app)
    views_shutoff_admin.init_app(app)
    views_liens.init_app(app)
