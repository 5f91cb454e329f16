"""A plan rule and payments for the payment-plan tests, through the real services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from accounts.models import Account
from billing.models import PlanRule
from core.audit import Actor
from core.extensions import db
from ledger import chart
from payments.models import Channel, Payment, Tender
from payments.services import record_payment, settle_payment

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
PAYER = Actor.job("test payments")


def add_rule(session, **overrides) -> PlanRule:
    """The town's plan rule: utility only, 10% down, up to 6 installments, 10 grace days."""
    fields = {
        "effective": date(2026, 1, 1),
        "classes": ["utility"],
        "min_down_percent": Decimal("10"),
        "min_down_cents": 0,
        "max_installments": 6,
        "max_included_cents": None,
        "grace_days": 10,
        "pause_penalties": True,
        "pause_reminders": True,
        "residents_may_request": True,
        "recorded_by": "test",
    }
    rule = PlanRule(**(fields | overrides))
    session.add(rule)
    session.flush()
    return rule


def account_of(number: str) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def pay(number: str, cents: int, on: date) -> Payment:
    """A card payment that succeeded and settled on a day (in the caller's app context)."""
    payment = record_payment(
        db.session,
        PAYER,
        account=account_of(number),
        amount_cents=cents,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    settle_payment(db.session, PAYER, payment, on=on, cash_gl=chart.STRIPE_CLEARING)
    db.session.commit()
    return payment
