"""The card pay flow shared by the clerks' pay pages and the residents' portal.

Both sides record a pending payment from a form, hand Stripe.js a SetupIntent to save
the card, charge the saved card once, and show the payment's state until the verified
webhook settles it. Only who may see the account and the addresses differ; the views
pass those in. Nothing here marks a bill paid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import abort, current_app, jsonify
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor, record
from core.db import get_by_id
from core.money import format_cents
from core.settings import ConfigError
from payments.bank_payments import cancel_bank_payment
from payments.convenience_fees import FeeChanged, copy_quote, fee_of, quote_payment
from payments.fee_models import ConvenienceFee
from payments.fee_terms import FeeChannel, FeeMethod
from payments.gateway import (
    GENERIC_MESSAGE,
    UNAVAILABLE_MESSAGE,
    PaymentError,
    StripeGateway,
    StripePaymentIntent,
)
from payments.models import Payment, PaymentStatus, Receipt, Tender
from payments.online import charge_card, start_card_payment
from payments.services import OPEN, PaymentRefused, mark_payment, owed_items, record_payment

log = logging.getLogger(__name__)

#: What the status page says a payment is; `processing` (a bank debit) is never "paid";
#: `confirming`: Stripe gave no answer to the charge and the janitor is asking it.
PAID, PENDING, UNPAID, FAILED = "paid", "pending", "unpaid", "failed"
#: A bank debit that settled and that the resident's bank sent back (payments.ach_returns).
RETURNED = "returned"
CONFIRMING = "confirming"
CONFIRMING_MESSAGE = (
    "We are confirming your payment. Please do not pay again: this page updates by itself."
)
NOT_CHARGEABLE = "This payment did not go through, so it cannot be paid again. Start a new payment."
CARD_NOT_SAVED = "The card was not saved. Enter it again."
FEE_CHANGED = (
    "The convenience fee for this payment has changed. Nothing was charged: check the new "
    "total, then pay again, choose another way to pay, or cancel."
)
NOT_CANCELABLE = "This payment has already been charged, so it cannot be canceled here."


def dollars(cents: int) -> str:
    """Cents as a plain dollar amount for a form field ('107.84')."""
    return f"{cents // 100}.{cents % 100:02d}"


def sentence(message: str) -> str:
    """A service's lower-case reason as a sentence."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def payment_or_404(session: Session, account: Account, payment_id: int) -> Payment:
    """The payment, only if it belongs to the account; else 404."""
    payment = get_by_id(session, Payment, payment_id)
    if payment is None or payment.account_id != account.id:
        abort(404)
    return payment


def open_bills(session: Session, account: Account) -> list[tuple[Invoice, int]]:
    """The account's open invoices, oldest due first, with what each still owes."""
    invoices = list(
        session.scalars(
            sa.select(Invoice)
            .where(Invoice.account_id == account.id, Invoice.status.in_(OPEN))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    owed = dict.fromkeys((invoice.id for invoice in invoices), 0)
    for item in owed_items(session, invoices) if invoices else []:
        owed[item.invoice_id] += item.balance_cents
    return [(invoice, owed[invoice.id]) for invoice in invoices if owed[invoice.id] > 0]


def quote_fee(
    session: Session, actor: Actor, payment: Payment, channel: FeeChannel
) -> ConvenienceFee:
    """Quote the convenience fee of a payment just recorded, by its tender (a card, or a bank
    account's debit): what the card or bank page shows."""
    method = FeeMethod.BANK_ACCOUNT if payment.tender == Tender.BANK_DEBIT else FeeMethod.CARD
    return quote_payment(session, actor, payment, channel, method)


def fee_shown(session: Session, payment: Payment) -> dict[str, object]:
    """The fee and the total the card or bank page shows before the payer confirms."""
    fee = fee_of(session, payment)
    cents = fee.amount_cents if fee is not None else 0
    return {
        "fee_cents": cents,
        "fee": format_cents(cents),
        "total_cents": payment.amount_cents + cents,
        "total": format_cents(payment.amount_cents + cents),
        "separate": bool(cents) and fee.charge_as.value == "separate_charge",
        "bank": payment.tender == Tender.BANK_DEBIT,
    }


def cancel(session: Session, actor: Actor, payment: Payment) -> bool:
    """The payer cancels a payment not yet charged (say, rather than pay the fee); False if it
    was charged already. A bank debit's intent, made when its account was linked, is canceled
    at Stripe first."""
    if payment.tender == Tender.BANK_DEBIT and payment.stripe_payment_intent_id:
        try:
            with gateway() as opened:
                return cancel_bank_payment(session, actor, opened, payment)
        except PaymentError:
            return False
    if payment.stripe_payment_intent_id or payment.status != PaymentStatus.PENDING:
        return payment.status == PaymentStatus.CANCELED
    return mark_payment(session, actor, payment, PaymentStatus.CANCELED)


def invoices_of(session: Session, payment: Payment) -> list[Invoice]:
    """The invoices the payer chose (none: the oldest open bills first)."""
    if not payment.invoice_ids:
        return []
    query = sa.select(Invoice).where(Invoice.id.in_(payment.invoice_ids)).order_by(Invoice.id)
    return list(session.scalars(query))


@contextmanager
def gateway() -> Iterator[StripeGateway]:
    """A gateway on the app's settings, closed afterwards; missing settings count as an outage."""
    try:
        opened = StripeGateway.from_config(current_app.config)
    except ConfigError:
        log.exception("card payments are not configured")
        raise PaymentError(UNAVAILABLE_MESSAGE, code="not_configured", retryable=True) from None
    with opened:
        yield opened


class Flow:
    """The JSON steps of one side's card page: where a spent payment starts again, how
    messages are put into the payer's language, and (where the side offers it) the addresses
    of the next try after a declined card."""

    def __init__(
        self,
        session: Session,
        restart_url: Callable[[Payment], str],
        translate: Callable[[str], str] = str,
        retry_urls: Callable[[Payment], dict[str, str]] | None = None,
    ) -> None:
        self.session = session
        self.restart_url = restart_url
        self.translate = translate
        self.retry_urls = retry_urls

    def refused(self, message: str, status: int, payment: Payment, retry: dict | None = None):
        """A JSON answer the page shows under the card, with a way on if this payment is spent."""
        body: dict[str, object] = {"error": self.translate(message)}
        if payment.status != PaymentStatus.PENDING or payment.stripe_payment_intent_id:
            body["restart_url"] = self.restart_url(payment)
        if retry:
            body["retry"] = retry
        return jsonify(body), status

    def gateway_refused(self, error: PaymentError, payment: Payment, retry: dict | None = None):
        """A Stripe refusal (402) or outage (503) as the page shows it; never an error page."""
        if error.retryable:
            log.warning("Stripe unavailable for payment %s: %s", payment.id, error.detail or error)
            return self.refused(UNAVAILABLE_MESSAGE, 503, payment)
        return self.refused(error.message_for_resident, 402, payment, retry)

    def next_try(self, actor: Actor, payment: Payment, error: PaymentError) -> dict | None:
        """A new pending payment of the same amount and bills after a decline; its addresses."""
        # NOTE: only a decline (402) qualifies: Stripe leaves that intent waiting for another
        # card and we never confirm it again, so the new payment cannot charge twice. An outage
        # may have charged, so it never does; nor does a side without retry_urls (None then).
        if (
            self.retry_urls is None
            or error.retryable
            or error.http_status != 402
            or payment.status != PaymentStatus.FAILED
        ):
            return None
        try:
            again = record_payment(
                self.session,
                actor,
                account=payment.account,
                amount_cents=payment.amount_cents,
                invoice_numbers=[invoice.number for invoice in invoices_of(self.session, payment)],
                channel=payment.channel,
                tender=payment.tender,
            )
        except PaymentRefused:
            return None
        copy_quote(self.session, actor, payment, again)  # the fee the page shows still
        record(self.session, actor, "payment.retry", again, declined_payment=payment.id)
        return self.retry_urls(again)

    def fee_changed(self, actor: Actor, payment: Payment, changed: FeeChanged):
        """Nothing charged: the fee changed since the payer saw it. This payment is canceled;
        where the side offers a next try, a new one is quoted with the new fee, else the payer
        starts again from the form. The page shows the new fee before the payer pays again."""
        # NOTE: a new payment rather than this one again: the card saved for this one cannot be
        # confirmed twice, and a payment's quote is what its payer agreed to, never edited.
        cancel(self.session, actor, payment)
        again = self._quoted_again(actor, payment, changed) if self.retry_urls else None
        body: dict[str, object] = {
            "error": self.translate(FEE_CHANGED),
            "fee": fee_shown(self.session, again or payment),
        }
        if again is not None:
            body["retry"] = self.retry_urls(again)
        else:
            body["restart_url"] = self.restart_url(payment)
        self.session.commit()
        return jsonify(body), 409

    def _quoted_again(self, actor: Actor, payment: Payment, changed: FeeChanged) -> Payment | None:
        """A new pending payment of the same amount and bills, quoted with the fee now."""
        try:
            again = record_payment(
                self.session,
                actor,
                account=payment.account,
                amount_cents=payment.amount_cents,
                invoice_numbers=[invoice.number for invoice in invoices_of(self.session, payment)],
                channel=payment.channel,
                tender=payment.tender,
            )
        except PaymentRefused:
            return None
        quote_payment(self.session, actor, again, changed.fee.channel, changed.fee.method)
        return again

    def confirming(self):
        """The answer while Stripe's word on the charge is awaited: not an error, no new try."""
        return jsonify(status="unknown", message=self.translate(CONFIRMING_MESSAGE)), 202

    def setup(self, payment: Payment):
        """A SetupIntent client secret for Stripe.js to save the card (confirmCardSetup)."""
        if payment.status == PaymentStatus.UNKNOWN:
            return self.confirming()
        if payment.status != PaymentStatus.PENDING:
            return self.refused(NOT_CHARGEABLE, 409, payment)
        try:
            with gateway() as opened:
                secret = start_card_payment(self.session, opened, payment)
        except PaymentError as error:
            self.session.commit()  # a customer Stripe created is kept for the next try
            return self.gateway_refused(error, payment)
        self.session.commit()
        return jsonify(client_secret=secret)

    def _charged(self, intent: StripePaymentIntent, payment: Payment):
        """What the page does next: wait for the receipt, 3-D Secure, or a refusal."""
        if intent.status in ("succeeded", "processing", "requires_action"):
            return jsonify(status=intent.status, client_secret=intent.client_secret)
        message = intent.last_error.message_for_resident if intent.last_error else GENERIC_MESSAGE
        return self.refused(message, 402, payment)

    def charge(self, actor: Actor, payment: Payment, body: object):
        """Charge the card Stripe.js saved (`payment_method` in the JSON body); once per payment."""
        method = body.get("payment_method") if isinstance(body, dict) else None
        if not isinstance(method, str) or not 0 < len(method) <= 255:
            return jsonify(
                error=self.translate(CARD_NOT_SAVED),
                errors={"payment_method": ["Send the id of the saved payment method."]},
            ), 400
        if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            return self.refused(NOT_CHARGEABLE, 409, payment)
        if payment.status == PaymentStatus.UNKNOWN:
            return self.confirming()
        try:
            with gateway() as opened:
                intent = charge_card(self.session, actor, opened, payment, method)
        except FeeChanged as changed:
            return self.fee_changed(actor, payment, changed)
        except PaymentError as error:
            if payment.status == PaymentStatus.UNKNOWN:
                log.warning("Stripe did not answer the charge of payment %s", payment.id)
                self.session.commit()
                return self.confirming()
            retry = self.next_try(actor, payment, error)
            self.session.commit()  # the failure and its reason are kept, and the next try
            return self.gateway_refused(error, payment, retry)
        self.session.commit()
        return self._charged(intent, payment)


def state(payment: Payment, receipt: Receipt | None) -> str:
    """Paid (with a receipt), pending (charged, not yet confirmed), confirming (no answer from
    Stripe yet), unpaid, failed or returned (a bank debit sent back after it settled)."""
    if payment.status == PaymentStatus.RETURNED:
        return RETURNED
    if receipt is not None:
        return PAID
    if payment.status == PaymentStatus.UNKNOWN:
        return CONFIRMING
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return FAILED
    if payment.status == PaymentStatus.PENDING and not payment.stripe_payment_intent_id:
        return UNPAID
    if payment.status == PaymentStatus.PENDING and payment.tender == Tender.BANK_DEBIT:
        # NOTE: a bank debit has its intent before the resident links and authorizes; it is
        # on its way only once confirmed (processing).
        return UNPAID
    return PENDING


def receipt_of(session: Session, payment: Payment) -> Receipt | None:
    """The receipt the settling webhook issued, if any yet."""
    return session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment.id))


def paid_by_invoice(receipt: Receipt | None) -> list[tuple[str, int]]:
    """What the receipt paid on each invoice, in the order it was applied."""
    paid: dict[str, int] = {}
    for part in receipt.paid if receipt else []:
        paid[part["invoice"]] = paid.get(part["invoice"], 0) + part["cents"]
    return list(paid.items())
