"""The clerks' page of bank accounts blocked after their returns: who, why, and unblocking.

A bank account (by Stripe's fingerprint) is blocked by payments.ach_returns; a clerk lifts
the block with a reason (payments.bank_payments.unblock, audited), and its returns count
anew from then.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.models import Account
from core.auth import request_actor, requires
from core.extensions import db
from payments.ach_models import AchReturn, BlockedBankAccount
from payments.bank_payments import unblock
from payments.services import PaymentRefused

bp = Blueprint(
    "bank_blocks", __name__, url_prefix="/staff/bank-accounts", template_folder="templates"
)


def _page(error: str | None = None, status: int = 200):
    """Blocked bank accounts first, then the ones unblocked, with their returns."""
    rows = db.session.scalars(
        sa.select(BlockedBankAccount).order_by(
            BlockedBankAccount.unblocked_at.is_not(None), BlockedBankAccount.blocked_at.desc()
        )
    ).all()
    numbers = dict(
        db.session.execute(
            sa.select(Account.id, Account.number).where(
                Account.id.in_([r.account_id for r in rows if r.account_id])
            )
        ).all()
    )
    returns = {
        fingerprint: codes
        for fingerprint, codes in db.session.execute(
            sa.select(AchReturn.fingerprint, sa.func.count()).group_by(AchReturn.fingerprint)
        ).all()
    }
    page = render_template(
        "payments/bank_blocks.html",
        rows=rows,
        numbers=numbers,
        returns=returns,
        error=error,
        reason=request.form.get("reason", ""),
    )
    return page, status


@bp.route("/")
@login_required
@requires("read")
def blocked():
    """The bank accounts blocked for online payment and autopay."""
    return _page()


@bp.route("/<fingerprint>/unblock", methods=["POST"])
@login_required
@requires("write")
def unblock_account(fingerprint: str):
    """Lift a block, saying why (audited)."""
    if db.session.get(BlockedBankAccount, fingerprint) is None:
        abort(404)
    try:
        unblock(db.session, request_actor(), fingerprint, request.form.get("reason", ""))
    except PaymentRefused as refused:
        db.session.rollback()
        return _page(f"{refused.field}: {refused.message}", 422)
    db.session.commit()
    flash("The bank account is unblocked; its returns count anew from now.")
    return redirect(url_for(".blocked"), 303)
