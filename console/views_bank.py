"""Bank statements and the bank reconciliation: import a statement, the latest statements,
and the reconciliation as of a date, as a page and a PDF for the auditor.

Thin: read the form, call payments.bank_statements (or payments.bank_reconciliation), commit
once, render. A refused file is shown with its reason and changes nothing.
"""

from __future__ import annotations

import io
from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from core.audit import record
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from core.limits import body_limit
from notices.bank_reconciliation import render_reconciliation
from payments.bank_reconciliation import NoStatement, reconcile, reconciliation_lines
from payments.bank_statements import fee_rule_from, import_statement
from payments.statement_files import StatementRefused, available_layouts
from payments.statement_models import BankStatement

bp = Blueprint("bank", __name__, url_prefix="/staff/bank", template_folder="templates")
STATEMENTS_SHOWN = 50


def _page(error: str | None = None, status: int = 200):
    statements = db.session.scalars(
        sa.select(BankStatement)
        .order_by(BankStatement.statement_date.desc(), BankStatement.id.desc())
        .limit(STATEMENTS_SHOWN)
    ).all()
    page = render_template(
        "console/bank.html",
        statements=statements,
        layouts=["bai2", *available_layouts()],
        today=town_today(current_app.config),
        error=error,
        form=request.form,
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def statements():
    """The latest statements, the import form and the reconciliation's date."""
    return _page()


@bp.post("/")
@login_required
@requires("write")
def upload():
    """Import a statement file: every line matched or queued, all or nothing."""
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _page("Choose the statement file to import.", 422)
    layout = request.form.get("layout", "bai2")
    try:
        report = import_statement(
            db.session,
            request_actor(),
            upload_file.read(),
            filename=upload_file.filename,
            layout=layout,
            fee_rule=fee_rule_from(current_app.config),
        )
    except StatementRefused as refused:
        db.session.rollback()
        return _page(f"The file was refused: {refused}.", 422)
    db.session.commit()
    flash(
        f"Statement {report.statement.id} imported: {report.matched} lines matched, "
        f"{report.fees} fees posted, {len(report.queued)} in the reconciliation queue."
    )
    return redirect(url_for(".statements"), 303)


def _as_of() -> date | None:
    """The date asked for (?date=YYYY-MM-DD), or None when it is not a date."""
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return None


@bp.get("/reconciliation")
@login_required
@requires("read")
def reconciliation():
    """The bank reconciliation as of a statement date."""
    as_of = _as_of()
    if as_of is None:
        return _page("Enter the reconciliation's date, such as 2026-11-30.", 422)
    try:
        rec = reconcile(db.session, as_of)
    except NoStatement as missing:
        return _page(f"{str(missing).capitalize()}.", 404)
    return render_template(
        "console/bank_reconciliation.html", rec=rec, lines=reconciliation_lines(rec)
    )


@bp.get("/reconciliation.pdf")
@login_required
@requires("read")
def reconciliation_pdf():
    """The bank reconciliation as a PDF (audited)."""
    as_of = _as_of()
    if as_of is None:
        return _page("Enter the reconciliation's date, such as 2026-11-30.", 422)
    try:
        rec = reconcile(db.session, as_of)
    except NoStatement as missing:
        return _page(f"{str(missing).capitalize()}.", 404)
    data = render_reconciliation(rec, current_app.config["MUNICIPALITY_NAME"])
    record(
        db.session,
        request_actor(),
        "bank_reconciliation.pdf",
        object_type="BankStatement",
        object_id=rec.statement_id,
        as_of=as_of,
        difference_cents=rec.difference_cents,
    )
    db.session.commit()
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=f"bank-reconciliation-{as_of}.pdf",
    )


def init_app(app) -> None:
    """Register the bank statement pages, with the uploads' body limit."""
    app.register_blueprint(bp)
    body_limit(app, "bank.upload", "UPLOAD_MAX_CONTENT_LENGTH")
