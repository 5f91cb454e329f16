"""Paying a bill from a US bank account: the mandate shown and stored, the debit confirmed.

The page asks for an intent (start_bank_payment), Stripe.js collects the account and
attaches it, the page shows the mandate text, and on the resident's "I authorize" the
server records the mandate (its text version, the moment, IP address and browser) and
confirms the debit with it (confirm_bank_payment). A bank account blocked after its
returns is refused before anything goes to the bank. Nothing here marks a bill paid:
the debit is pending while processing, and settles on the verified success.

The convenience fee of a bank payment (channel online, method bank_account) is quoted
when the payment is recorded and rides on the debit's own line: the intent is for
`charged_cents` (bill + fee) and the mandate names that total. At the resident's "I
authorize" the quote is checked again (`confirm_quote`) before anything goes to the bank;
a changed fee cancels the intent unconfirmed and a new payment is quoted with it
(`quote_again`).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from payments.ach_models import BankMandate, BlockedBankAccount
from payments.bank_gateway import (
    BankIntent,
    MandateAcceptance,
    bank_account,
    confirm_bank_payment_intent,
    create_bank_payment_intent,
)
from payments.convenience_fees import FeeChanged, charged_cents, confirm_quote, quote_payment
from payments.gateway import PaymentError, StripeGateway
from payments.models import Payment, PaymentStatus, Tender
from payments.online import _metadata, ensure_customer
from payments.services import PaymentRefused, mark_payment, record_payment

log = logging.getLogger(__name__)

#: The version of the mandate words below; stored with every accepted mandate.
MANDATE_VERSION = "2026-12"
BLOCKED = (
    "This bank account cannot be used to pay online because earlier payments from it were "
    "returned by the bank. Please pay by card, or contact the billing office."
)


def mandate_text(town: str, amount_cents: int | None, language: str = "en") -> str:
    """The authorisation the resident reads before a debit (NACHA's online authorisation).

    The words of version MANDATE_VERSION, in English or Spanish; the English is the one stored.
    """
    amount = format_cents(amount_cents) if amount_cents else ""
    if language == "es":
        what = (
            f"un único débito de {amount}"
            if amount_cents
            else "débitos por el importe de cada factura a su vencimiento, hasta que cancele el pago automático"
        )
        return (
            f"Al hacer clic en \u201cAutorizo\u201d, usted autoriza a {town} a debitar la cuenta "
            f"bancaria que eligió por {what} y, si un débito es devuelto, a debitarlo de nuevo o "
            "a cobrar en su factura el cargo por pago devuelto. Puede revocar esta autorización "
            "comunicándose con la oficina de facturación al menos tres días hábiles antes de un débito."
        )
    what = (
        f"a one-time debit of {amount}"
        if amount_cents
        else "debits for the amount of each bill when it is due, until you cancel autopay"
    )
    return (
        f"By clicking \u201cI authorize\u201d, you authorize {town} to debit the bank account "
        f"you selected for {what}, and, if any debit is returned, to debit it again or to "
        "charge the returned-payment fee on your bill. You can revoke this authorization by "
        "contacting the billing office at least three business days before a debit."
    )


def is_blocked(session: Session, fingerprint: str | None) -> bool:
    """Whether the bank account is blocked for online payment and autopay."""
    if not fingerprint:
        return False
    blocked = session.get(BlockedBankAccount, fingerprint)
    return blocked is not None and blocked.unblocked_at is None


def unblock(session: Session, actor: Actor, fingerprint: str, reason: str) -> BlockedBankAccount:
    """A clerk lifts a block (audited); returns after this count anew."""
    if len((reason or "").strip()) < 5:
        raise PaymentRefused("reason", "say why (at least 5 characters)")
    blocked = session.get(BlockedBankAccount, fingerprint, with_for_update=True)
    if blocked is None or blocked.unblocked_at is not None:
        raise PaymentRefused("fingerprint", "this bank account is not blocked")
    blocked.unblocked_at, blocked.unblocked_by = utcnow(), actor.label
    blocked.unblock_reason = reason.strip()[:500]
    record(
        session,
        actor,
        "bank_account.unblock",
        object_type="BankAccount",
        object_id=fingerprint,
        reason=blocked.unblock_reason,
    )
    return blocked


def start_bank_payment(session: Session, gateway: StripeGateway, payment: Payment) -> BankIntent:
    """The debit's intent for Stripe.js to collect the bank account, once per payment."""
    if payment.tender != Tender.BANK_DEBIT or payment.status != PaymentStatus.PENDING:
        raise PaymentRefused("payment", "this payment cannot be paid from a bank account")
    customer = ensure_customer(session, gateway, payment.account)
    intent = create_bank_payment_intent(
        gateway,
        amount_cents=charged_cents(session, payment),
        customer_id=customer,
        metadata=_metadata(session, payment),
        idempotency_key=f"munibill-bank-payment-{payment.id}",
    )
    payment.stripe_payment_intent_id = intent.id
    return intent


def confirm_bank_payment(
    session: Session,
    actor: Actor,
    gateway: StripeGateway,
    payment: Payment,
    *,
    payment_method_id: str,
    ip_address: str,
    user_agent: str,
    accepted_at: datetime | None = None,
) -> BankIntent:
    """Record the mandate the resident accepted and confirm the debit with it; refused if blocked.

    FeeChanged (nothing debited) when the convenience fee is no longer the one quoted.
    """
    if payment.status != PaymentStatus.PENDING or not payment.stripe_payment_intent_id:
        raise PaymentRefused("payment", "this payment cannot be confirmed again")
    # NOTE: the intent was created for the bill and the quoted fee; the quote still holding is
    # what makes that amount the one to debit now.
    confirm_quote(session, actor, payment)
    account = bank_account(gateway, payment_method_id)
    if is_blocked(session, account.fingerprint):
        record(session, actor, "payment.bank_account_blocked", payment)
        raise PaymentRefused("payment_method", BLOCKED)
    mandate = BankMandate(
        account_id=payment.account_id,
        payment_id=payment.id,
        purpose="payment",
        text_version=MANDATE_VERSION,
        accepted_at=accepted_at or utcnow(),
        ip_address=ip_address[:45],
        user_agent=user_agent[:500],
        stripe_payment_method_id=payment_method_id,
        fingerprint=account.fingerprint,
        bank_name=account.bank_name,
        last4=account.last4,
    )
    session.add(mandate)
    session.flush()
    intent = confirm_bank_payment_intent(
        gateway,
        payment.stripe_payment_intent_id,
        payment_method_id=payment_method_id,
        mandate=MandateAcceptance(mandate.accepted_at, mandate.ip_address, mandate.user_agent),
        idempotency_key=f"munibill-bank-confirm-{payment.id}",
    )
    mandate.stripe_mandate_id = intent.mandate_id
    if intent.status == "processing":
        mark_payment(session, actor, payment, PaymentStatus.PROCESSING)
    record(session, actor, "payment.bank_confirm", payment, intent=intent.id, status=intent.status)
    return intent


def quote_again(
    session: Session, actor: Actor, gateway: StripeGateway, payment: Payment, changed: FeeChanged
) -> Payment | None:
    """After a changed fee: cancel the unconfirmed debit (its intent too) and record a new
    pending payment of the same amount and bills, quoted with the fee now; None if refused.

    The payment is canceled here even when Stripe cannot cancel its intent now: that intent
    is for the old total and is never confirmed.
    """
    mark_payment(session, actor, payment, PaymentStatus.CANCELED)
    if payment.stripe_payment_intent_id:
        try:
            gateway.cancel_payment_intent(payment.stripe_payment_intent_id)
        except PaymentError as error:
            log.warning("the intent of canceled bank payment %s is left: %s", payment.id, error)
    numbers = list(
        session.scalars(
            sa.select(Invoice.number)
            .where(Invoice.id.in_(payment.invoice_ids or []))
            .order_by(Invoice.id)
        )
    )
    try:
        again = record_payment(
            session,
            actor,
            account=payment.account,
            amount_cents=payment.amount_cents,
            invoice_numbers=numbers,
            channel=payment.channel,
            tender=payment.tender,
        )
    except PaymentRefused:
        return None
    quote_payment(session, actor, again, changed.fee.channel, changed.fee.method)
    record(session, actor, "payment.fee_requoted", again, canceled_payment=payment.id)
    return again


def cancel_bank_payment(
    session: Session, actor: Actor, gateway: StripeGateway, payment: Payment
) -> bool:
    """The resident cancels a debit not yet sent to the bank (rather than pay its fee, say):
    its intent is canceled at Stripe first; False if Stripe has it on its way already."""
    if payment.status != PaymentStatus.PENDING:
        return payment.status == PaymentStatus.CANCELED
    if payment.stripe_payment_intent_id:
        try:
            gateway.cancel_payment_intent(payment.stripe_payment_intent_id)
        except PaymentError as error:
            log.warning("bank payment %s was not canceled: %s", payment.id, error)
            return False
    return mark_payment(session, actor, payment, PaymentStatus.CANCELED)


def debits_in_flight(session: Session, account_ids: set[int]) -> set[int]:
    """Of these accounts, those with a payment on its way through the bank (processing)."""
    if not account_ids:
        return set()
    return set(
        session.scalars(
            sa.select(Payment.account_id).where(
                Payment.account_id.in_(account_ids), Payment.status == PaymentStatus.PROCESSING
            )
        )
    )


def mandate_of(session: Session, payment: Payment) -> BankMandate | None:
    """The mandate a bank payment was made under."""
    return session.scalar(sa.select(BankMandate).where(BankMandate.payment_id == payment.id))
