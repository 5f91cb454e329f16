"""The card a payment was made with, as a resident recognises it: "Visa ending in 4242".

Card details come from Stripe, never from the browser. A success event that carries
its charge gives them as the payment settles (payments.webhooks); otherwise they are
asked of Stripe after the settlement has been committed: by the webhook's settler
right away (payments.api) and by the hourly fees job for whatever is still missing.
Settling never waits for them and never fails for them; until they are known, a
receipt says "card" (notices.receipt_words writes them out).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from payments.gateway import PaymentCard, PaymentError, StripeGateway
from payments.models import Payment, PaymentStatus, Tender

log = logging.getLogger(__name__)


def note_card(payment: Payment, card: PaymentCard | None) -> bool:
    """Keep the brand and last four digits Stripe gave for a payment, once; True if kept now."""
    if card is None or payment.card_last4 is not None:
        return False
    payment.card_brand, payment.card_last4 = card.brand, card.last4
    return True


def fill_card_details(
    session: Session,
    actor: Actor,
    gateway: StripeGateway,
    *,
    settled_after: datetime | None = None,
    limit: int = 500,
) -> int:
    """Ask Stripe for the card of settled card payments that lack it; commits each one found.

    No transaction stays open while Stripe is asked. A payment filled in meanwhile by
    another process is left as it is. Stripe out of reach ends the round (the next one
    asks again); a payment Stripe cannot tell the card of is asked again next time.
    Returns how many payments got their card.
    """
    query = sa.select(Payment.id, Payment.stripe_payment_intent_id).where(
        Payment.status == PaymentStatus.SUCCEEDED,
        Payment.tender == Tender.CARD,
        Payment.stripe_payment_intent_id.is_not(None),
        Payment.card_last4.is_(None),
    )
    if settled_after is not None:
        query = query.where(Payment.succeeded_at >= settled_after)
    # NOTE: newest first, so that a payment Stripe can never tell the card of (asked again
    # each round) does not keep the ones after it waiting.
    missing = session.execute(query.order_by(Payment.id.desc()).limit(limit)).all()
    session.rollback()
    filled = 0
    for payment_id, intent_id in missing:
        try:
            card = gateway.payment_card(intent_id)
        except PaymentError as error:
            log.warning("the card of payment %s could not be read: %s", payment_id, error.detail)
            if error.retryable:
                break
            continue
        if card is None:
            continue
        kept = session.execute(
            sa.update(Payment)
            .where(Payment.id == payment_id, Payment.card_last4.is_(None))
            .values(card_brand=card.brand, card_last4=card.last4)
        ).rowcount
        if kept:
            record(
                session,
                actor,
                "payment.card",
                object_type="Payment",
                object_id=payment_id,
                brand=card.brand,
                last4=card.last4,
            )
        session.commit()
        filled += kept
    return filled
