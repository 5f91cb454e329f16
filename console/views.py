"""The clerks' dashboard and account page (thin: read the request, call the reports, render)."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import login_required

from billing.accounts import find_account
from console import charts, reports
from console.account import account_record
from core.auth import requires
from core.extensions import db
from core.settings import municipal_today

bp = Blueprint("console", __name__, url_prefix="/staff", template_folder="templates")
MONTHS = 12
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_of() -> date:
    """The as_of query parameter (YYYY-MM-DD), or today in the municipality; 400 if malformed."""
    raw = request.args.get("as_of", "").strip()
    if not raw:
        return municipal_today(current_app.config)
    try:
        if not _ISO_DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description="as_of: enter a date as YYYY-MM-DD, for example 2026-11-26.")


@bp.get("/dashboard")
@login_required
@requires("read")
def dashboard():
    """Collections of the day, open receivables by age, delinquency and twelve months of trends."""
    as_of = _as_of()
    zone = current_app.config["MUNICIPALITY_TIMEZONE"]
    months = reports.monthly(db.session, MONTHS, as_of, zone)
    starts = [m.month for m in months]
    billed = [m.billed_cents for m in months]
    collected = [m.collected_cents for m in months]
    return render_template(
        "console/dashboard.html",
        as_of=as_of,
        today=municipal_today(current_app.config),
        collections=reports.collections_on(db.session, as_of, zone),
        aging=reports.aging(db.session, as_of, zone),
        buckets=reports.BUCKETS,
        delinquency=reports.delinquency_rate(db.session, as_of, zone),
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
    zone = ZoneInfo(current_app.config["MUNICIPALITY_TIMEZONE"])
    return render_template(
        "console/account.html", record=account_record(db.session, found), zone=zone
    )


def init_app(app) -> None:
    """Register the staff dashboard and account page."""
    app.register_blueprint(bp)
