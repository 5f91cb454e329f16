"""The counter: a clerk opens a cash drawer, takes cash, checks and money orders against an
account, prints the receipt, and closes the drawer by counting it against what was taken.

Thin: read the form, call payments.counter, commit once, render. Every error is shown by
its field and changes nothing. The payment form carries a one-time token (core.submissions):
sent twice, as a retry of a submit cut off, it takes the payment once and answers the second
sending with the first payment's receipt.
"""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from accounts.services import find_account
from billing.payoff import find_quote
from core import submissions
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars
from notices.issuing import NoticeError
from payments import payflow
from payments.counter import COUNTER_TENDERS, close_drawer, open_drawer, take_counter_payment
from payments.models import CashDrawer, Payment, Receipt, Tender
from payments.payoff_lockbox import QuoteTerms
from payments.payoff_payments import pay_quote_at_counter
from payments.services import PaymentRefused
from portal import documents

bp = Blueprint("counter", __name__, url_prefix="/staff/counter", template_folder="templates")
FIELD_NAMES = {
    "opening_float_cents": "opening_float",
    "amount_cents": "amount",
    "invoices": "invoices",
    "drawer": "form",
    "tender": "tender",
    "reference": "reference",
    "payer_name": "payer_name",
}


def _my_drawer() -> CashDrawer | None:
    """The signed-in clerk's open drawer, if any."""
    return db.session.scalar(
        sa.select(CashDrawer).where(
            CashDrawer.opened_by == request_actor().label, CashDrawer.closed_at.is_(None)
        )
    )


def _page(errors: dict[str, str] | None = None, status: int = 200, **shown):
    drawer = _my_drawer()
    taken = []
    if drawer is not None:
        taken = db.session.execute(
            sa.select(Payment, Receipt.number)
            .outerjoin(Receipt, Receipt.payment_id == Payment.id)
            .where(Payment.drawer_id == drawer.id)
            .order_by(Payment.id.desc())
        ).all()
    totals: dict[str, int] = {tender.value: 0 for tender in COUNTER_TENDERS}
    for payment, _number in taken:
        if payment.status.value != "voided":
            totals[payment.tender.value] += payment.amount_cents
    page = render_template(
        "console/counter.html",
        drawer=drawer,
        taken=taken,
        totals=totals,
        tenders=COUNTER_TENDERS,
        errors=errors or {},
        shown=shown,
        zone=town_zone(current_app.config),
    )
    return page, status


def _refused(refused: PaymentRefused, **shown):
    db.session.rollback()
    message = payflow.sentence(refused.message)
    return _page({FIELD_NAMES.get(refused.field, "form"): message}, 422, **shown)


def _signed(cents: int) -> str:
    """A difference as counted against expected: '+$1.00' over, '-$0.25' short."""
    return ("+" if cents > 0 else "-") + format_cents(abs(cents))


def _cents(text: str, field: str) -> int:
    try:
        return parse_dollars(text or "")
    except MoneyError:
        raise PaymentRefused(field, "enter dollars and cents, such as 50.00") from None


@bp.get("/")
@login_required
@requires("read")
def counter():
    """The clerk's drawer: what was taken, the form for the next payment, the close-out."""
    return _page()


@bp.post("/open")
@login_required
@requires("write")
def open_():
    """Open a drawer with its opening float (the change in it)."""
    shown = {"opening_float": request.form.get("opening_float", "")}
    try:
        cents = _cents(shown["opening_float"] or "0", "opening_float_cents")
        open_drawer(db.session, request_actor(), opening_float_cents=cents)
    except PaymentRefused as refused:
        return _refused(refused, **shown)
    db.session.commit()
    flash("Your drawer is open.")
    return redirect(url_for(".counter"), 303)


#: The name under which the counter's payment form keeps its tokens.
PAYMENT_FORM = "counter.payment"
#: What a clerk reads when a payment form has no token of ours (shown before the change).
STALE_FORM = "This form is out of date: check it and take the payment again."
#: What a clerk reads above the first answer when the same form was sent again.
SENT_TWICE = "This form was sent twice; the payment was taken once."


def _sent_before(earlier) -> tuple:
    """The answer to a second sending of a payment form: the first one's, changing nothing."""
    if not submissions.same_sender(earlier, request_actor(), PAYMENT_FORM):
        return _page({"form": STALE_FORM}, 409)
    flash(f"{SENT_TWICE} {earlier.message}")
    return redirect(earlier.location, 303)


@bp.post("/payments")
@login_required
@requires("write")
def take():
    """Take a payment into the open drawer, once per showing of the form; with its receipt."""
    form = request.form
    shown = {k: form.get(k, "") for k in ("account", "amount", "tender", "reference", "invoices")}
    token = form.get(submissions.FIELD, "")
    fresh = submissions.well_formed(token)
    earlier = fresh and submissions.claim(db.session, request_actor(), PAYMENT_FORM, token)
    if earlier:
        db.session.rollback()
        return _sent_before(earlier)
    drawer = _my_drawer()
    if drawer is None:
        return _page({"form": "Open your drawer first."}, 409, **shown)
    if not fresh:
        return _page({"form": STALE_FORM}, 422, **shown)
    account = find_account(db.session, shown["account"])
    if account is None:
        return _page({"account": "No account has this number."}, 422, **shown)
    try:
        tender = Tender(shown["tender"])
    except ValueError:
        return _page({"tender": "Choose cash, check or money order."}, 422, **shown)
    try:
        receipt = take_counter_payment(
            db.session,
            request_actor(),
            drawer=drawer,
            account=account,
            amount_cents=_cents(shown["amount"], "amount_cents"),
            tender=tender,
            reference=shown["reference"],
            invoice_numbers=[n for n in shown["invoices"].replace(",", " ").split() if n],
            on=town_today(current_app.config),
        )
    except PaymentRefused as refused:
        return _refused(refused, **shown)
    message = (
        f"Receipt {receipt.number}: {format_cents(receipt.amount_cents)} from account "
        f"{account.number}. Print it from the list below."
    )
    submissions.answered(db.session, token, location=url_for(".counter"), message=message)
    db.session.commit()
    flash(message)
    return redirect(url_for(".counter"), 303)


#: The name under which the counter's payoff quote form keeps its tokens.
QUOTE_FORM = "counter.payoff"
QUOTE_FIELDS = ("quote", "payer_name", "amount", "tender", "reference")
TENDERS = {t.value for t in COUNTER_TENDERS}


@bp.post("/payoff")
@login_required
@requires("write")
def take_quote_payment():
    """Take a payment against a payoff quote (docs/payoff-quotes.md) into the open drawer."""
    form = request.form
    shown = {f"quote_{k}": form.get(k, "") for k in QUOTE_FIELDS}
    token = form.get(submissions.FIELD, "")
    fresh = submissions.well_formed(token)
    earlier = fresh and submissions.claim(db.session, request_actor(), QUOTE_FORM, token)
    if earlier:
        db.session.rollback()
        if not submissions.same_sender(earlier, request_actor(), QUOTE_FORM):
            return _page({"form": STALE_FORM}, 409)
        flash(f"{SENT_TWICE} {earlier.message}")
        return redirect(earlier.location, 303)
    drawer = _my_drawer()
    if drawer is None:
        return _page({"form": "Open your drawer first."}, 409, **shown)
    if not fresh:
        return _page({"quote_form": STALE_FORM}, 422, **shown)
    quote = find_quote(db.session, form.get("quote", ""))
    if quote is None:
        return _page({"quote_quote": "No payoff quote has this number."}, 422, **shown)
    if form.get("tender") not in TENDERS:
        return _page({"quote_tender": "Choose cash, check or money order."}, 422, **shown)
    terms = QuoteTerms.from_config(current_app.config)
    try:
        paid = pay_quote_at_counter(
            db.session,
            request_actor(),
            quote,
            drawer=drawer,
            amount_cents=_cents(form.get("amount", ""), "amount_cents"),
            tender=Tender(form["tender"]),
            reference=form.get("reference", ""),
            payer_name=form.get("payer_name", ""),
            on=town_today(current_app.config),
            rounding=terms.rounding,
            town_state=terms.town_state,
        )
    except PaymentRefused as refused:
        db.session.rollback()
        field = "quote_" + FIELD_NAMES.get(refused.field, "form")
        return _page({field: payflow.sentence(refused.message)}, 422, **shown)
    message = _quote_paid(quote.number, paid)
    submissions.answered(db.session, token, location=url_for(".counter"), message=message)
    db.session.commit()
    flash(message)
    return redirect(url_for(".counter"), 303)


def _quote_paid(number: str, paid) -> str:
    """What a quote payment did, for the clerk."""
    taken = f"Payoff quote {number}: {format_cents(paid.applied_cents + paid.refund_cents)} from "
    taken += f"{paid.payer_name}"
    if paid.outcome.value == "refunded":
        return f"{taken}. The parcel was already paid: all of it is a refund to send to the payer."
    said = f"{taken}: {format_cents(paid.applied_cents)} paid the parcel's tax"
    if paid.refund_cents:
        said += f"; {format_cents(paid.refund_cents)} beyond it is a refund to send to the payer"
    if paid.outcome.value == "late":
        said += "; paid after the good-through date"
    if paid.still_owed_cents:
        said += f"; {format_cents(paid.still_owed_cents)} is still owed"
    return said + "."


@bp.get("/receipts/<int:payment_id>.pdf")
@login_required
@requires("read")
def receipt_pdf(payment_id: int):
    """A counter payment's receipt to print or hand over (issued once, then the same file)."""
    receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
    if receipt is None:
        abort(404)
    notice = documents.receipt_notice(db.session, current_app.config, request_actor(), receipt)
    db.session.commit()
    try:
        data = documents.pdf_bytes(current_app.config, notice)
    except (OSError, NoticeError):
        abort(409)
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", download_name=f"receipt-{receipt.number}.pdf"
    )


@bp.post("/close")
@login_required
@requires("write")
def close():
    """Close the drawer: counted cash, checks and money orders against what was taken."""
    drawer = _my_drawer()
    if drawer is None:
        return _page({"form": "You have no open drawer."}, 409)
    shown = {
        f"counted_{t.value}": request.form.get(f"counted_{t.value}", "") for t in COUNTER_TENDERS
    }
    shown["coin"] = request.form.get("coin", "")
    counted = {}
    try:
        for tender in COUNTER_TENDERS:
            counted[tender.value] = _cents(shown[f"counted_{tender.value}"] or "0", "counted")
    except PaymentRefused:
        return _page(
            {"counted": "Enter each count in dollars and cents, such as 120.00."}, 422, **shown
        )
    try:
        coin = _cents(shown["coin"], "coin") if shown["coin"].strip() else None
        report = close_drawer(
            db.session,
            request_actor(),
            drawer,
            counted_cents=counted,
            coin_cents=coin,
            on=town_today(current_app.config),
            approval_limit_cents=current_app.config["DRAWER_OVER_SHORT_APPROVAL_CENTS"],
        )
    except PaymentRefused as refused:
        field = "coin" if refused.field == "coin_cents" else "counted"
        db.session.rollback()
        return _page({field: payflow.sentence(refused.message)}, 422, **shown)
    db.session.commit()
    off = {k: v for k, v in report["difference_cents"].items() if v}
    flash(
        "Drawer closed: the counts match what was taken."
        if not off
        else "Drawer closed with differences: "
        + ", ".join(f"{k.replace('_', ' ')} {_signed(v)}" for k, v in off.items())
        + (
            " (waits for a supervisor's approval before it is posted and deposited)."
            if drawer.awaiting_approval
            else " (posted to cash over and short)."
        )
    )
    return redirect(url_for("deposits.deposits"), 303)


def init_app(app) -> None:
    """Register the counter."""
    app.register_blueprint(bp)
