"""Autopay pages: a registered resident saves a card for the account shown, or turns autopay off.

Thin, like every view: validate, call portal.autopay_enrollment, commit once, answer. The
card goes from the browser to Stripe.js only (autopay.js): POST setup gives a SetupIntent's
client secret, Stripe.js confirms it, and POST confirm enrolls the card it saved. Quick-pay
sessions (no resident) are sent to sign in: autopay needs an online account.
"""

from __future__ import annotations

import functools
import logging
import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from core.calendar import town_date, town_zone
from core.extensions import db
from payments.bank_payments import mandate_text
from payments.gateway import UNAVAILABLE_MESSAGE, PaymentError
from payments.online import ensure_customer
from payments.payflow import gateway
from portal import autopay_enrollment as service
from portal import messages, web

log = logging.getLogger(__name__)

bp = Blueprint("portal_autopay", __name__, template_folder="templates")

#: Where the browser keeps the SetupIntent it is confirming (inside the signed session cookie).
SETUP_KEY = "autopay_setup"


def registered_resident_required(view):
    """The view needs a registered resident's session; a quick-pay session is sent to sign in."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.portal_session.resident_id is None:
            flash(_("Autopay needs an online account. Sign in or create one to turn it on."))
            return redirect(url_for("portal_account.sign_in"))
        return view(*args, **kwargs)

    return web.resident_required(wrapped)


def _script_messages() -> dict[str, str]:
    """The texts autopay.js shows, in the page's language (read from data- attributes)."""
    return {
        "unavailable": _(
            "Payments are temporarily unavailable. Please try again in a few minutes."
        ),
        "expired": _("This page has expired. Reload it and try again."),
        "not-saved": _("The card could not be checked. Check the card details and try again."),
        "busy": _("Saving your card…"),
        "done": _("Autopay is on. Opening your autopay page…"),
    }


@bp.route("/my/autopay")
@registered_resident_required
def autopay():
    """Whether autopay is on for the account, with which card; the form to turn it on or off."""
    account = web.account()
    active = service.active_autopay(db.session, account.id)
    zone = town_zone(current_app.config)
    config = current_app.config
    return render_template(
        "portal/autopay.html",
        account=account,
        active=active,
        card=service.card_name(active) if active is not None else None,
        since=town_date(active.created_at, zone) if active is not None else None,
        enabled=config["AUTOPAY_ENABLED"],
        stripe_js_url=config["STRIPE_JS_URL"],
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"],
        script_messages=_script_messages(),
        bank_mandate=mandate_text(config["MUNICIPALITY_NAME"], None, str(get_locale() or "en")),
    )


def _refused(message: str, status: int):
    """A JSON answer the script shows under the card."""
    return jsonify(error=messages.translate(message)), status


def _gateway_refused(error: PaymentError):
    """A Stripe refusal (402) or outage (503) as the script shows it; never an error page."""
    if error.retryable:
        log.warning("Stripe unavailable for autopay: %s", error.detail or error)
        return _refused(UNAVAILABLE_MESSAGE, 503)
    return _refused(error.message_for_resident, 402)


@bp.route("/my/autopay/setup", methods=["POST"])
@registered_resident_required
def setup():
    """A SetupIntent client secret on the account's Stripe customer, for Stripe.js."""
    if not current_app.config["AUTOPAY_ENABLED"]:
        return _refused(service.NOT_OFFERED, 409)
    account = web.account()
    key = f"munibill-autopay-setup-{g.portal_session.id}-{secrets.token_hex(8)}"
    try:
        with gateway() as opened:
            customer = ensure_customer(db.session, opened, account)
            intent = opened.create_setup_intent(customer_id=customer, idempotency_key=key)
    except PaymentError as error:
        db.session.commit()  # a customer Stripe created is kept for the next try
        return _gateway_refused(error)
    db.session.commit()
    session[SETUP_KEY] = {"account": account.id, "id": intent.id}
    return jsonify(client_secret=intent.client_secret)


@bp.route("/my/autopay/confirm", methods=["POST"])
@registered_resident_required
def confirm():
    """Enroll the card Stripe.js saved (`payment_method` in the JSON body)."""
    body = request.get_json(silent=True)
    method = body.get("payment_method") if isinstance(body, dict) else None
    if not isinstance(method, str) or not 0 < len(method) <= 255:
        return jsonify(
            error=messages.translate(service.NOT_SAVED),
            errors={"payment_method": ["Send the id of the saved payment method."]},
        ), 400
    if not current_app.config["AUTOPAY_ENABLED"]:
        return _refused(service.NOT_OFFERED, 409)
    account = web.account()
    started = session.get(SETUP_KEY) or {}
    if started.get("account") != account.id:
        return _refused(service.NOT_SAVED, 409)
    try:
        with gateway() as opened:
            service.enroll(
                db.session,
                web.actor(),
                account=account,
                resident=g.portal_session.resident,
                gateway=opened,
                payment_method_id=method,
                setup_intent_id=started.get("id"),
            )
    except service.AutopayRefused as refused:
        db.session.rollback()
        return _refused(str(refused), 409)
    except PaymentError as error:
        db.session.rollback()
        return _gateway_refused(error)
    try:
        db.session.commit()
    except IntegrityError:  # another enrollment of the account landed at the same moment
        db.session.rollback()
        return _refused(service.NOT_SAVED, 409)
    session.pop(SETUP_KEY, None)
    flash(_("Autopay is on. We will charge your card for each bill on its due date."))
    return jsonify(redirect=url_for(".autopay"))


@bp.route("/my/autopay/cancel", methods=["POST"])
@registered_resident_required
def cancel():
    """Turn autopay off for the account; bills are no longer charged from now on."""
    try:
        with gateway() as opened:
            row = service.cancel(db.session, web.actor(), account=web.account(), gateway=opened)
    except PaymentError:  # Stripe is not configured: stop charging all the same
        row = service.cancel(db.session, web.actor(), account=web.account())
    db.session.commit()
    if row is None:
        flash(_("Autopay was already off."))
    else:
        flash(_("Autopay is off. We will not charge your card again."))
    return redirect(url_for(".autopay"), 303)


def init_app(app) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
