"""Autopay from a bank account: a standing mandate accepted on our page, the account saved.

Like a card (portal.autopay_enrollment), but the bank account is linked by Stripe.js
(collectBankAccountForSetup on a SetupIntent this module creates) and our server confirms
the SetupIntent with the mandate the resident accepted (text version, moment, IP address,
browser; payments.ach_models.BankMandate, purpose "autopay"). A bank account blocked after
its returns is refused. When the bank offers no instant link, Stripe checks the account by
microdeposits first: the enrollment waits (nothing is turned on) and the resident confirms
again once verified.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.db import utcnow
from payments.ach_models import BankMandate
from payments.bank_gateway import (
    BankIntent,
    MandateAcceptance,
    bank_account,
    charge_saved_bank_account,
    confirm_bank_setup_intent,
    create_bank_setup_intent,
)
from payments.bank_payments import BLOCKED, MANDATE_VERSION, is_blocked
from payments.gateway import StripeGateway
from payments.models import Payment
from payments.online import ensure_customer
from portal.autopay_enrollment import NOT_LINKED, NOT_SAVED, AutopayRefused, activate, linked
from portal.models import Autopay, Resident

BANK = "us_bank_account"


def start(session: Session, gateway: StripeGateway, account: Account, key: str) -> BankIntent:
    """A SetupIntent for Stripe.js to link a bank account to the account's Stripe customer."""
    customer = ensure_customer(session, gateway, account)
    return create_bank_setup_intent(gateway, customer_id=customer, idempotency_key=key)


def enroll_bank(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    resident: Resident,
    gateway: StripeGateway,
    setup_intent_id: str,
    payment_method_id: str,
    ip_address: str,
    user_agent: str,
    accepted_at: datetime | None = None,
) -> tuple[Autopay | None, BankIntent]:
    """Store the standing mandate and confirm it at Stripe; autopay is on once the account is
    verified (None while Stripe waits for its microdeposits). Flushes."""
    if not linked(session, resident, account):
        raise AutopayRefused(NOT_LINKED)
    customer = ensure_customer(session, gateway, account)
    bank = bank_account(gateway, payment_method_id)
    if is_blocked(session, bank.fingerprint):
        record(session, actor, "autopay.bank_account_blocked", account)
        raise AutopayRefused(BLOCKED)
    mandate = BankMandate(
        account_id=account.id,
        payment_id=None,
        purpose="autopay",
        text_version=MANDATE_VERSION,
        accepted_at=accepted_at or utcnow(),
        ip_address=ip_address[:45],
        user_agent=user_agent[:500],
        stripe_payment_method_id=payment_method_id,
        fingerprint=bank.fingerprint,
        bank_name=bank.bank_name,
        last4=bank.last4,
    )
    session.add(mandate)
    session.flush()
    intent = confirm_bank_setup_intent(
        gateway,
        setup_intent_id,
        payment_method_id=payment_method_id,
        mandate=MandateAcceptance(mandate.accepted_at, mandate.ip_address, mandate.user_agent),
        idempotency_key=f"munibill-autopay-mandate-{mandate.id}",
    )
    mandate.stripe_mandate_id = intent.mandate_id
    if intent.payment_method_id not in (None, payment_method_id) or intent.status not in (
        "succeeded",
        "requires_action",
    ):
        raise AutopayRefused(NOT_SAVED)
    if intent.status != "succeeded":
        record(session, actor, "autopay.bank_verifying", account, mandate=mandate.id)
        return None, intent
    row = activate(
        session,
        actor,
        gateway,
        account=account,
        resident=resident,
        customer=customer,
        payment_method_id=payment_method_id,
        method=BANK,
        card_brand=(bank.bank_name or "")[:32] or None,
        card_last4=bank.last4,
    )
    return row, intent


def _mandate(session: Session, autopay: Autopay) -> BankMandate | None:
    """The standing mandate the enrolled bank account was saved under (the newest)."""
    return session.scalar(
        sa.select(BankMandate)
        .where(
            BankMandate.account_id == autopay.account_id,
            BankMandate.purpose == "autopay",
            BankMandate.stripe_payment_method_id == autopay.stripe_payment_method_id,
        )
        .order_by(BankMandate.id.desc())
        .limit(1)
    )


def blocked_for(session: Session, autopay: Autopay) -> bool:
    """Whether an enrolled bank account has been blocked since (its bills are not debited)."""
    mandate = _mandate(session, autopay)
    return mandate is not None and is_blocked(session, mandate.fingerprint)


def debit(
    session: Session,
    gateway: StripeGateway,
    autopay: Autopay,
    payment: Payment,
    metadata: dict[str, str],
) -> BankIntent:
    """Debit the enrolled bank account for the payment under its mandate, once per payment."""
    mandate = _mandate(session, autopay)
    return charge_saved_bank_account(
        gateway,
        amount_cents=payment.amount_cents,
        customer_id=autopay.stripe_customer_id,
        payment_method_id=autopay.stripe_payment_method_id,
        mandate_id=mandate.stripe_mandate_id if mandate is not None else None,
        metadata=metadata,
        idempotency_key=f"munibill-autopay-{payment.id}",
    )
