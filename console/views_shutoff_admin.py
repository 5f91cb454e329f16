"""The staff's pages for what the shutoff keeps as records (docs/shutoff.md): the rule in force
and its older versions, with loading a new version (YAML or JSON typed or uploaded, validated in
full, errors naming the place; supervisors and admins only: the approve permission); the medical
certificates on file and recording one; a day's shutoff notices with their PDFs and the
occupant's copy; and the monthly report of shutoffs and reconnections (CSV, PDF).

Thin: read the form, call a service, commit once, redirect. A refusal is shown with its reason
and changes nothing.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from accounts.models import Account
from accounts.services import find_account
from billing.computed import RuleError
from billing.medical_certificates import ShutoffError, record_certificate
from billing.shutoff_rules import load_shutoff_rule, rule_to_document, shutoff_rule_on
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from notices.issuing import NoticeError, open_pdf
from notices.models import Notice
from notices.shutoff_records import certificates, notices_on, read_rule_text, rule_versions
from notices.shutoff_report import (
    FIGURES,
    Month,
    ReportError,
    month_range,
    report_csv,
    shutoff_report,
)
from notices.shutoff_report_pdf import report_pdf

bp = Blueprint(
    "shutoff_admin", __name__, url_prefix="/staff/shutoff-records", template_folder="templates"
)
#: The most a typed or uploaded rule document may hold.
MAX_RULE_TEXT = 20_000


def _day() -> date:
    """The notices' day asked for (?on=YYYY-MM-DD), else today in the municipality."""
    try:
        return date.fromisoformat(request.values.get("on", ""))
    except ValueError:
        return town_today(current_app.config)


def _page(errors: dict | None = None, status: int = 200, shown: dict | None = None):
    today = town_today(current_app.config)
    day = _day()
    in_force = shutoff_rule_on(db.session, today)
    notices = notices_on(db.session, day)
    numbers = {n.account_id: db.session.get(Account, n.account_id).number for n in notices}
    page = render_template(
        "console/shutoff_records.html",
        versions=[(rule, rule_to_document(rule)) for rule in rule_versions(db.session)],
        in_force=in_force,
        certificates=certificates(db.session),
        notices=notices,
        numbers=numbers,
        day=day,
        today=today,
        errors=errors or {},
        shown=shown or {},
    )
    return page, status


@bp.route("/")
@login_required
@requires("read")
def records():
    """The rule's versions, the medical certificates and a day's shutoff notices."""
    return _page()


def _rule_text() -> str:
    upload = request.files.get("file")
    if upload and upload.filename:
        data = upload.read(MAX_RULE_TEXT + 1)
        if len(data) > MAX_RULE_TEXT:
            raise RuleError(f"file: at most {MAX_RULE_TEXT} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RuleError("file: not UTF-8 text") from None
    text = request.form.get("document", "")
    if not text.strip():
        raise RuleError("document: type the rule or upload its file")
    if len(text) > MAX_RULE_TEXT:
        raise RuleError(f"document: at most {MAX_RULE_TEXT} characters")
    return text


@bp.route("/rule", methods=["POST"])
@login_required
@requires("approve")
def load_rule():
    """A supervisor or admin loads a new version of the rule (or only checks it)."""
    shown = {"document": request.form.get("document", "")[:MAX_RULE_TEXT]}
    try:
        rule = load_shutoff_rule(db.session, request_actor(), read_rule_text(_rule_text()))
    except RuleError as error:
        db.session.rollback()
        return _page({"rule": str(error)}, 422, shown)
    if request.form.get("dry_run"):
        db.session.rollback()
        flash("The rule is valid; nothing was stored (check only).")
        return _page(shown=shown)
    db.session.commit()
    flash(f"Shutoff rule loaded, in force from {rule.effective.isoformat()}.")
    return redirect(url_for(".records"), 303)


@bp.route("/certificates", methods=["POST"])
@login_required
@requires("write")
def record():
    """A clerk records a medical certificate on file for an account."""
    form = request.form
    shown = {key: form.get(key, "")[:200] for key in ("account", "starts", "ends", "by")}
    account = find_account(db.session, shown["account"]) if shown["account"].strip() else None
    if account is None:
        return _page({"account": f"no account {shown['account'] or '(empty)'}"}, 422, shown)
    try:
        starts, ends = date.fromisoformat(shown["starts"]), date.fromisoformat(shown["ends"])
    except ValueError:
        return _page({"dates": "give the first and the last day (YYYY-MM-DD)"}, 422, shown)
    try:
        record_certificate(
            db.session,
            request_actor(),
            account,
            starts_on=starts,
            ends_on=ends,
            certified_by=shown["by"],
        )
    except ShutoffError as error:
        db.session.rollback()
        return _page({"certificate": str(error)}, 422, shown)
    db.session.commit()
    flash(f"Medical certificate recorded for account {account.number}, through {ends}.")
    return redirect(url_for(".records"), 303)


@bp.route("/notices/<int:notice_id>.pdf")
@login_required
@requires("read")
def notice_pdf(notice_id: int):
    """A shutoff notice (or the occupant's copy) exactly as it was sent."""
    notice = get_by_id(db.session, Notice, notice_id)
    if notice is None or notice.kind.value != "shutoff":
        abort(404)
    try:
        data = open_pdf(current_app.config, notice)
    except (OSError, NoticeError):
        abort(409)
    return Response(data, mimetype="application/pdf")


@bp.route("/report")
@login_required
@requires("read")
def report():
    """The report of shutoffs and reconnections for a range of months (page, CSV or PDF)."""
    today = town_today(current_app.config)
    start = request.args.get("from", str(Month.of(today).back(11)))[:7]
    end = request.args.get("to", str(Month.of(today)))[:7]
    try:
        months = month_range(Month.parse(start, "from"), Month.parse(end, "to"), today)
    except ReportError as error:
        page = render_template(
            "console/shutoff_report.html", error=str(error), start=start, end=end, figures=[]
        )
        return page, 422
    figures = shutoff_report(db.session, current_app.config, months, today)
    name = f"shutoffs-{months[0]}-{months[-1]}"
    if request.args.get("format") == "csv":
        return Response(
            report_csv(figures),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}.csv"},
        )
    if request.args.get("format") == "pdf":
        return Response(
            report_pdf(current_app.config, figures),
            mimetype="application/pdf",
            headers={"Content-Disposition": f"attachment; filename={name}.pdf"},
        )
    return render_template(
        "console/shutoff_report.html",
        error=None,
        start=start,
        end=end,
        figures=figures,
        rows=[(label, [m.shown(name) for m in figures]) for name, label, _es in FIGURES],
    )


def init_app(app) -> None:
    """Register the shutoff records and report pages."""
    app.register_blueprint(bp)
