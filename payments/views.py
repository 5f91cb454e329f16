"""The pay pages: a clerk pays an account's bill by card (thin: validate, call a service, commit).

The form records a pending payment; the card page saves the card with Stripe.js on a
SetupIntent (`/setup`), the server charges the saved card (`/charge`), Stripe.js runs
3-D Secure only when the bank asks, and the status page waits for the verified webhook
that settles the payment, then shows its receipt. Nothing here marks a bill paid.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import sqlalchemy as sa
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

from billing import accounts as account_service
from billing.models import Account, Invoice
from core.auth import request_actor, requires
from core.extensions import db
from core.money import MoneyError, parse_dollars
from core.settings import ConfigError
from payments.gateway import (
    GENERIC_MESSAGE,
    UNAVAILABLE_MESSAGE,
    PaymentError,
    StripeGateway,
    StripePaymentIntent,
)
from payments.models import Channel, Payment, PaymentStatus, Receipt, Tender
from payments.online import charge_card, start_card_payment
from payments.services import OPEN, PaymentRefused, owed_items, record_payment

log = logging.getLogger(__name__)

bp = Blueprint(
    "pay", __name__, url_prefix="/staff/accounts/<number>/pay", template_folder="templates"
)
#: pay.js at one address for every account (a blueprint's static route would sit under the
#: account number of `bp`'s url_prefix); the residents' quick pay will load it from here too.
assets = Blueprint(
    "payments_assets", __name__, static_folder="static", static_url_path="/payments/static"
)

#: What the status page says a payment is; `processing` (a bank debit) is never "paid".
PAID, PENDING, UNPAID, FAILED = "paid", "pending", "unpaid", "failed"
#: The largest id a payment can have (BIGINT); a larger one in a URL is simply not found.
MAX_ID = 2**63 - 1
NOT_CHARGEABLE = "This payment did not go through, so it cannot be paid again. Start a new payment."


class PayForm(FlaskForm):
    """What the resident pays: an amount in dollars and, optionally, which bills."""

    amount = StringField("Amount in dollars")
    #: Invoice numbers; the service checks each is the account's and still open.
    invoices = SelectMultipleField("Bills to pay", validate_choice=False)


def _dollars(cents: int) -> str:
    """Cents as a plain dollar amount for a form field ('107.84')."""
    return f"{cents // 100}.{cents % 100:02d}"


def _sentence(message: str) -> str:
    """A service's lower-case reason as a sentence."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _account_or_404(number: str) -> Account:
    """The account in the URL, or 404."""
    account = account_service.find_account(db.session, number)
    if account is None:
        abort(404)
    return account


def _payment_or_404(account: Account, payment_id: int) -> Payment:
    """The payment, only if it belongs to the account in the URL; else 404."""
    payment = db.session.get(Payment, payment_id) if payment_id <= MAX_ID else None
    if payment is None or payment.account_id != account.id:
        abort(404)
    return payment


def _open_bills(account: Account) -> list[tuple[Invoice, int]]:
    """The account's open invoices, oldest due first, with what each still owes."""
    invoices = list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.account_id == account.id, Invoice.status.in_(OPEN))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    owed = dict.fromkeys((invoice.id for invoice in invoices), 0)
    for item in owed_items(db.session, invoices) if invoices else []:
        owed[item.invoice_id] += item.balance_cents
    return [(invoice, owed[invoice.id]) for invoice in invoices if owed[invoice.id] > 0]


def _invoices_of(payment: Payment) -> list[Invoice]:
    """The invoices the payer chose (none: the oldest open bills first)."""
    if not payment.invoice_ids:
        return []
    query = sa.select(Invoice).where(Invoice.id.in_(payment.invoice_ids)).order_by(Invoice.id)
    return list(db.session.scalars(query))


def _restart_url(account: Account, payment: Payment) -> str:
    """The pay form again, filled in with the amount and bills of a payment that failed."""
    return url_for(
        ".start",
        number=account.number,
        amount=_dollars(payment.amount_cents),
        invoices=[invoice.number for invoice in _invoices_of(payment)],
    )


def _record(form: PayForm, account: Account) -> Payment | None:
    """Record the pending payment the form asks for, or put the reason under its field."""
    try:
        cents = parse_dollars(form.amount.data or "")
    except MoneyError:
        form.amount.errors.append("Enter the amount in dollars and cents, such as 50.00.")
        return None
    try:
        return record_payment(
            db.session,
            request_actor(),
            account=account,
            amount_cents=cents,
            invoice_numbers=list(dict.fromkeys(form.invoices.data or [])),
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
    except PaymentRefused as refused:
        field = form.amount if refused.field == "amount_cents" else form.invoices
        field.errors.append(_sentence(refused.message))
        return None


@bp.route("", methods=["GET", "POST"])
@login_required
@requires("write")
def start(number: str):
    """The open bills and how much to pay; a valid amount records a pending card payment."""
    account = _account_or_404(number)
    bills = _open_bills(account)
    owed = sum(cents for _invoice, cents in bills)
    # NOTE: the defaults (the whole balance, or a failed payment's amount) fill the form
    # shown, never a submitted one: a POST without an amount is refused, not paid in full.
    shown = {"amount": request.args.get("amount") or _dollars(owed)}
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
    payment = _payment_or_404(account, payment_id)
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        return redirect(url_for(".status", number=number, payment_id=payment.id))
    config = current_app.config
    return render_template(
        "payments/card.html",
        account=account,
        payment=payment,
        invoices=_invoices_of(payment),
        restart_url=_restart_url(account, payment),
        stripe_js_url=config["STRIPE_JS_URL"],
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"],
    )


@contextmanager
def _gateway() -> Iterator[StripeGateway]:
    """A gateway on the app's settings, closed afterwards; missing settings count as an outage."""
    try:
        gateway = StripeGateway.from_config(current_app.config)
    except ConfigError:
        log.exception("card payments are not configured")
        raise PaymentError(UNAVAILABLE_MESSAGE, code="not_configured", retryable=True) from None
    with gateway:
        yield gateway


def _refused(message: str, status: int, account: Account, payment: Payment):
    """A JSON answer the page shows under the card, with a way on if this payment is spent."""
    body: dict[str, str] = {"error": message}
    if payment.status != PaymentStatus.PENDING or payment.stripe_payment_intent_id:
        body["restart_url"] = _restart_url(account, payment)
    return jsonify(body), status


def _gateway_refused(error: PaymentError, account: Account, payment: Payment):
    """A Stripe refusal (402) or outage (503) as the page shows it; never an error page."""
    if error.retryable:
        log.warning("Stripe unavailable for payment %s: %s", payment.id, error.detail or error)
        return _refused(UNAVAILABLE_MESSAGE, 503, account, payment)
    return _refused(error.message_for_resident, 402, account, payment)


@bp.route("/<int:payment_id>/setup", methods=["POST"])
@login_required
@requires("write")
def setup(number: str, payment_id: int):
    """A SetupIntent client secret for Stripe.js to save the card (confirmCardSetup)."""
    account = _account_or_404(number)
    payment = _payment_or_404(account, payment_id)
    if payment.status != PaymentStatus.PENDING:
        return _refused(NOT_CHARGEABLE, 409, account, payment)
    try:
        with _gateway() as gateway:
            secret = start_card_payment(db.session, gateway, payment)
    except PaymentError as error:
        db.session.commit()  # a customer Stripe created is kept for the next try
        return _gateway_refused(error, account, payment)
    db.session.commit()
    return jsonify(client_secret=secret)


def _charged(intent: StripePaymentIntent, account: Account, payment: Payment):
    """What the page does next after the charge: wait for the receipt, 3-D Secure, or a refusal."""
    if intent.status in ("succeeded", "processing", "requires_action"):
        return jsonify(status=intent.status, client_secret=intent.client_secret)
    message = intent.last_error.message_for_resident if intent.last_error else GENERIC_MESSAGE
    return _refused(message, 402, account, payment)


@bp.route("/<int:payment_id>/charge", methods=["POST"])
@login_required
@requires("write")
def charge(number: str, payment_id: int):
    """Charge the card Stripe.js saved (`payment_method`); once per payment."""
    account = _account_or_404(number)
    payment = _payment_or_404(account, payment_id)
    method = (request.get_json(silent=True) or {}).get("payment_method")
    if not isinstance(method, str) or not 0 < len(method) <= 255:
        return jsonify(
            error="The card was not saved. Enter it again.",
            errors={"payment_method": ["Send the id of the saved payment method."]},
        ), 400
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return _refused(NOT_CHARGEABLE, 409, account, payment)
    try:
        with _gateway() as gateway:
            intent = charge_card(db.session, request_actor(), gateway, payment, method)
    except PaymentError as error:
        db.session.commit()  # the failure and its reason are kept
        return _gateway_refused(error, account, payment)
    db.session.commit()
    return _charged(intent, account, payment)


def _state(payment: Payment, receipt: Receipt | None) -> str:
    """Paid (with a receipt), pending (charged, not yet confirmed), unpaid or failed."""
    if receipt is not None:
        return PAID
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return FAILED
    if payment.status == PaymentStatus.PENDING and not payment.stripe_payment_intent_id:
        return UNPAID
    return PENDING


def _receipt_of(payment: Payment) -> Receipt | None:
    """The receipt the settling webhook issued, if any yet."""
    return db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment.id))


def _paid_by_invoice(receipt: Receipt | None) -> list[tuple[str, int]]:
    """What the receipt paid on each invoice, in the order it was applied."""
    paid: dict[str, int] = {}
    for part in receipt.paid if receipt else []:
        paid[part["invoice"]] = paid.get(part["invoice"], 0) + part["cents"]
    return list(paid.items())


@bp.route("/<int:payment_id>/status")
@login_required
@requires("write")
def status(number: str, payment_id: int):
    """Pending until the webhook settles the payment, then its receipt; or why it failed."""
    account = _account_or_404(number)
    payment = _payment_or_404(account, payment_id)
    receipt = _receipt_of(payment)
    zone = ZoneInfo(current_app.config["MUNICIPALITY_TIMEZONE"])
    return render_template(
        "payments/status.html",
        account=account,
        payment=payment,
        receipt=receipt,
        state=_state(payment, receipt),
        paid=_paid_by_invoice(receipt),
        issued=receipt.issued_at.astimezone(zone) if receipt else None,
        invoices=_invoices_of(payment),
        restart_url=_restart_url(account, payment),
    )


@bp.route("/<int:payment_id>/status.json")
@login_required
@requires("write")
def status_json(number: str, payment_id: int):
    """The payment's state, which the status page polls until it changes."""
    account = _account_or_404(number)
    payment = _payment_or_404(account, payment_id)
    return jsonify(state=_state(payment, _receipt_of(payment)), status=payment.status.value)


def init_app(app) -> None:
    """Register the pay pages and pay.js."""
    app.register_blueprint(bp)
    app.register_blueprint(assets)
