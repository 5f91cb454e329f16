"""Convenience fees charged, posted and refunded by rule.

The bill is always paid with the bill amount; the fee is its own journal entry
(source `convenience_fee`): Dr the money's clearing account (1020, or 1010 at a
drawer) / Cr 4530 fee revenue or 2050 fees payable to a processor. An own-line fee
rides on the payment's PaymentIntent and is posted when the payment settles; a
separate-charge fee has its own PaymentIntent, posted when Stripe says it succeeded.
A refund of the payment gives back the fee's share the rule names (full, pro rata,
never), reversing the same accounts. A bank debit its bank returns took back the whole
amount, fee included: its own-line fee is reversed in full, once, whatever the refund rule.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.money import format_cents, to_cents
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.convenience_fees import FEE_GL, fee_of
from payments.fee_models import ConvenienceFee, ConvenienceFeeRefund
from payments.fee_terms import FeeCharge, FeeRefund
from payments.gateway import PaymentError, StripeGateway, StripePaymentIntent
from payments.models import Payment, Refund

log = logging.getLogger(__name__)

#: The metadata key that marks a PaymentIntent as the separate fee of one of our payments.
FEE_OF = "convenience_fee_of"


def post_fee(
    session: Session, actor: Actor, fee: ConvenienceFee, *, on: date, cash_gl: str
) -> bool:
    """Post a collected fee to its GL account, once (a fee of zero posts nothing)."""
    if fee.posted_on is not None or fee.amount_cents == 0:
        return False
    fee.posted_on = on
    post_entry(
        session,
        [
            Posting(cash_gl, debit_cents=fee.amount_cents),
            Posting(FEE_GL[fee.account], credit_cents=fee.amount_cents),
        ],
        entry_date=on,
        source_type="convenience_fee",
        source_id=fee.payment_id,
        actor=actor,
        memo=f"Convenience fee of payment {fee.payment_id}",
    )
    record(session, actor, "payment.fee_posted", fee, payment=fee.payment_id, on=on)
    return True


def post_own_line_fees(
    session: Session, actor: Actor, settled: list[tuple[Payment, date]], *, cash_gl: str
) -> int:
    """Post the own-line fees of payments just settled, into the same clearing account."""
    if not settled:
        return 0
    on_by_payment = {payment.id: on for payment, on in settled}
    fees = session.scalars(
        sa.select(ConvenienceFee)
        .where(
            ConvenienceFee.payment_id.in_(on_by_payment),
            ConvenienceFee.charge_as == FeeCharge.OWN_LINE,
            ConvenienceFee.amount_cents > 0,
            ConvenienceFee.posted_on.is_(None),
        )
        .order_by(ConvenienceFee.payment_id)
    ).all()
    for fee in fees:
        post_fee(session, actor, fee, on=on_by_payment[fee.payment_id], cash_gl=cash_gl)
    return len(fees)


def charge_separate_fee(
    session: Session,
    actor: Actor,
    gateway: StripeGateway,
    payment: Payment,
    *,
    customer_id: str,
    payment_method_id: str,
) -> StripePaymentIntent | None:
    """Charge a separate-charge fee as its own PaymentIntent, linked to the payment; once.

    A declined fee leaves the bill's payment as it is: the town does not collect that fee.
    """
    fee = fee_of(session, payment)
    if fee is None or fee.charge_as != FeeCharge.SEPARATE or fee.amount_cents == 0:
        return None
    if fee.stripe_payment_intent_id:
        return gateway.retrieve_payment_intent(fee.stripe_payment_intent_id)
    try:
        intent = gateway.create_payment_intent(
            amount_cents=fee.amount_cents,
            currency=payment.currency,
            customer_id=customer_id,
            metadata={FEE_OF: str(payment.id), "account_number": payment.account.number},
            idempotency_key=f"munibill-fee-{payment.id}",
            payment_method=payment_method_id,
            confirm=True,
        )
    except PaymentError as error:
        fee.stripe_payment_intent_id = error.payment_intent_id
        log.warning("the convenience fee of payment %s was not charged: %s", payment.id, error)
        record(session, actor, "payment.fee_declined", fee, payment=payment.id, code=error.code)
        return None
    fee.stripe_payment_intent_id = intent.id
    record(session, actor, "payment.fee_charged", fee, payment=payment.id, intent=intent.id)
    return intent


def fee_of_intent(session: Session, intent: dict) -> ConvenienceFee | None:
    """The separate fee a PaymentIntent charged (by our metadata, else by its id), locked."""
    payment_id = str((intent.get("metadata") or {}).get(FEE_OF, ""))
    query = sa.select(ConvenienceFee).with_for_update()
    if payment_id.isdigit():
        fee = session.scalar(query.where(ConvenienceFee.payment_id == int(payment_id)))
    else:
        fee = session.scalar(
            query.where(ConvenienceFee.stripe_payment_intent_id == intent.get("id"))
        )
    if fee is None or fee.stripe_payment_intent_id not in (None, intent.get("id")):
        return None
    return fee


def is_fee_intent(intent: dict) -> bool:
    """Whether a PaymentIntent is the separate fee of a payment, not a payment."""
    return FEE_OF in (intent.get("metadata") or {})


def settle_fee_intent(session: Session, actor: Actor, intent: dict, *, on: date) -> bool:
    """A separate fee's PaymentIntent succeeded: post the fee into Stripe clearing, once."""
    fee = fee_of_intent(session, intent)
    if fee is None:
        return False
    received = intent.get("amount_received") or intent.get("amount")
    if received != fee.amount_cents:
        raise ValueError(
            f"Stripe received {received} cents for the fee of payment {fee.payment_id} "
            f"of {fee.amount_cents}"
        )
    fee.stripe_payment_intent_id = intent.get("id")
    post_fee(session, actor, fee, on=on, cash_gl=chart.STRIPE_CLEARING)
    return True


def is_fee_refund(session: Session, stripe_refund_id: str | None) -> bool:
    """Whether a Stripe refund is a convenience fee's share we gave back (ours, not unknown)."""
    if not stripe_refund_id:
        return False
    return (
        session.scalar(
            sa.select(ConvenienceFeeRefund.id).where(
                ConvenienceFeeRefund.stripe_refund_id == stripe_refund_id
            )
        )
        is not None
    )


def fee_refund_cents(fee: ConvenienceFee, payment_cents: int, refunded_cents: int) -> int:
    """What of the fee a refund gives back, now that `refunded_cents` of the payment are back."""
    if fee.posted_on is None or fee.refund == FeeRefund.NEVER:
        return 0
    if fee.refund == FeeRefund.WITH_FULL_REFUND:
        due = fee.amount_cents if refunded_cents >= payment_cents else 0
    else:
        # NOTE: the share is worked out on the whole refunded so far, so that partial refunds
        # add up to the whole fee once the whole payment is back, never a cent more.
        due = to_cents(Decimal(fee.amount_cents) * refunded_cents / payment_cents)
    return max(min(due, fee.amount_cents) - fee.refunded_cents, 0)


def refund_fee(
    session: Session,
    actor: Actor,
    payment: Payment,
    refund: Refund,
    *,
    refunded_cents: int,
    on: date,
    gateway: StripeGateway | None,
) -> int:
    """Give back the fee's share of a refund, by the rule quoted: at Stripe and in the ledger."""
    fee = fee_of(session, payment)
    if fee is None:
        return 0
    session.refresh(fee, with_for_update=True)
    cents = fee_refund_cents(fee, payment.amount_cents, refunded_cents)
    if cents == 0:
        return 0
    intent_id = (
        fee.stripe_payment_intent_id
        if fee.charge_as == FeeCharge.SEPARATE
        else payment.stripe_payment_intent_id
    )
    given = ConvenienceFeeRefund(fee_id=fee.id, refund_id=refund.id, amount_cents=cents)
    if intent_id is not None and gateway is not None:
        given.stripe_refund_id = gateway.create_refund(
            payment_intent_id=intent_id,
            amount_cents=cents,
            idempotency_key=f"munibill-fee-refund-{refund.id}",
        ).id
    session.add(given)
    fee.refunded_cents += cents
    cash_gl = chart.STRIPE_CLEARING if intent_id is not None else chart.REFUNDS_PAYABLE
    post_entry(
        session,
        [
            Posting(FEE_GL[fee.account], debit_cents=cents),
            Posting(cash_gl, credit_cents=cents),
        ],
        entry_date=on,
        source_type="convenience_fee",
        source_id=payment.id,
        actor=actor,
        memo=f"Convenience fee of payment {payment.id} refunded with refund {refund.id}: "
        f"{format_cents(cents)}",
    )
    record(session, actor, "payment.fee_refunded", fee, refund=refund.id, cents=cents)
    return cents


def reverse_returned_fee(
    session: Session, actor: Actor, payment: Payment, *, on: date, because: str
) -> int:
    """Reverse the posted own-line fee of a debit its bank returned (Dr the fee's account /
    Cr Stripe clearing), what refunds left of it, once; the cents reversed."""
    fee = fee_of(session, payment)
    if fee is None or fee.charge_as != FeeCharge.OWN_LINE or fee.posted_on is None:
        return 0
    session.refresh(fee, with_for_update=True)
    cents = fee.amount_cents - fee.refunded_cents
    if cents <= 0:
        return 0
    # NOTE: counted as given back, so that no refund can give the fee back a second time.
    fee.refunded_cents = fee.amount_cents
    post_entry(
        session,
        [
            Posting(FEE_GL[fee.account], debit_cents=cents),
            Posting(chart.STRIPE_CLEARING, credit_cents=cents),
        ],
        entry_date=on,
        source_type="convenience_fee",
        source_id=payment.id,
        actor=actor,
        memo=f"Convenience fee of payment {payment.id} reversed: {because}",
    )
    record(session, actor, "payment.fee_returned", fee, payment=payment.id, cents=cents)
    return cents
