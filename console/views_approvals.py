"""Clerks ask for refunds, voids, credit memos and waivers from the account page; supervisors
decide them in their queue (thin: read the form, call console.approvals, commit once).

The request form carries a one-time token (core.submissions): sent twice, it asks once.
A decision is made once by itself: deciding a decided request is refused, naming who decided.
"""

from __future__ import annotations

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

from accounts.models import Account
from accounts.services import find_account
from billing.models import Invoice, InvoiceCharge
from console import approvals
from console.models import ApprovalKind, ApprovalRequest
from core import submissions
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.db import get_by_id
from core.extensions import db
from core.money import MoneyError, parse_dollars
from core.settings import ConfigError
from core.text import only_digits
from payments.gateway import UNAVAILABLE_MESSAGE, PaymentError, StripeGateway
from payments.models import Payment

bp = Blueprint("approvals", __name__, url_prefix="/staff/approvals", template_folder="templates")
TARGETS = {"payment": Payment, "invoice": Invoice, "charge": InvoiceCharge}
#: The name under which the request form keeps its tokens.
ASK_FORM = "approvals.ask"


def _queue(error: str | None = None, status: int = 200):
    zone = town_zone(current_app.config)
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
    row = get_by_id(db.session, model, int(raw)) if model and only_digits(raw) else None
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
    token = request.form.get(submissions.FIELD, "")
    if submissions.well_formed(token):
        earlier = submissions.claim(db.session, request_actor(), ASK_FORM, token)
        if earlier is not None:
            db.session.rollback()
            if submissions.same_sender(earlier, request_actor(), ASK_FORM):
                flash(f"This form was sent twice; it asked once. {earlier.message}")
                return redirect(earlier.location, 303)
            flash("This form is out of date: check it and ask again.")
            return redirect(back + "#approvals", 303)
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
            resident_text=request.form.get("resident_text", ""),
        )
    except approvals.ApprovalRefused as refused:
        db.session.rollback()
        flash(f"Not asked: {refused}")
        return redirect(back + "#approvals", 303)
    message = f"Request {row.id} is waiting for a supervisor."
    if submissions.well_formed(token):
        submissions.answered(db.session, token, location=back + "#approvals", message=message)
    db.session.commit()
    flash(message)
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
            on=town_today(current_app.config),
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
