"""Deposits go back after good payment history: to the card that paid them (through a real
localstripe), by check request, or as credit; interest is credited once a year."""

from datetime import date

import pytest

from billing.deposit_checks import load_deposit_rules
from billing.deposits import DepositError, hold_deposit
from billing.jobs import credit_deposit_interest
from billing.models import DepositStatus
from core.audit import Actor
from core.jobs import JobContext
from ledger import chart
from ledger.balances import account_credit, gl_balance
from ledger.deposit_register import register_tie
from payments.deposit_refunds import refund_deposit_to_card, refund_earned_deposits
from payments.models import Channel, Payment, PaymentStatus, Tender
from tests.billing.billing_fixtures import household, load_rules
from tests.payments.test_gateway import pay

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
JOB = Actor.job("refund_deposits")


def _rules(session, method: str) -> None:
    load_deposit_rules(
        session,
        CLERK,
        {
            "versions": [
                {
                    "effective": "2020-01-01",
                    "who": {"renters": True},
                    "amount": {"fixed": "150.00"},
                    "collect": "before_service",
                    "refund": {"after_months": 12, "method": method},
                    "interest": {"annual_percent": "1.25", "ordinance": "Town Code 14-3"},
                }
            ]
        },
    )


def _card_deposit(session, gateway):
    """A renter's $150.00 deposit paid by card on January 1, 2026."""
    account = household(session, load_rules(session), "olson", [1000, 5000, 9000, 13000, 18400])
    intent = pay(gateway, "pm_card_visa", amount_cents=15000, key="deposit")
    payment = Payment(
        account_id=account.id,
        channel=Channel.ONLINE,
        tender=Tender.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=15000,
        stripe_payment_intent_id=intent.id,
        created_by=CLERK.label,
    )
    session.add(payment)
    session.flush()
    deposit = hold_deposit(
        session,
        CLERK,
        account_id=account.id,
        amount_cents=15000,
        held_since=date(2026, 1, 1),
        offset_gl_code=chart.STRIPE_CLEARING,
        source="card",
        reference=intent.id,
        payment_id=payment.id,
    )
    return account, deposit, intent


def _context(as_of: date, dry_run: bool = False) -> JobContext:
    return JobContext(as_of=as_of, dry_run=dry_run, actor=JOB, config={"ROUNDING_RULE": "half_up"})


def test_the_card_gets_its_deposit_back_and_the_interest_becomes_credit(session, gateway):
    _rules(session, "card")
    account, deposit, intent = _card_deposit(session, gateway)
    session.commit()  # a dry run rolls back what it did, as every job does
    assert credit_deposit_interest(session, _context(date(2027, 1, 2), dry_run=True)) == {
        "deposits": 1,
        "cents": 187,
    }
    # 2026 in full, Jan 1 to Dec 31: 364 days; 15000 * 1.25% * 364 / 365 = 186.99 -> 187 cents
    assert credit_deposit_interest(session, _context(date(2027, 1, 2))) == {
        "deposits": 1,
        "cents": 187,
    }
    assert credit_deposit_interest(session, _context(date(2027, 1, 2))) == {
        "deposits": 0,
        "cents": 0,
    }
    assert (deposit.held_cents, deposit.interest_through) == (15187, date(2026, 12, 31))
    counts = refund_earned_deposits(session, JOB, as_of=date(2027, 1, 5), gateway=gateway)
    assert counts == {"deposits": 1, "cents": 15187, "to_card": 1, "by_check": 0, "as_credit": 0}
    (refund,) = [r for r in gateway.list_refunds() if r.payment_intent_id == intent.id]
    assert (refund.amount_cents, refund.status) == (15000, "succeeded")
    assert deposit.status == DepositStatus.REFUNDED
    assert [(m.kind.value, m.amount_cents) for m in deposit.movements] == [
        ("held", 15000),
        ("interest", 187),
        ("refunded", 15000),
        ("refunded", 187),
    ]
    assert gl_balance(session, chart.STRIPE_CLEARING) == 0
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0
    assert gl_balance(session, chart.INTEREST_ON_DEPOSITS) == 187
    assert account_credit(session, account.id) == 187
    assert register_tie(session).ties


def test_a_deposit_not_paid_by_card_goes_back_by_check_request(session, gateway):
    _rules(session, "card")
    account = household(session, load_rules(session), "olson", [1000, 5000, 9000, 13000, 18400])
    deposit = hold_deposit(
        session,
        CLERK,
        account_id=account.id,
        amount_cents=15000,
        held_since=date(2025, 12, 1),
        offset_gl_code=chart.CASH_DRAWER,
        source="counter",
    )
    with pytest.raises(DepositError) as refused:
        refund_deposit_to_card(
            session, CLERK, deposit, on=date(2026, 12, 1), reason="moving away", gateway=gateway
        )
    assert refused.value.field == "method"
    counts = refund_earned_deposits(session, JOB, as_of=date(2026, 12, 1), gateway=gateway)
    assert (counts["by_check"], counts["cents"]) == (1, 15000)
    assert gl_balance(session, chart.REFUNDS_PAYABLE) == 15000
    assert account_credit(session, account.id) == 0
    assert register_tie(session).ties
