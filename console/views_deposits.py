"""Bank deposits: the closed drawers and lockbox files not yet deposited, making a deposit of them, its slip,
marking it at the bank, and a supervisor's approval of a large over or short.

Thin: read the form, call payments.bank_deposits (or payments.counter), commit once, redirect.
A refused step is shown with its reason and changes nothing.
"""

from __future__ import annotations

import io
from datetime import date

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

from core.audit import record
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.db import get_by_id
from core.extensions import db
from notices.deposit_slip import deposit_slip, render_slip
from payments import payflow
from payments.bank_deposits import (
    confirm_at_bank,
    deposit_sources,
    recent_deposits,
    undeposited_drawers,
    undeposited_files,
)
from payments.counter import approve_over_short
from payments.models import BankDeposit, CashDrawer, RemittanceFile
from payments.services import PaymentRefused

bp = Blueprint("deposits", __name__, url_prefix="/staff/deposits", template_folder="templates")


def _page(error: str | None = None, status: int = 200):
    page = render_template(
        "console/deposits.html",
        drawers=undeposited_drawers(db.session),
        files=undeposited_files(db.session),
        deposits=recent_deposits(db.session),
        today=town_today(current_app.config),
        zone=town_zone(current_app.config),
        error=error,
    )
    return page, status


def _refused(refused: PaymentRefused):
    db.session.rollback()
    return _page(payflow.sentence(refused.message), 422)


def _deposit_or_404(number: str) -> BankDeposit:
    deposit = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
    if deposit is None:
        abort(404)
    return deposit


@bp.get("/")
@login_required
@requires("read")
def deposits():
    """Closed drawers waiting for the bank, and the latest deposits."""
    return _page()


@bp.post("/")
@login_required
@requires("write")
def make():
    """Deposit the drawers and files ticked: Dr 1050 Deposits in transit / Cr 1010 Cash
    drawer, Cr 1040 Lockbox clearing."""
    drawers, files = [], []
    for raw in request.form.getlist("drawer"):
        drawer = get_by_id(db.session, CashDrawer, int(raw)) if raw.isdigit() else None
        if drawer is None:
            return _page(f"No drawer {raw[:20]}.", 422)
        drawers.append(drawer)
    for raw in request.form.getlist("file"):
        upload = get_by_id(db.session, RemittanceFile, int(raw)) if raw.isdigit() else None
        if upload is None:
            return _page(f"No lockbox or bill-pay file {raw[:20]}.", 422)
        files.append(upload)
    try:
        deposit = deposit_sources(
            db.session,
            request_actor(),
            drawers=drawers,
            files=files,
            on=town_today(current_app.config),
        )
    except PaymentRefused as refused:
        return _refused(refused)
    db.session.commit()
    flash(f"Deposit {deposit.number} made. Print its slip and take it to the bank.")
    return redirect(url_for(".deposits"), 303)


@bp.get("/<number>/slip.pdf")
@login_required
@requires("read")
def slip(number: str):
    """The deposit slip (audited)."""
    deposit = _deposit_or_404(number)
    data = render_slip(deposit_slip(db.session, current_app.config, deposit))
    record(db.session, request_actor(), "bank_deposit.slip", deposit, number=number)
    db.session.commit()
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", download_name=f"deposit-slip-{number}.pdf"
    )


@bp.post("/<number>/at-bank")
@login_required
@requires("write")
def at_bank(number: str):
    """The bank credited the deposit: Dr 1000 Bank / Cr 1050 Deposits in transit."""
    deposit = _deposit_or_404(number)
    try:
        reached = date.fromisoformat(request.form.get("reached_on", ""))
    except ValueError:
        return _page("Enter the date the bank credited the deposit, such as 2026-12-07.", 422)
    try:
        confirm_at_bank(db.session, request_actor(), deposit, reached_on=reached)
    except PaymentRefused as refused:
        return _refused(refused)
    db.session.commit()
    flash(f"Deposit {number} is at the bank.")
    return redirect(url_for(".deposits"), 303)


@bp.post("/drawers/<int:drawer_id>/approve")
@login_required
@requires("approve")
def approve(drawer_id: int):
    """A supervisor approves a drawer's over or short above the limit: it is posted now."""
    drawer = get_by_id(db.session, CashDrawer, drawer_id)
    if drawer is None:
        abort(404)
    try:
        approve_over_short(db.session, request_actor(), drawer, on=town_today(current_app.config))
    except PaymentRefused as refused:
        return _refused(refused)
    db.session.commit()
    flash(f"Drawer {drawer_id}'s over or short is approved and posted.")
    return redirect(url_for(".deposits"), 303)


def init_app(app) -> None:
    """Register the bank deposits pages."""
    app.register_blueprint(bp)
