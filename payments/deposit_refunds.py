"""Deposits going back to residents: to the card that paid them (through Stripe), and the
scheduled refund of deposits whose good payment history has earned it (docs/deposits.md).

billing/deposits.py keeps the register and the ledger; this module adds what needs Stripe.
A card gets back at most what it paid for the deposit; interest credited on top goes to the
account as credit (a card refund can never exceed the charge).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from billing.deposit_checks import deposit_rule_on, due_for_refund
from billing.deposits import DepositError, refund_deposit
from billing.models import Deposit, DepositStatus
from core.audit import Actor
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus


def card_payment(session: Session, deposit: Deposit) -> Payment | None:
    """The settled card payment a deposit was paid with, if any."""
    if deposit.payment_id is None:
        return None
    payment = session.get(Payment, deposit.payment_id)
    if payment is None or payment.stripe_payment_intent_id is None:
        return None
    return payment if payment.status == PaymentStatus.SUCCEEDED else None


def refund_deposit_to_card(
    session: Session,
    actor: Actor,
    deposit: Deposit,
    *,
    on: date,
    reason: str,
    gateway: StripeGateway,
) -> int:
    """Refund a held deposit to the card that paid it; interest on top goes to account credit.

    Returns the cents refunded to the card. The Stripe refund's idempotency key is the
    deposit's own, so a retry after a lost answer does not refund twice.
    """
    if deposit.status != DepositStatus.HELD:
        raise DepositError("deposit", f"deposit {deposit.id} is {deposit.status.value}, not held")
    if len((reason or "").strip()) < 5:
        raise DepositError("reason", "say why (at least 5 characters)")
    payment = card_payment(session, deposit)
    if payment is None:
        raise DepositError(
            "method", "this deposit was not paid by card; refund it by check or as credit"
        )
    to_card = min(deposit.held_cents, deposit.amount_cents, payment.amount_cents)
    stripe_refund = gateway.create_refund(
        payment_intent_id=payment.stripe_payment_intent_id,
        amount_cents=to_card,
        idempotency_key=f"munibill-deposit-refund-{deposit.id}",
    )
    refund_deposit(
        session,
        actor,
        deposit,
        method="card",
        on=on,
        reason=reason,
        cents=to_card,
        card_refund=stripe_refund.id,
    )
    if deposit.held_cents:
        refund_deposit(
            session, actor, deposit, method="credit", on=on, reason=f"{reason.strip()} (interest)"
        )
    return to_card


def refund_earned_deposits(
    session: Session, actor: Actor, *, as_of: date, gateway: StripeGateway | None
) -> dict[str, int]:
    """Refund every deposit whose rule's months of good payment history have passed, by the
    rule's method; a card method falls back to a check request when no card paid the deposit."""
    rule = deposit_rule_on(session, as_of)
    counts = {"deposits": 0, "cents": 0, "to_card": 0, "by_check": 0, "as_credit": 0}
    if rule is None:
        return counts
    reason = f"{rule.refund_after_months} months of good payment history"
    for deposit in due_for_refund(session, as_of):
        held = deposit.held_cents
        method = rule.refund_method
        if method == "card" and (gateway is None or card_payment(session, deposit) is None):
            method = "check"
        if method == "card":
            refund_deposit_to_card(
                session, actor, deposit, on=as_of, reason=reason, gateway=gateway
            )
            counts["to_card"] += 1
        else:
            refund_deposit(session, actor, deposit, method=method, on=as_of, reason=reason)
            counts["by_check" if method == "check" else "as_credit"] += 1
        counts["deposits"] += 1
        counts["cents"] += held
    return counts
