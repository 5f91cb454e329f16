"""Clerks ask for refunds, voids, credit memos and waivers from the account page; supervisors
decide them in their queue (thin: read the form, call console.approvals, commit once)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from billing.accounts import find_account
from billing.models import Account, Invoice, InvoiceCharge
from console import approvals
from console.models import ApprovalKind, ApprovalRequest
from core.auth import request_actor, requires
from core.db import get_by_id
from core.extensions import db
from core.money import MoneyError, parse_dollars
from core.settings import ConfigError, municipal_today
from payments.gateway import UNAVAILABLE_MESSAGE, PaymentError, StripeGateway
from payments.models import Payment

bp = Blueprint("approvals", __name__, url_prefix="/staff/approvals", template_folder="templates")
TARGETS = {"payment": Payment, "invoice": Invoice, "charge": InvoiceCharge}


def _queue(error: str | None = None, status: int = 200):
    zone = ZoneInfo(current_app.config["MUNICIPALITY_TIMEZONE"])
    waiting, decided = approvals.pending(db.session), approvals.decided(db.session)
    ids = {row.account_id for row in [*waiting, *decided]}
    numbers = dict(
        db.session.execute(sa.select(Account.id, Account.number).where(Account.id.in_(ids))).all()
    )
    page = render_template(
        "console/approvals.html",
        waiting=waiting,
        decided=decided,
        numbers=numbers,
        error=error,
        zone=zone,
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def queue():
    """Requests waiting for a supervisor, oldest first, and the latest decisions."""
    return _queue()


def _target(account, chosen: str) -> approvals.Target:
    """The payment, invoice or charge the form names, only if it is the account's."""
    kind, _, raw = chosen.partition(":")
    model = TARGETS.get(kind)
    row = get_by_id(db.session, model, int(raw)) if model and raw.isdigit() else None
    if row is not None:
        owner = (
            row.account_id
            if kind != "charge"
            else db.session.get(Invoice, row.invoice_id).account_id
        )
        if owner == account.id:
            return approvals.Target(account, **{kind: row})
    return approvals.Target(account)


@bp.post("/")
@login_required
@requires("write")
def ask():
    """A clerk's request from the account page; back to the account with what happened."""
    account = find_account(db.session, request.form.get("account", ""))
    if account is None:
        abort(404)
    back = url_for("console.account", number=account.number)
    try:
        kind = ApprovalKind(request.form.get("kind", ""))
    except ValueError:
        flash("Choose what to ask for.")
        return redirect(back + "#approvals", 303)
    amount = None
    if kind in (ApprovalKind.REFUND, ApprovalKind.CREDIT_MEMO):
        try:
            amount = parse_dollars(request.form.get("amount", ""))
        except MoneyError:
            flash("Enter the amount in dollars and cents, such as 25.00.")
            return redirect(back + "#approvals", 303)
    try:
        row = approvals.ask(
            db.session,
            request_actor(),
            kind,
            _target(account, request.form.get("target", "")),
            reason=request.form.get("reason", ""),
            amount_cents=amount,
        )
    except approvals.ApprovalRefused as refused:
        db.session.rollback()
        flash(f"Not asked: {refused}")
        return redirect(back + "#approvals", 303)
    db.session.commit()
    flash(f"Request {row.id} is waiting for a supervisor.")
    return redirect(back + "#approvals", 303)


def _request_or_404(request_id: int) -> ApprovalRequest:
    row = get_by_id(db.session, ApprovalRequest, request_id)
    if row is None:
        abort(404)
    return row


def _gateway() -> StripeGateway:
    try:
        return StripeGateway.from_config(current_app.config)
    except ConfigError:
        raise PaymentError(UNAVAILABLE_MESSAGE, code="not_configured", retryable=True) from None


@bp.post("/<int:request_id>/approve")
@login_required
@requires("approve")
def approve(request_id: int):
    """Approve: the change is made now, as the supervisor; a refused change is kept as failed."""
    row = _request_or_404(request_id)
    try:
        approvals.approve(
            db.session,
            request_actor(),
            row,
            on=municipal_today(current_app.config),
            note=request.form.get("note", "").strip()[:500],
            gateway=_gateway,
        )
    except approvals.ApprovalRefused as refused:
        db.session.rollback()
        return _queue(str(refused), 409)
    db.session.commit()
    flash(
        f"Request {row.id} approved: {row.outcome}."
        if row.status.value == "approved"
        else f"Request {row.id} could not be carried out: {row.outcome}"
    )
    return redirect(url_for(".queue"), 303)


@bp.post("/<int:request_id>/reject")
@login_required
@requires("approve")
def reject(request_id: int):
    """Turn a request down with a note for the clerk."""
    row = _request_or_404(request_id)
    try:
        approvals.reject(db.session, request_actor(), row, note=request.form.get("note", ""))
    except approvals.ApprovalRefused as refused:
        db.session.rollback()
        return _queue(str(refused), 422)
    db.session.commit()
    flash(f"Request {row.id} turned down.")
    return redirect(url_for(".queue"), 303)


def init_app(app) -> None:
    """Register the approvals."""
    app.register_blueprint(bp)
