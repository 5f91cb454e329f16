"""Card payments online: the Stripe customer, saving the card, charging it.

The flow works unchanged against api.stripe.com and localstripe: the page
saves the card with Stripe.js (confirmCardSetup on a SetupIntent this module
creates), the server charges the saved card (a PaymentIntent created and
confirmed with that payment method, keyed by our payment's id), and the page
runs confirmCardPayment only when the bank asks for 3-D Secure. Nothing here
marks a bill paid: the verified webhook (or reconciliation) does.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor, record
from core.calendar import town_date
from core.db import insert_or_nothing, utcnow
from ledger import chart
from payments.convenience_fees import charged_cents, confirm_quote, own_line_cents
from payments.fee_charges import charge_separate_fee
from payments.gateway import PaymentError, StripeGateway, StripePaymentIntent
from payments.models import Payment, PaymentStatus, Receipt, StripeCustomer, Tender
from payments.services import fail_payment, mark_payment, mark_unknown, settle_payment

UNAVAILABLE = "Payments are temporarily unavailable. Please try again in a few minutes."


def ensure_customer(session: Session, gateway: StripeGateway, account: Account) -> str:
    """The account's Stripe customer id, created on its first payment."""
    row = session.get(StripeCustomer, account.id)
    if row is not None:
        return row.stripe_customer_id
    customer = gateway.create_customer(
        name=account.holder_name,
        email=account.email,
        account_number=account.number,
        idempotency_key=f"munibill-customer-{account.id}",
    )
    # NOTE: two payments of one account can get here at the same moment (two payers, two app
    # servers); the idempotency key gives both the same customer, and the first row stored wins.
    session.execute(
        insert_or_nothing(session, StripeCustomer, unique=["account_id"]).values(
            account_id=account.id, stripe_customer_id=customer.id
        )
    )
    return session.scalar(
        sa.select(StripeCustomer.stripe_customer_id).where(StripeCustomer.account_id == account.id)
    )


def start_card_payment(session: Session, gateway: StripeGateway, payment: Payment) -> str:
    """A SetupIntent client secret for the page's card form (confirmCardSetup)."""
    customer = ensure_customer(session, gateway, payment.account)
    setup = gateway.create_setup_intent(
        customer_id=customer, idempotency_key=f"munibill-setup-{payment.id}"
    )
    return setup.client_secret


def _metadata(session: Session, payment: Payment) -> dict[str, str]:
    """What Stripe keeps about the payment: our id, the account and the invoices."""
    numbers = [session.get(Invoice, invoice_id).number for invoice_id in payment.invoice_ids]
    return {
        "payment_id": str(payment.id),
        "account_number": payment.account.number,
        "invoice_numbers": ",".join(numbers)[:500],
    }


def settle_from_intent(
    session: Session, actor: Actor, payment: Payment, intent: StripePaymentIntent, zone: ZoneInfo
) -> Receipt | None:
    """Settle a payment as Stripe's succeeded intent says (the janitor, reconciliation): dated and
    timed by the intent's creation on the town's clock, into Stripe clearing.

    A bank debit succeeds days after its intent was made: it is dated when we learn of its
    success (the webhook, which dates it by the success itself, was missed), never the click.
    """
    moment = utcnow() if payment.tender == Tender.BANK_DEBIT else intent.created
    return settle_payment(
        session,
        actor,
        payment,
        on=town_date(moment, zone),
        cash_gl=chart.STRIPE_CLEARING,
        at=moment,
    )


def unanswered(error: PaymentError) -> bool:
    """Whether Stripe gave no answer at all (a timeout, a lost connection): it may have acted."""
    return error.retryable and error.http_status is None and error.code != "not_configured"


def charge_card(
    session: Session, actor: Actor, gateway: StripeGateway, payment: Payment, payment_method_id: str
) -> StripePaymentIntent:
    """Charge the saved card for the payment, once; a second call returns the same intent.

    The bill amount and an own-line convenience fee are one charge; a separate-charge fee is
    charged after it. A fee that changed since the payer saw it raises FeeChanged first.
    """
    if payment.stripe_payment_intent_id:
        return gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    if payment.status != PaymentStatus.PENDING:
        raise PaymentError(f"This payment is {payment.status.value}.", code="payment_not_pending")
    fee = confirm_quote(session, actor, payment)
    customer = ensure_customer(session, gateway, payment.account)
    metadata = _metadata(session, payment)
    if own_line_cents(fee):
        metadata["convenience_fee_cents"] = str(own_line_cents(fee))
    try:
        intent = gateway.create_payment_intent(
            amount_cents=charged_cents(session, payment),
            currency=payment.currency,
            customer_id=customer,
            metadata=metadata,
            idempotency_key=f"munibill-payment-{payment.id}",
            payment_method=payment_method_id,
            confirm=True,
        )
    except PaymentError as error:
        payment.stripe_payment_intent_id = error.payment_intent_id
        if unanswered(error):
            # NOTE: the request may have reached Stripe and charged the card; only Stripe can
            # say, so the janitor asks it (payments.jobs) rather than this payment failing and
            # its payer paying again.
            mark_unknown(session, actor, payment, detail=error.detail or str(error))
        elif error.retryable:
            fail_payment(
                session, actor, payment, code=error.code or "unavailable", message=UNAVAILABLE
            )
        else:
            fail_payment(
                session, actor, payment, code=error.decline_code or error.code, message=str(error)
            )
        raise
    payment.stripe_payment_intent_id = intent.id
    if intent.status == "processing":
        mark_payment(session, actor, payment, PaymentStatus.PROCESSING)
    record(session, actor, "payment.charge", payment, intent=intent.id, stripe_status=intent.status)
    # NOTE: a separate fee is charged once the bill's charge needs nothing more of the payer; one
    # that asked for 3-D Secure leaves the fee uncharged (docs/payments.md "Convenience fees").
    if intent.status in ("succeeded", "processing"):
        charge_separate_fee(
            session,
            actor,
            gateway,
            payment,
            customer_id=customer,
            payment_method_id=payment_method_id,
        )
    return intent
