"""Autopay from a bank account: the JSON steps of the autopay page's bank section.

Thin: POST setup gives a SetupIntent's client secret for Stripe.js to link the account
(collectBankAccountForSetup); POST confirm stores the standing mandate the resident accepted
(with this request's IP address and browser) and turns autopay on through
portal.autopay_bank. The routes are on portal.views_autopay's blueprint.
"""

from __future__ import annotations

import secrets

from flask import current_app, flash, g, jsonify, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from payments.gateway import PaymentError
from payments.payflow import gateway
from portal import autopay_bank, messages, web
from portal import autopay_enrollment as service
from portal.views_autopay import _gateway_refused, _refused, bp, registered_resident_required

#: Where the browser keeps the bank SetupIntent it is linking (in the signed session cookie).
BANK_SETUP_KEY = "autopay_bank_setup"


@bp.route("/my/autopay/bank/setup", methods=["POST"])
@registered_resident_required
def bank_setup():
    """A bank SetupIntent's client secret on the account's Stripe customer, for Stripe.js."""
    if not current_app.config["AUTOPAY_ENABLED"]:
        return _refused(service.NOT_OFFERED, 409)
    account = web.account()
    key = f"munibill-autopay-bank-{g.portal_session.id}-{secrets.token_hex(8)}"
    try:
        with gateway() as opened:
            intent = autopay_bank.start(db.session, opened, account, key)
    except PaymentError as error:
        db.session.commit()  # a customer Stripe created is kept for the next try
        return _gateway_refused(error)
    db.session.commit()
    session[BANK_SETUP_KEY] = {"account": account.id, "id": intent.id}
    return jsonify(client_secret=intent.client_secret)


@bp.route("/my/autopay/bank/confirm", methods=["POST"])
@registered_resident_required
def bank_confirm():
    """Store the accepted mandate and turn autopay on with the linked bank account."""
    body = request.get_json(silent=True)
    method = body.get("payment_method") if isinstance(body, dict) else None
    if not isinstance(method, str) or not 0 < len(method) <= 255:
        return jsonify(
            error=messages.translate("The bank account was not linked. Try again."),
            errors={"payment_method": ["Send the id of the linked payment method."]},
        ), 400
    if body.get("mandate_accepted") is not True:
        return jsonify(
            error=messages.translate("Read and accept the authorization to continue."),
            errors={"mandate_accepted": ["The resident must accept the mandate."]},
        ), 400
    if not current_app.config["AUTOPAY_ENABLED"]:
        return _refused(service.NOT_OFFERED, 409)
    account = web.account()
    started = session.get(BANK_SETUP_KEY) or {}
    if started.get("account") != account.id:
        return _refused(service.NOT_SAVED, 409)
    try:
        with gateway() as opened:
            row, intent = autopay_bank.enroll_bank(
                db.session,
                web.actor(),
                account=account,
                resident=g.portal_session.resident,
                gateway=opened,
                setup_intent_id=started["id"],
                payment_method_id=method,
                ip_address=request.remote_addr or "",
                user_agent=request.headers.get("User-Agent", ""),
            )
    except service.AutopayRefused as refused:
        db.session.commit()  # a refusal for a blocked account is in the audit log
        return _refused(str(refused), 409)
    except PaymentError as error:
        db.session.rollback()
        return _gateway_refused(error)
    try:
        db.session.commit()
    except IntegrityError:  # another enrollment of the account landed at the same moment
        db.session.rollback()
        return _refused(service.NOT_SAVED, 409)
    if row is None:
        return jsonify(status=intent.status, verification_url=intent.verification_url)
    session.pop(BANK_SETUP_KEY, None)
    flash(_("Autopay is on. We will debit your bank account for each bill on its due date."))
    return jsonify(status=intent.status, redirect=url_for(".autopay"))
