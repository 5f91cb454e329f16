"""The clerks' reconciliation queue: what the scheduler found that does not match Stripe,
with both records side by side, and the resolution of each, once, with who and when.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.models import Account
from core.auth import current_principal, request_actor, requires
from core.calendar import town_today, town_zone
from core.db import get_by_id
from core.extensions import db
from core.text import only_digits
from payments import reconcile_actions as actions
from payments import reconcile_queue
from payments.gateway import PaymentError
from payments.models import Payment, ReconciliationItem, ReconciliationStatus
from payments.payflow import gateway

bp = Blueprint(
    "reconciliation", __name__, url_prefix="/staff/reconciliation", template_folder="templates"
)
#: How many resolved items the queue shows under the open ones.
RESOLVED_SHOWN = 100
MIN_RESOLUTION, MAX_RESOLUTION = 5, 500


def _item_or_404(item_id: int) -> ReconciliationItem:
    item = get_by_id(db.session, ReconciliationItem, item_id)
    if item is None:
        abort(404)
    return item


@bp.route("/")
@login_required
@requires("read")
def queue():
    """Open items, oldest first, then the latest resolved ones with who resolved them."""
    waiting = db.session.scalars(
        sa.select(ReconciliationItem)
        .where(ReconciliationItem.status == ReconciliationStatus.OPEN)
        .order_by(ReconciliationItem.id)
    ).all()
    resolved = db.session.scalars(
        sa.select(ReconciliationItem)
        .where(ReconciliationItem.status == ReconciliationStatus.RESOLVED)
        .order_by(ReconciliationItem.resolved_at.desc())
        .limit(RESOLVED_SHOWN)
    ).all()
    return render_template("payments/reconciliation.html", waiting=waiting, resolved=resolved)


def _item_page(
    item: ReconciliationItem,
    error: str | None = None,
    status: int = 200,
    *,
    action_error: str | None = None,
):
    payment = db.session.get(Payment, item.payment_id) if item.payment_id else None
    principal = current_principal()
    offered = [
        (action, actions.LABELS[action])
        for action in actions.ACTIONS.get(item.kind, ())
        if principal is not None and principal.can(actions.permission_for(action))
    ]
    page = render_template(
        "payments/reconciliation_item.html",
        item=item,
        payment=payment,
        error=error,
        action_error=action_error,
        offered=offered,
        supervisor_only=[
            actions.LABELS[a]
            for a in actions.ACTIONS.get(item.kind, ())
            if a in actions.SUPERVISOR_ACTIONS and a not in dict(offered)
        ],
        limit_cents=current_app.config["RECONCILIATION_WRITE_OFF_LIMIT_CENTS"],
        resolution=request.form.get("resolution", ""),
        form=request.form,
    )
    return page, status


@bp.route("/<int:item_id>")
@login_required
@requires("read")
def item(item_id: int):
    """One item: our record, Stripe's, the suggestion, and how it was resolved."""
    return _item_page(_item_or_404(item_id))


@bp.route("/<int:item_id>/resolve", methods=["POST"])
@login_required
@requires("write")
def resolve(item_id: int):
    """Close the item with what the clerk did about it (once)."""
    found = _item_or_404(item_id)
    resolution = (request.form.get("resolution") or "").strip()
    if not MIN_RESOLUTION <= len(resolution) <= MAX_RESOLUTION:
        message = (
            f"Say what was done, in {MIN_RESOLUTION} to {MAX_RESOLUTION} characters "
            "(for example: settled by the janitor on 2026-11-20; refunded at Stripe)."
        )
        return _item_page(found, message, 422)
    try:
        reconcile_queue.resolve(db.session, request_actor(), found, resolution)
    except reconcile_queue.AlreadyResolved as already:
        return _item_page(found, str(already), 409)
    db.session.commit()
    flash(f"Item {found.id} is resolved.")
    return redirect(url_for(".queue"), 303)


def _act(item_id: int, action: str):
    """Take one of the item's actions; a refusal shows on the item's page with the reason."""
    found = _item_or_404(item_id)
    form = request.form
    reason = form.get("reason", "")
    actor, session = request_actor(), db.session
    today, zone = town_today(current_app.config), town_zone(current_app.config)
    try:
        with gateway() as opened:
            if action == "settle":
                payment = None
                if form.get("payment"):
                    payment = get_by_id(session, Payment, _number(form.get("payment")))
                    if payment is None:
                        raise actions.ActionRefused("There is no such payment.")
                done = actions.settle(
                    session, actor, found, opened, reason=reason, payment=payment, zone=zone
                )
            elif action == "record":
                account = session.scalar(
                    sa.select(Account).where(Account.number == (form.get("account") or "").strip())
                )
                done = actions.record_unknown(
                    session, actor, found, opened, account=account, reason=reason, zone=zone
                )
            elif action == "settle_taken":
                done = actions.settle_taken(session, actor, found, opened, reason=reason, zone=zone)
            elif action == "cancel":
                done = actions.cancel(session, actor, found, opened, reason=reason)
            elif action == "record_refund":
                done = actions.record_refund(session, actor, found, opened, reason=reason, on=today)
            elif action == "refund":
                done = actions.refund(session, actor, found, opened, reason=reason, zone=zone)
            elif action == "write_off":
                done = actions.write_off(
                    session,
                    actor,
                    found,
                    opened,
                    reason=reason,
                    limit_cents=current_app.config["RECONCILIATION_WRITE_OFF_LIMIT_CENTS"],
                    on=today,
                    zone=zone,
                )
            else:
                abort(404)
    except reconcile_queue.AlreadyResolved as already:
        session.rollback()
        return _item_page(_item_or_404(item_id), action_error=str(already), status=409)
    except actions.ActionRefused as refused:
        session.rollback()
        return _item_page(_item_or_404(item_id), action_error=str(refused), status=422)
    except PaymentError as error:
        session.rollback()
        message = (
            "Stripe cannot be reached now; nothing was changed. Try again in a few minutes."
            if error.retryable
            else f"Stripe refused: {error.detail or error}. Nothing was changed."
        )
        return _item_page(_item_or_404(item_id), action_error=message, status=502)
    session.commit()
    flash(f"Item {found.id} is resolved: {done}")
    return redirect(url_for(".queue"), 303)


def _number(text: str | None) -> int:
    text = (text or "").strip().lstrip("#")
    if not only_digits(text):
        raise actions.ActionRefused("Enter the payment's number.")
    return int(text)


@bp.route("/<int:item_id>/act", methods=["POST"])
@login_required
@requires("write")
def act(item_id: int):
    """Make our books say what Stripe says: settle, record, cancel, record Stripe's refund."""
    action = request.form.get("action", "")
    if action in actions.SUPERVISOR_ACTIONS:
        abort(403, description="A supervisor refunds or writes off.")
    return _act(item_id, action)


@bp.route("/<int:item_id>/refund", methods=["POST"])
@login_required
@requires("approve")
def refund(item_id: int):
    """Give back at Stripe what our books do not hold (a supervisor)."""
    return _act(item_id, "refund")


@bp.route("/<int:item_id>/write-off", methods=["POST"])
@login_required
@requires("approve")
def write_off(item_id: int):
    """Settle in full and bear what Stripe took less, up to the limit (a supervisor)."""
    return _act(item_id, "write_off")


def init_app(app) -> None:
    """Register the queue."""
    app.register_blueprint(bp)
