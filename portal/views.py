"""The residents' pages: quick pay, the bill, paying by card, the receipt, history and downloads.

Thin, like every view: validate, call a service, commit once, render. Every object a
URL names is checked against the session's account (portal.web); anything else is 404.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

import portal.models  # noqa: F401 - the portal's tables belong to the app's metadata
from accounts.models import Language
from accounts.services import FormerNumbers
from billing.liens import closing_liens, liens_of_account, refusal_of
from billing.reconnection import service_shut_off
from core import errors
from core.audit import record
from core.calendar import town_today, town_zone
from core.db import utcnow
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars
from notices.issuing import NoticeError
from notices.models import Notice
from payments import payflow
from payments.fee_terms import FeeChannel
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.services import PaymentRefused, record_payment
from portal import access, documents, i18n, limits, messages, receipts, web, zip_lookup
from portal import bill as bill_data
from portal.questions import holding_pauses, questions_by_invoice

log = logging.getLogger(__name__)

bp = Blueprint(
    "portal",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/portal/static",
)


class LookupForm(FlaskForm):
    """Quick pay: the account number and the access code, or the ZIP code and last name."""

    method = HiddenField(default="code")
    account = StringField()
    code = StringField()
    zip_code = StringField()
    last_name = StringField()


class PayForm(FlaskForm):
    """How much to pay: the whole amount due or another amount."""

    #: "all" (the whole amount due) or "other" (the amount below).
    choice = StringField(default="all")
    amount = StringField()
    #: "card" or "bank" (a debit of a US bank account, portal.views_bank).
    method = StringField(default="card")


#: The ways to pay online the bill page offers, by the form's value.
METHODS = {"card": Tender.CARD, "bank": Tender.BANK_DEBIT}


def _safe_next(target: str | None, fallback: str) -> str:
    """Only follow a next= that stays on this site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target if not urlsplit(target).netloc else fallback
    return fallback


def _remember_language(account) -> None:
    """The language picked in this browser becomes the account's (pages and notices)."""
    picked = i18n.chosen_language()
    if picked and account.language.value != picked:
        before = account.language.value
        account.language = Language(picked)
        record(
            db.session,
            web.actor(),
            "account.language",
            account,
            before={"language": before},
            after={"language": picked},
        )


def _former_numbers() -> FormerNumbers:
    """Whether converted accounts' former numbers are still accepted (docs/conversion.md)."""
    return FormerNumbers(
        town_today(current_app.config), current_app.config["CONVERSION_FORMER_NUMBER_DAYS"]
    )


@bp.route("/pay", methods=["GET", "POST"])
@limits.lookup_limits
def quick_pay():
    """Find a bill by account number and access code (or, where allowed, the summary of one
    by ZIP code and last name)."""
    zip_allowed = current_app.config["QUICKPAY_ZIP_FALLBACK"]
    form = LookupForm(account=request.args.get("account", "")[:20])
    status = 200
    by_zip = False
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("This page had expired. Enter your details again."))
            return redirect(url_for(".quick_pay"))
        by_zip = zip_allowed and form.method.data == "zip"
        needed = {"account": _("Enter the account number from your bill.")}
        if by_zip:
            needed |= {
                "zip_code": _("Enter the ZIP code of the service address."),
                "last_name": _("Enter the last name on the account."),
            }
        else:
            needed["code"] = _("Enter the access code from your bill.")
        if web.required_fields(form, needed):
            try:
                if by_zip:
                    account = access.find_by_zip(
                        db.session,
                        form.account.data,
                        form.zip_code.data,
                        form.last_name.data,
                        former=_former_numbers(),
                    )
                else:
                    account = access.find_by_code(
                        db.session, form.account.data, form.code.data, former=_former_numbers()
                    )
            except access.LookupFailed:
                limits.failed()
                access.record_lookup(
                    db.session,
                    account=None,
                    origin=request.remote_addr,
                    ok=False,
                    how="zip" if by_zip else "code",
                )
                db.session.commit()
                form.form_errors.append(web.no_match())
            else:
                if by_zip:
                    return _found_by_zip(account)
                return _signed_in(account, "code")
        status = 422
    page = render_template(
        "portal/quick_pay.html",
        form=form,
        zip_allowed=zip_allowed,
        by_zip=by_zip,
    )
    return page, status


def _found_by_zip(account):
    """A ZIP code and last name are public facts: they show a masked summary, and the bill
    opens only with a code (portal.views_zip)."""
    web.forget()
    zip_lookup.remember(session, account.number, utcnow())
    access.record_lookup(
        db.session, account=account, origin=request.remote_addr, ok=True, how="zip (summary)"
    )
    db.session.commit()
    return redirect(url_for(".zip_found"), 303)


def _signed_in(account, how: str):
    """Start a fresh session on the account (any earlier one in this browser is replaced)."""
    web.forget()
    started = access.start_session(
        db.session, now=utcnow(), origin=request.remote_addr, account=account
    )
    web.remember(started.token)
    g.portal_session, g.portal_account = started.row, account
    access.record_lookup(db.session, account=account, origin=request.remote_addr, ok=True, how=how)
    _remember_language(account)
    db.session.commit()
    return redirect(url_for(".bill"), 303)


@bp.route("/language", methods=["POST"])
def language():
    """Switch the pages' language; a signed-in account remembers it."""
    picked = request.form.get("lang", "")
    if picked in i18n.LANGUAGES:
        session[i18n.SESSION_KEY] = picked
        row = web.load_portal_session()
        if row is not None and row.resident is not None:
            row.resident.language = picked
        if row is not None and row.account is not None:
            _remember_language(row.account)
        db.session.commit()
    return redirect(_safe_next(request.form.get("next"), url_for(".quick_pay")), 303)


@bp.route("/my/signout", methods=["POST"])
def sign_out():
    """End the session on every device that holds it."""
    web.forget()
    db.session.commit()
    flash(_("You are signed out."))
    return redirect(url_for(".quick_pay"), 303)


def _today():
    return town_today(current_app.config)


def _bill_page(form: PayForm, status: int = 200):
    account = web.account()
    today = _today()
    bills = bill_data.open_bills(db.session, account, today)
    balance = bill_data.balance(db.session, account, today)
    asked = any(bill.has_questions for bill in bills)
    questions = questions_by_invoice(db.session, account.id) if asked else {}
    closed = closing_liens(db.session, [bill.invoice_id for bill in bills])
    page = render_template(
        "portal/bill.html",
        account=account,
        bills=bills,
        # NOTE: "pay everything" online pays the bills not under a lien closing online payment.
        online_cents=sum(b.owed_cents for b in bills if b.invoice_id not in closed),
        liened_cents=sum(b.owed_cents for b in bills if b.invoice_id in closed),
        balance=balance,
        next_due=bill_data.next_due(bills, balance, today),
        liens=liens_of_account(db.session, account.id),
        form=form,
        questions=questions,
        paused=holding_pauses(db.session, [q for rows in questions.values() for q in rows])
        if asked
        else set(),
        service_off=service_shut_off(db.session, account.id) is not None,
    )
    return page, status


@bp.route("/my/bill")
@web.resident_required
def bill():
    """The open bills, what is owed and past due, and the form to pay it."""
    form = PayForm()
    if request.args.get("amount"):
        form.choice.data, form.amount.data = "other", request.args["amount"][:20]
    return _bill_page(form)


def _amount_error(form: PayForm, owed: int) -> int | None:
    """The cents to pay, or None with the reason under the amount."""
    if form.choice.data != "other":
        return owed
    try:
        cents = parse_dollars(form.amount.data or "")
    except MoneyError:
        form.amount.errors = [_("Enter the amount in dollars and cents, such as 50.00.")]
        return None
    if cents <= 0:
        form.amount.errors = [_("Enter an amount greater than zero.")]
    elif cents > owed:
        form.amount.errors = [
            _("The most you can pay is %(amount)s, what is owed.", amount=format_cents(owed))
        ]
    else:
        return cents
    return None


@bp.route("/my/pay", methods=["POST"])
@web.resident_required
def pay():
    """Record a pending card payment of the chosen amount, then the card page."""
    form = PayForm()
    if not form.validate_on_submit():
        flash(_("This page had expired. Enter your details again."))
        return redirect(url_for(".bill"))
    if form.choice.data not in ("all", "other"):
        form.choice.errors = [_("Choose how much to pay.")]
        return _bill_page(form, 422)
    if form.method.data not in METHODS:
        form.method.errors = [_("Choose how to pay.")]
        return _bill_page(form, 422)
    account = web.account()
    bills = payflow.open_bills(db.session, account)
    closed = closing_liens(db.session, [invoice.id for invoice, _cents in bills])
    owed = sum(cents for invoice, cents in bills if invoice.id not in closed)
    if owed <= 0 and closed:
        form.amount.errors = [messages.lien_refusal(refusal_of(closed)[1])]
        return _bill_page(form, 422)
    if owed <= 0:
        flash(_("Nothing is owed on this account."))
        return redirect(url_for(".bill"), 303)
    cents = _amount_error(form, owed)
    if cents is None:
        return _bill_page(form, 422)
    try:
        payment = record_payment(
            db.session,
            web.actor(),
            account=account,
            amount_cents=cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=METHODS[form.method.data],
        )
        payflow.quote_fee(db.session, web.actor(), payment, FeeChannel.ONLINE)
    except PaymentRefused as refused:
        db.session.rollback()
        form.amount.errors = [messages.refusal_text(refused)]
        form.choice.data = "other"
        return _bill_page(form, 422)
    db.session.commit()
    page = ".bank" if payment.tender == Tender.BANK_DEBIT else ".card"
    return redirect(url_for(page, payment_id=payment.id), 303)


def _next_try_urls(payment: Payment) -> dict[str, str]:
    """Where the card page saves, charges and follows the payment recorded after a decline."""
    return {
        "setup_url": url_for(".setup", payment_id=payment.id),
        "charge_url": url_for(".charge", payment_id=payment.id),
        "status_url": url_for(".status", payment_id=payment.id),
        "cancel_url": url_for(".cancel_payment", payment_id=payment.id),
        "card_url": url_for(".card", payment_id=payment.id),
    }


def _flow() -> payflow.Flow:
    return payflow.Flow(db.session, receipts.restart_url, messages.translate, _next_try_urls)


def _own_payment(payment_id: int) -> Payment:
    return payflow.payment_or_404(db.session, web.account(), payment_id)


@bp.route("/my/pay/<int:payment_id>")
@web.resident_required
def card(payment_id: int):
    """The card form for a pending payment (Stripe.js mounts the card element)."""
    payment = _own_payment(payment_id)
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        return redirect(url_for(".status", payment_id=payment.id))
    if payment.tender == Tender.BANK_DEBIT:
        return redirect(url_for(".bank", payment_id=payment.id))
    config = current_app.config
    return render_template(
        "portal/card.html",
        account=web.account(),
        payment=payment,
        restart_url=receipts.restart_url(payment),
        stripe_js_url=config["STRIPE_JS_URL"],
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"],
        pay_messages=messages.pay_script_messages(),
        fee=payflow.fee_shown(db.session, payment),
    )


@bp.route("/my/pay/<int:payment_id>/cancel", methods=["POST"])
@web.resident_required
def cancel_payment(payment_id: int):
    """The payer cancels a payment not yet charged (rather than pay its fee, say)."""
    payment = _own_payment(payment_id)
    if payflow.cancel(db.session, web.actor(), payment):
        flash(_("Your payment was canceled. Nothing was charged."))
    else:
        flash(_("This payment has already been charged, so it cannot be canceled here."))
    db.session.commit()
    return redirect(url_for(".bill"), 303)


@bp.route("/my/pay/<int:payment_id>/setup", methods=["POST"])
@web.resident_required
def setup(payment_id: int):
    """A SetupIntent client secret for Stripe.js to save the card."""
    return _flow().setup(_own_payment(payment_id))


@bp.route("/my/pay/<int:payment_id>/charge", methods=["POST"])
@web.resident_required
def charge(payment_id: int):
    """Charge the card Stripe.js saved; once per payment."""
    payment = _own_payment(payment_id)
    return _flow().charge(web.actor(), payment, request.get_json(silent=True))


def _zone() -> ZoneInfo:
    """The town's time zone."""
    return town_zone(current_app.config)


@bp.route("/my/pay/<int:payment_id>/status")
@web.resident_required
def status(payment_id: int):
    """Pending until the webhook settles the payment, then its receipt; or why it failed."""
    return receipts.status_page(_own_payment(payment_id))


@bp.route("/my/pay/<int:payment_id>/status.json")
@web.resident_required
def status_json(payment_id: int):
    """The payment's state, which the status page polls until it changes."""
    payment = _own_payment(payment_id)
    receipt = payflow.receipt_of(db.session, payment)
    return jsonify(state=payflow.state(payment, receipt))


@bp.route("/my/receipts/<int:payment_id>")
@web.resident_required
def receipt(payment_id: int):
    """A payment's receipt page (the status page of a settled payment), with the form that
    e-mails it (portal.views_receipts)."""
    return receipts.status_page(_own_payment(payment_id))


def _send(notice: Notice):
    try:
        data = documents.pdf_bytes(current_app.config, notice)
    except (OSError, NoticeError):
        log.exception("notice %s could not be read", notice.id)
        abort(503)
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=documents.download_name(notice),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/my/receipts/<int:payment_id>.pdf")
@web.resident_required
def receipt_pdf(payment_id: int):
    """The receipt as a PDF."""
    payment = _own_payment(payment_id)
    row = payflow.receipt_of(db.session, payment)
    if row is None:
        abort(404)
    notice = documents.receipt_notice(db.session, current_app.config, web.actor(), row)
    db.session.commit()
    return _send(notice)


@bp.route("/my/bills/<number>.pdf")
@web.resident_required
def bill_pdf(number: str):
    """A bill's notice as it was sent (or issued now if it never went out)."""
    invoice = web.own_invoice_or_404(number)
    notice = documents.bill_notice(db.session, current_app.config, web.actor(), invoice)
    db.session.commit()
    return _send(notice)


@bp.route("/my/notices/<int:notice_id>.pdf")
@web.resident_required
def notice_pdf(notice_id: int):
    """Any notice sent to the account (reminders, past-due notices, statements, refunds)."""
    return _send(web.own_or_404(Notice, notice_id))


@bp.route("/my/history")
@web.resident_required
def history():
    """Bills, payments and notices of the last PORTAL_HISTORY_MONTHS months."""
    months = current_app.config["PORTAL_HISTORY_MONTHS"]
    since = utcnow() - timedelta(days=months * 366 // 12)
    items = bill_data.history(db.session, web.account(), since, _zone())
    return render_template("portal/history.html", account=web.account(), items=items, months=months)


def init_app(app) -> None:
    """Register the residents' pages, and what every portal template may use."""
    app.register_blueprint(bp)
    errors.use_error_template("portal", "portal/error.html")

    @app.context_processor
    def portal_globals():
        if not request.blueprint or not request.blueprint.startswith("portal"):
            return {}
        row = g.get("portal_session")
        return {
            "portal_locale": str(get_locale() or "en"),
            "portal_languages": list(i18n.LANGUAGE_NAMES.items()),
            "portal_account": g.get("portal_account"),
            "portal_resident": row.resident if row is not None else None,
            "label": messages.label,
            "date": i18n.long_date,
            "month": i18n.month_name,
        }
