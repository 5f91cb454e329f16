"""The clerks' reconciliation queue: what the scheduler found that does not match Stripe,
with both records side by side, and the resolution of each, once, with who and when.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from core.auth import request_actor, requires
from core.db import get_by_id
from core.extensions import db
from payments import reconcile
from payments.models import Payment, ReconciliationItem, ReconciliationStatus

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


def _item_page(item: ReconciliationItem, error: str | None = None, status: int = 200):
    payment = db.session.get(Payment, item.payment_id) if item.payment_id else None
    page = render_template(
        "payments/reconciliation_item.html",
        item=item,
        payment=payment,
        error=error,
        resolution=request.form.get("resolution", ""),
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
        reconcile.resolve(db.session, request_actor(), found, resolution)
    except reconcile.AlreadyResolved as already:
        return _item_page(found, str(already), 409)
    db.session.commit()
    flash(f"Item {found.id} is resolved.")
    return redirect(url_for(".queue"), 303)


def init_app(app) -> None:
    """Register the queue."""
    app.register_blueprint(bp)
