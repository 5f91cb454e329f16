"""The pay pages: a clerk pays an account's bill by card (thin: validate, call a service, commit).

The form records a pending payment; the card page saves the card with Stripe.js on a
SetupIntent (`/setup`), the server charges the saved card (`/charge`), Stripe.js runs
3-D Secure only when the bank asks, and the status page waits for the verified webhook
that settles the payment, then shows its receipt. Nothing here marks a bill paid.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField

from accounts import services as account_service
from accounts.models import Account
from core.auth import request_actor, requires
from core.calendar import town_zone
from core.extensions import db
from core.money import MoneyError, parse_dollars
from payments import payflow
from payments.fee_terms import FeeChannel
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.services import PaymentRefused, record_payment

log = logging.getLogger(__name__)

bp = Blueprint(
    "pay", __name__, url_prefix="/staff/accounts/<number>/pay", template_folder="templates"
)
#: pay.js at one address for every account (a blueprint's static route would sit under the
#: account number of `bp`'s url_prefix); the residents' quick pay will load it from here too.
assets = Blueprint(
    "payments_assets", __name__, static_folder="static", static_url_path="/payments/static"
)


class PayForm(FlaskForm):
    """What the resident pays: an amount in dollars and, optionally, which bills."""

    amount = StringField("Amount in dollars")
    #: Invoice numbers; the service checks each is the account's and still open.
    invoices = SelectMultipleField("Bills to pay", validate_choice=False)


def _account_or_404(number: str) -> Account:
    """The account in the URL, or 404."""
    account = account_service.find_account(db.session, number)
    if account is None:
        abort(404)
    return account


def _restart_url(account: Account, payment: Payment) -> str:
    """The pay form again, filled in with the amount and bills of a payment that failed."""
    return url_for(
        ".start",
        number=account.number,
        amount=payflow.dollars(payment.amount_cents),
        invoices=[invoice.number for invoice in payflow.invoices_of(db.session, payment)],
    )


def _flow(account: Account) -> payflow.Flow:
    """The JSON steps of the card page for this account."""
    return payflow.Flow(db.session, lambda payment: _restart_url(account, payment))


def _record(form: PayForm, account: Account) -> Payment | None:
    """Record the pending payment the form asks for, or put the reason under its field."""
    try:
        cents = parse_dollars(form.amount.data or "")
    except MoneyError:
        form.amount.errors.append("Enter the amount in dollars and cents, such as 50.00.")
        return None
    try:
        payment = record_payment(
            db.session,
            request_actor(),
            account=account,
            amount_cents=cents,
            invoice_numbers=list(dict.fromkeys(form.invoices.data or [])),
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        # NOTE: a clerk's card page is the card taken at the counter: its fee rule is the
        # counter's, though Stripe charges the card as it does online.
        payflow.quote_fee(db.session, request_actor(), payment, FeeChannel.COUNTER)
        return payment
    except PaymentRefused as refused:
        field = form.amount if refused.field == "amount_cents" else form.invoices
        field.errors.append(payflow.sentence(refused.message))
        return None


@bp.route("", methods=["GET", "POST"])
@login_required
@requires("write")
def start(number: str):
    """The open bills and how much to pay; a valid amount records a pending card payment."""
    account = _account_or_404(number)
    bills = payflow.open_bills(db.session, account)
    owed = sum(cents for _invoice, cents in bills)
    # NOTE: the defaults (the whole balance, or a failed payment's amount) fill the form
    # shown, never a submitted one: a POST without an amount is refused, not paid in full.
    shown = {"amount": request.args.get("amount") or payflow.dollars(owed)}
    shown["invoices"] = request.args.getlist("invoices")
    form = PayForm(**({} if request.method == "POST" else shown))
    if form.validate_on_submit():
        payment = _record(form, account)
        if payment is not None:
            db.session.commit()
            return redirect(url_for(".card", number=number, payment_id=payment.id), 303)
        db.session.rollback()
    page = render_template("payments/pay.html", account=account, bills=bills, owed=owed, form=form)
    return page, 422 if form.errors else 200


@bp.route("/<int:payment_id>")
@login_required
@requires("write")
def card(number: str, payment_id: int):
    """The card form for a pending payment (Stripe.js mounts the card element)."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        return redirect(url_for(".status", number=number, payment_id=payment.id))
    config = current_app.config
    return render_template(
        "payments/card.html",
        account=account,
        payment=payment,
        invoices=payflow.invoices_of(db.session, payment),
        restart_url=_restart_url(account, payment),
        stripe_js_url=config["STRIPE_JS_URL"],
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"],
        fee=payflow.fee_shown(db.session, payment),
    )


@bp.route("/<int:payment_id>/cancel", methods=["POST"])
@login_required
@requires("write")
def cancel(number: str, payment_id: int):
    """Cancel a payment not yet charged (the payer declines the fee, say); back to the form."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    canceled = payflow.cancel(db.session, request_actor(), payment)
    db.session.commit()
    if not canceled:
        return redirect(url_for(".card", number=number, payment_id=payment.id), 303)
    return redirect(url_for("console.account", number=number), 303)


@bp.route("/<int:payment_id>/setup", methods=["POST"])
@login_required
@requires("write")
def setup(number: str, payment_id: int):
    """A SetupIntent client secret for Stripe.js to save the card (confirmCardSetup)."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    return _flow(account).setup(payment)


@bp.route("/<int:payment_id>/charge", methods=["POST"])
@login_required
@requires("write")
def charge(number: str, payment_id: int):
    """Charge the card Stripe.js saved (`payment_method`); once per payment."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    return _flow(account).charge(request_actor(), payment, request.get_json(silent=True))


@bp.route("/<int:payment_id>/status")
@login_required
@requires("write")
def status(number: str, payment_id: int):
    """Pending until the webhook settles the payment, then its receipt; or why it failed."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    receipt = payflow.receipt_of(db.session, payment)
    zone = town_zone(current_app.config)
    return render_template(
        "payments/status.html",
        account=account,
        payment=payment,
        fee=payflow.fee_shown(db.session, payment),
        receipt=receipt,
        state=payflow.state(payment, receipt),
        paid=payflow.paid_by_invoice(receipt),
        issued=receipt.issued_at.astimezone(zone) if receipt else None,
        invoices=payflow.invoices_of(db.session, payment),
        restart_url=_restart_url(account, payment),
    )


@bp.route("/<int:payment_id>/status.json")
@login_required
@requires("write")
def status_json(number: str, payment_id: int):
    """The payment's state, which the status page polls until it changes."""
    account = _account_or_404(number)
    payment = payflow.payment_or_404(db.session, account, payment_id)
    receipt = payflow.receipt_of(db.session, payment)
    return jsonify(state=payflow.state(payment, receipt), status=payment.status.value)


def init_app(app) -> None:
    """Register the pay pages, pay.js, the reconciliation queue, the lockbox pages and the
    blocked bank accounts."""
    from payments import views_bank_blocks, views_lockbox, views_reconcile

    app.register_blueprint(bp)
    app.register_blueprint(views_bank_blocks.bp)
    app.register_blueprint(assets)
    views_reconcile.init_app(app)
    views_lockbox.init_app(app)
