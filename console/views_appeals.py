"""Shutoff appeals and tenants' protections for the staff: the supervisors' queue of pending
appeals with the decision form (the approve permission: supervisor, admin), a clerk recording
an appeal taken by phone, the decision letters, and the tenants' notices with "tenant becomes
customer" (docs/shutoff.md, "Appeals", "Tenants").

Thin: read the form, call notices.shutoff_appeals / notices.tenant_protections, commit once,
redirect. A refusal is shown with its reason and changes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from accounts.locations import ServiceLocation
from accounts.models import Account
from accounts.services import find_account
from billing.medical_certificates import ShutoffError
from billing.service_orders import settings_from
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id, utcnow
from core.extensions import db
from notices.appeal_letters import decision_pdf, send_acknowledgement, tell_decision
from notices.mail_delivery import Mailer
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal, TenantNotice
from notices.shutoff_appeals import decide_appeal, denial_earliest, file_appeal
from notices.tenant_protections import tenant_becomes_customer

bp = Blueprint("appeals", __name__, url_prefix="/staff/appeals", template_folder="templates")


def _page(error: str | None = None, status: int = 200, shown: dict | None = None):
    rows = db.session.execute(
        sa.select(ShutoffAppeal, Account)
        .join(Account, Account.id == ShutoffAppeal.account_id)
        .order_by((ShutoffAppeal.status == AppealStatus.PENDING).desc(), ShutoffAppeal.id.desc())
        .limit(200)
    ).all()
    tenants = db.session.execute(
        sa.select(TenantNotice, ServiceLocation, Account)
        .join(ServiceLocation, ServiceLocation.id == TenantNotice.location_id)
        .join(Account, Account.id == TenantNotice.account_id)
        .order_by(TenantNotice.id.desc())
        .limit(200)
    ).all()
    page = render_template(
        "console/appeals.html",
        pending=[r for r in rows if r[0].status == AppealStatus.PENDING],
        decided=[r for r in rows if r[0].status != AppealStatus.PENDING],
        tenants=tenants,
        error=error,
        shown=shown or {},
    )
    return page, status


def _appeal_or_404(appeal_id: int) -> ShutoffAppeal:
    appeal = get_by_id(db.session, ShutoffAppeal, appeal_id)
    if appeal is None:
        abort(404)
    return appeal


@bp.route("/")
@login_required
@requires("read")
def appeals():
    """The pending appeals (oldest first to decide), the decided ones, the tenants' notices."""
    return _page()


@bp.route("/phone", methods=["POST"])
@login_required
@requires("write")
def phone():
    """A clerk records an appeal a resident made by phone."""
    number = request.form.get("account", "").strip()[:20]
    account = find_account(db.session, number) if number else None
    if account is None:
        return _page(f"account: no account {number or '(empty)'}", 422, request.form)
    config = current_app.config
    try:
        appeal = file_appeal(
            db.session,
            request_actor(),
            account,
            statement=request.form.get("statement", "")[:2001],
            channel=AppealChannel.PHONE,
            at=utcnow(),
            on=town_today(config),
        )
        db.session.commit()
    except ShutoffError as error:
        db.session.rollback()
        return _page(str(error), 422, request.form)
    send_acknowledgement(config, Mailer.from_config(config), appeal, account)
    flash(f"Appeal {appeal.id} recorded for account {number}: pending a supervisor's decision.")
    return redirect(url_for(".appeals"), 303)


@bp.route("/<int:appeal_id>/decide", methods=["POST"])
@login_required
@requires("approve")
def decide(appeal_id: int):
    """A supervisor upholds or denies an appeal, with reasons for the resident and a note."""
    appeal = _appeal_or_404(appeal_id)
    decision = request.form.get("decision")
    if decision not in ("upheld", "denied"):
        return _page("decision: choose upheld or denied", 422)
    config = current_app.config
    try:
        decide_appeal(
            db.session,
            request_actor(),
            appeal,
            upheld=decision == "upheld",
            resident_reasons=request.form.get("reasons", "")[:2001],
            internal_note=request.form.get("note", "")[:2001],
            at=utcnow(),
            on=town_today(config),
        )
        db.session.commit()
    except ShutoffError as error:
        db.session.rollback()
        return _page(str(error), 422)
    sent = tell_decision(db.session, config, Mailer.from_config(config), appeal)
    letter = "e-mailed" if sent == "emailed" else "to print and mail"
    flash(f"Appeal {appeal_id} {appeal.status.value}; the decision letter is {letter}.")
    return redirect(url_for(".appeals"), 303)


@bp.route("/<int:appeal_id>/letter.pdf")
@login_required
@requires("read")
def letter(appeal_id: int):
    """The decision letter of a decided appeal, to print and mail."""
    appeal = _appeal_or_404(appeal_id)
    if appeal.status not in (AppealStatus.UPHELD, AppealStatus.DENIED):
        abort(404)
    config = current_app.config
    from billing.closed_days import town_working_calendar
    from billing.shutoff_rules import shutoff_rule_on

    shutoff_from = None
    if appeal.status == AppealStatus.DENIED:
        calendar = town_working_calendar(db.session, config.get("MUNICIPALITY_STATE", ""))
        rule = shutoff_rule_on(db.session, appeal.decided_on)
        shutoff_from = denial_earliest(calendar, rule, appeal.decided_on)
    account = db.session.get(Account, appeal.account_id)
    pdf = decision_pdf(config, appeal, account, shutoff_from)
    return send_file(
        io.BytesIO(pdf), mimetype="application/pdf", download_name=f"appeal-{appeal.id}.pdf"
    )


@bp.route("/tenants/<int:notice_id>.pdf")
@login_required
@requires("read")
def tenant_pdf(notice_id: int):
    """A tenants' notice as it was printed."""
    notice = get_by_id(db.session, TenantNotice, notice_id)
    if notice is None:
        abort(404)
    path = Path(current_app.config["NOTICES_DIR"]) / notice.path
    return send_file(io.BytesIO(path.read_bytes()), mimetype="application/pdf")


@bp.route("/tenants/<int:notice_id>/customer", methods=["POST"])
@login_required
@requires("write")
def tenant_customer(notice_id: int):
    """A tenant becomes a customer at the location from today (no landlord's arrears)."""
    notice = get_by_id(db.session, TenantNotice, notice_id)
    if notice is None:
        abort(404)
    config = current_app.config
    try:
        tenant_becomes_customer(
            db.session,
            request_actor(),
            notice,
            holder_name=request.form.get("name", "")[:201],
            email=request.form.get("email", "")[:254],
            on=town_today(config),
            settings=settings_from(config),
        )
        db.session.commit()
    except ShutoffError as error:
        db.session.rollback()
        return _page(str(error), 422)
    tenant = db.session.get(Account, notice.tenant_account_id)
    flash(f"Service starts for {tenant.holder_name} on account {tenant.number}.")
    return redirect(url_for(".appeals"), 303)


def init_app(app) -> None:
    """Register the appeals pages."""
    app.register_blueprint(bp)
