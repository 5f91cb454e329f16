"""Online access from the account page: reissue the access code, remove a resident's link
(thin: read the form, call portal.access_changes, commit once)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.models import Account
from accounts.services import AccountError, find_account
from core.auth import request_actor, requires
from core.db import utcnow
from core.extensions import db
from core.text import only_digits
from portal import access_changes

bp = Blueprint("access", __name__, url_prefix="/staff/accounts", template_folder="templates")


def _account_or_404(number: str) -> Account:
    account = find_account(db.session, number)
    if account is None:
        abort(404)
    return account


def _reason() -> str:
    return request.form.get("reason", "")[: access_changes.MAX_REASON + 1]


@bp.post("/<number>/access-code")
@login_required
@requires("write")
def reissue(number: str):
    """Issue a new access code: shown once here, printed on the next notice; the old code's
    quick-pay sessions and every resident's link end."""
    account = _account_or_404(number)
    try:
        with access_changes.stripe_if_autopay(db.session, account, current_app.config) as gateway:
            done = access_changes.reissue_code(
                db.session,
                request_actor(),
                account,
                reason=_reason(),
                code_key=current_app.config["ACCESS_CODE_KEY"],
                now=utcnow(),
                gateway=gateway,
            )
    except AccountError as error:
        db.session.rollback()
        flash(f"The access code was not changed. {error}")
        return redirect(url_for("console.account", number=account.number) + "#online-access", 303)
    db.session.commit()
    page = render_template("console/access_code.html", account=account, done=done)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/<number>/residents/<resident_id>/unlink")
@login_required
@requires("write")
def unlink(number: str, resident_id: str):
    """Remove a resident's link to the account, with a reason; the resident is told next time."""
    account = _account_or_404(number)
    link = (
        access_changes.link_of(db.session, account, int(resident_id))
        if only_digits(resident_id) and len(resident_id) < 19
        else None
    )
    if link is None:
        abort(404)
    email = link.resident.email
    try:
        with access_changes.stripe_if_autopay(db.session, account, current_app.config) as gateway:
            autopay_ended = access_changes.unlink_resident(
                db.session, request_actor(), link, reason=_reason(), now=utcnow(), gateway=gateway
            )
    except AccountError as error:
        db.session.rollback()
        flash(f"{email} is still linked. {error}")
        return redirect(url_for("console.account", number=account.number) + "#online-access", 303)
    db.session.commit()
    note = " Their autopay on this account was turned off." if autopay_ended else ""
    flash(f"{email} is no longer linked to account {account.number}.{note}")
    return redirect(url_for("console.account", number=account.number) + "#online-access", 303)


def init_app(app) -> None:
    """Register the online-access actions of the account page."""
    app.register_blueprint(bp)
