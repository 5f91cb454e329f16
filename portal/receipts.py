"""The payment status page, which becomes the receipt: how and when it was paid, its
numbers, and the form that e-mails it (portal.views_receipts).

The receipt says how it was paid as a resident recognises it ("Visa ending in 4242",
"Check number 1234", "Cash"), the date and time on the town's clock, the receipt
number (the town's confirmation number) and, for a card, Stripe's reference of the
payment, the same as its PDF and its e-mail (notices.receipt_words).
"""

from __future__ import annotations

from flask import current_app, g, render_template, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from core.extensions import db
from notices.receipt_words import brand_name, card_reference, paid_at
from payments import payflow
from payments.models import Payment, Receipt, Tender
from portal import messages, web


class EmailReceiptForm(FlaskForm):
    """The address to e-mail a receipt to, this once."""

    email = StringField()


def paid_by(payment: Payment) -> str:
    """How the payment was made, in the page's language ("Visa ending in 4242", "Cash")."""
    if payment.tender == Tender.CARD and payment.card_last4:
        brand = brand_name(payment.card_brand)
        if brand:
            return _("%(brand)s ending in %(last4)s", brand=brand, last4=payment.card_last4)
        return _("Card ending in %(last4)s", last4=payment.card_last4)
    if payment.tender == Tender.CHECK and payment.tender_reference:
        return _("Check number %(number)s", number=payment.tender_reference)
    return messages.label("tender", payment.tender.value)


def paid_time(receipt: Receipt) -> str:
    """The time of the payment on the town's clock, in the page's language ('2:05 PM CST')."""
    moment = paid_at(current_app.config, receipt)  # already on the town's clock: not rebased
    return f"{format_time(moment, 'short', rebase=False)} {moment.tzname() or ''}".strip()


def restart_url(payment: Payment) -> str:
    """Where a payment that did not go through starts again: the bill, with its amount."""
    return url_for("portal.bill", amount=payflow.dollars(payment.amount_cents))


def _address_for(form: EmailReceiptForm | None) -> EmailReceiptForm:
    """The e-mail form; a registered resident's own address is offered, nobody else's."""
    if form is not None:
        return form
    row = g.get("portal_session")
    resident = row.resident if row is not None else None
    return EmailReceiptForm(email=resident.email if resident is not None else "")


def status_page(payment: Payment, form: EmailReceiptForm | None = None, status: int = 200):
    """The payment's status page: pending, failed or unpaid, or its receipt with the e-mail form."""
    receipt = payflow.receipt_of(db.session, payment)
    page = render_template(
        "portal/status.html",
        account=web.account(),
        payment=payment,
        receipt=receipt,
        state=payflow.state(payment, receipt),
        paid=payflow.paid_by_invoice(receipt),
        paid_by=paid_by(payment),
        paid_time=paid_time(receipt) if receipt is not None else "",
        card_reference=card_reference(payment),
        email_form=_address_for(form) if receipt is not None else None,
        restart_url=restart_url(payment),
        failure=messages.bank_failure_text(payment.failure_code)
        if payment.tender == Tender.BANK_DEBIT
        else messages.failure_text(payment.failure_code),
        fee=payflow.fee_shown(db.session, payment),
    )
    return page, status
