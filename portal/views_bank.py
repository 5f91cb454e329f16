"""Paying a bill from a bank account (ACH): the bank page, its JSON steps and the mandate.

Thin, like every view: the page shows the mandate text before anything is confirmed;
POST start gives the debit's client secret for Stripe.js to collect the bank account
(collectBankAccountForPayment: Financial Connections, or account numbers verified by
microdeposits); POST confirm records the mandate the resident accepted (with this
request's IP address and browser) and confirms the debit through payments.bank_payments.
The convenience fee quoted on the payment is shown with the total (the card page's
include) and the mandate names that total; a fee changed by the confirm is answered
with the new fee and the bank page of a new payment quoted with it; nothing is debited.
The routes are on portal.views' blueprint.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale

from core.extensions import db
from payments import payflow
from payments.bank_payments import (
    confirm_bank_payment,
    mandate_text,
    quote_again,
    start_bank_payment,
)
from payments.convenience_fees import FeeChanged, charged_cents
from payments.gateway import UNAVAILABLE_MESSAGE, PaymentError
from payments.models import Payment, PaymentStatus, Tender
from payments.services import PaymentRefused
from portal import messages, receipts, web
from portal.views import _own_payment, bp

log = logging.getLogger(__name__)


def _language() -> str:
    """The page's language."""
    return str(get_locale() or "en")


def _bank_payment(payment_id: int):
    """The session's own bank payment; 404 for any other."""
    payment = _own_payment(payment_id)
    if payment.tender != Tender.BANK_DEBIT:
        abort(404)
    return payment


@bp.route("/my/pay/<int:payment_id>/bank")
@web.resident_required
def bank(payment_id: int):
    """The bank page of a pending bank payment: the mandate, then Stripe.js links the account."""
    payment = _bank_payment(payment_id)
    if payment.status != PaymentStatus.PENDING:
        return redirect(url_for(".status", payment_id=payment.id))
    config = current_app.config
    total = charged_cents(db.session, payment)
    return render_template(
        "portal/bank.html",
        account=web.account(),
        payment=payment,
        fee=payflow.fee_shown(db.session, payment),
        mandate=mandate_text(config["MUNICIPALITY_NAME"], total, _language()),
        restart_url=receipts.restart_url(payment),
        stripe_js_url=config["STRIPE_JS_URL"],
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"],
        pay_messages=messages.pay_script_messages(),
    )


def _refused(message: str, status: int):
    """A JSON refusal the page shows under the bank section."""
    return jsonify(error=messages.translate(message)), status


@bp.route("/my/pay/<int:payment_id>/bank/start", methods=["POST"])
@web.resident_required
def bank_start(payment_id: int):
    """The debit's client secret for Stripe.js to collect the bank account."""
    payment = _bank_payment(payment_id)
    try:
        if payment.stripe_payment_intent_id:
            with payflow.gateway() as opened:
                intent = opened.retrieve_payment_intent(payment.stripe_payment_intent_id)
            return jsonify(client_secret=intent.client_secret)
        with payflow.gateway() as opened:
            intent = start_bank_payment(db.session, opened, payment)
    except PaymentRefused as refused:
        db.session.rollback()
        return _refused(payflow.sentence(refused.message), 409)
    except PaymentError:
        log.warning("Stripe unavailable for bank payment %s", payment.id)
        db.session.commit()  # a customer Stripe created is kept for the next try
        return _refused(UNAVAILABLE_MESSAGE, 503)
    db.session.commit()
    return jsonify(client_secret=intent.client_secret)


@bp.route("/my/pay/<int:payment_id>/bank/confirm", methods=["POST"])
@web.resident_required
def bank_confirm(payment_id: int):
    """Record the accepted mandate and confirm the debit with the bank account Stripe.js linked."""
    payment = _bank_payment(payment_id)
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
    try:
        with payflow.gateway() as opened:
            intent = confirm_bank_payment(
                db.session,
                web.actor(),
                opened,
                payment,
                payment_method_id=method,
                ip_address=request.remote_addr or "",
                user_agent=request.headers.get("User-Agent", ""),
            )
    except FeeChanged as changed:
        return _fee_changed(payment, changed)
    except PaymentRefused as refused:
        db.session.commit()  # the refusal is in the audit log
        return _refused(payflow.sentence(refused.message), 409)
    except PaymentError:
        db.session.rollback()
        log.warning("Stripe unavailable confirming bank payment %s", payment.id)
        return _refused(UNAVAILABLE_MESSAGE, 503)
    db.session.commit()
    return jsonify(
        status=intent.status,
        verification_url=intent.verification_url,
        status_url=url_for(".status", payment_id=payment.id),
    )


def _fee_changed(payment: Payment, changed: FeeChanged):
    """Nothing debited: the fee changed since the resident saw it. The debit is canceled and a
    new payment quoted with the new fee, whose bank page shows it before they authorize again."""
    with payflow.gateway() as opened:
        again = quote_again(db.session, web.actor(), opened, payment, changed)
    body: dict[str, object] = {
        "error": messages.translate(payflow.FEE_CHANGED),
        "fee": payflow.fee_shown(db.session, again or payment),
        "restart_url": url_for(".bank", payment_id=again.id)
        if again is not None
        else receipts.restart_url(payment),
    }
    db.session.commit()
    return jsonify(body), 409
