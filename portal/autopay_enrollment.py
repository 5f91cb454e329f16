"""Autopay enrollment: a registered resident's card saved for an account, turned on or off.

The card is saved with Stripe.js (a SetupIntent on the account's Stripe customer) and
enrolled here once Stripe confirms it is that customer's; one enrollment per account is
active. A new card replaces the active one; turning autopay off ends the enrollment
(kept for the record) and detaches its card at Stripe. The bills are charged by
portal.autopay_charging.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.db import utcnow
from payments.gateway import PaymentError, StripeGateway, StripePaymentMethod
from payments.online import ensure_customer
from portal.messages import N_
from portal.models import Autopay, Resident, ResidentAccount

log = logging.getLogger(__name__)

#: The resident's refusals (English; translated where they are shown).
NOT_LINKED = N_("This account is not linked to your online account.")
NOT_SAVED = N_("The card could not be saved for autopay. Enter it again.")
NOT_A_CARD = N_("Autopay takes a card. Enter a card.")
NOT_OFFERED = N_("Autopay is not offered at the moment.")


#: Card brands as Stripe names them, as a resident reads them.
BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def card_name(autopay: Autopay) -> str:
    """The saved card (or bank account) as a resident recognises it ("Visa •••• 4242")."""
    if autopay.method == "us_bank_account":
        bank = autopay.card_brand or _("Bank account")
        return f"{bank} •••• {autopay.card_last4}" if autopay.card_last4 else bank
    brand = BRANDS.get((autopay.card_brand or "").lower()) or _("Card")
    return f"{brand} •••• {autopay.card_last4}" if autopay.card_last4 else brand


class AutopayRefused(ValueError):
    """The enrollment was not made; the message says why, for the resident."""


def active_autopay(session: Session, account_id: int) -> Autopay | None:
    """The account's active enrollment, if any."""
    return session.scalar(
        sa.select(Autopay).where(Autopay.account_id == account_id, Autopay.active.is_(True))
    )


def linked(session: Session, resident: Resident, account: Account) -> bool:
    """True when the resident proved the account's access code and linked it."""
    return (
        session.scalar(
            sa.select(ResidentAccount.id).where(
                ResidentAccount.resident_id == resident.id,
                ResidentAccount.account_id == account.id,
            )
        )
        is not None
    )


def _saved_card(
    gateway: StripeGateway, customer: str, payment_method_id: str, setup_intent_id: str | None
) -> StripePaymentMethod:
    """The card Stripe saved for the customer; AutopayRefused if it is anyone else's."""
    if setup_intent_id is not None:
        setup = gateway.retrieve_setup_intent(setup_intent_id)
        if (
            setup.customer_id != customer
            or setup.status != "succeeded"
            or setup.payment_method_id != payment_method_id
        ):
            raise AutopayRefused(NOT_SAVED)
    method = gateway.retrieve_payment_method(payment_method_id)
    if method.type != "card":
        raise AutopayRefused(NOT_A_CARD)
    if method.customer_id is None and setup_intent_id is not None:
        # NOTE: Stripe attaches a card to the SetupIntent's customer; localstripe does not.
        method = gateway.attach_payment_method(method.id, customer_id=customer)
    if method.customer_id != customer:
        raise AutopayRefused(NOT_SAVED)
    return method


def enroll(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    resident: Resident,
    gateway: StripeGateway,
    payment_method_id: str,
    setup_intent_id: str | None = None,
) -> Autopay:
    """Turn autopay on with a card saved for the account's Stripe customer; flushes.

    The card must be the customer's: confirmed by our SetupIntent (when its id is given)
    or already attached to the customer. A new card replaces the active one, which is
    cancelled and detached at Stripe. Enrolling the active card again changes nothing.
    """
    if not linked(session, resident, account):
        raise AutopayRefused(NOT_LINKED)
    customer = ensure_customer(session, gateway, account)
    method = _saved_card(gateway, customer, payment_method_id, setup_intent_id)
    return activate(
        session,
        actor,
        gateway,
        account=account,
        resident=resident,
        customer=customer,
        payment_method_id=method.id,
        card_brand=(method.card_brand or "")[:32] or None,
        card_last4=(method.card_last4 or "")[:4] or None,
        card_exp_month=method.card_exp_month,
        card_exp_year=method.card_exp_year,
    )


def activate(
    session: Session,
    actor: Actor,
    gateway: StripeGateway,
    *,
    account: Account,
    resident: Resident,
    customer: str,
    payment_method_id: str,
    method: str = "card",
    **shown,
) -> Autopay:
    """Turn on the enrollment of a payment method Stripe confirmed (a card or a bank account);
    the active one it replaces is cancelled and detached. The same method again changes nothing."""
    old = active_autopay(session, account.id)
    if old is not None and old.stripe_payment_method_id == payment_method_id:
        return old
    if old is not None:
        _deactivate(session, actor, old, reason="replaced")
        session.flush()  # the partial unique index allows one active enrollment per account
    row = Autopay(
        account_id=account.id,
        resident_id=resident.id,
        stripe_customer_id=customer,
        stripe_payment_method_id=payment_method_id,
        method=method,
        active=True,
        **shown,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "autopay.enroll",
        row,
        account=account.number,
        method=method,
        card=f"{row.card_brand} {row.card_last4}",
        replaces=old.id if old is not None else None,
    )
    if old is not None:
        _detach(gateway, old)
    return row


def _deactivate(session: Session, actor: Actor, row: Autopay, *, reason: str) -> None:
    """End an enrollment; it stays for the record."""
    row.active = False
    row.canceled_at = utcnow()
    record(session, actor, "autopay.cancel", row, reason=reason, account=row.account.number)


def _detach(gateway: StripeGateway | None, row: Autopay) -> bool:
    """Detach an ended enrollment's card at Stripe; a failure is logged (we no longer charge it)."""
    if gateway is None:
        return False
    try:
        gateway.detach_payment_method(row.stripe_payment_method_id)
    except PaymentError as error:
        log.warning("could not detach the card of autopay %s: %s", row.id, error.detail or error)
        return False
    return True


def cancel(
    session: Session, actor: Actor, *, account: Account, gateway: StripeGateway | None = None
) -> Autopay | None:
    """Turn the account's autopay off (and detach its card); None if it was not on. Flushes."""
    row = active_autopay(session, account.id)
    if row is None:
        return None
    _deactivate(session, actor, row, reason="canceled")
    session.flush()
    _detach(gateway, row)
    return row
