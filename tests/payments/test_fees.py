"""Processor fees: what Stripe kept of a card payment is posted once, when Stripe knows it."""

from datetime import date

import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import gl_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.fees import record_processor_fees
from payments.gateway import PaymentError
from payments.models import Payment
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import TOTAL, _payment, _town

JOB = Actor.job("fees")
DAY = date(2026, 11, 20)


class FeesSaid:
    """A gateway that answers fees from a table (None: not known yet; an exception: unreachable)."""

    def __init__(self, fees: dict):
        self.fees, self.asked = fees, []

    def processor_fee(self, payment_intent_id: str):
        self.asked.append(payment_intent_id)
        fee = self.fees[payment_intent_id]
        if isinstance(fee, Exception):
            raise fee
        return fee


def _settled(app, client, households=1):
    accounts = _town(app, households=households)
    ids = [_payment(app, account_id) for account_id in accounts]
    with app.app_context():
        for payment_id in ids:
            deliver(
                client,
                intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id)),
            )
    return ids


def test_a_known_fee_is_posted_once_and_an_unknown_one_is_asked_for_again(app, client):
    first, second, third = _settled(app, client, households=3)
    unreachable = PaymentError("Payments are temporarily unavailable.", retryable=True)
    gateway = FeesSaid(
        {f"pi_test_{first}": 343, f"pi_test_{second}": None, f"pi_test_{third}": unreachable}
    )
    with app.app_context():
        report = record_processor_fees(db.session, JOB, gateway, on=DAY)
        assert (report.recorded, report.not_yet, report.fee_cents) == (1, 2, 343)
        assert db.session.get(Payment, first).fee_cents == 343
        assert db.session.get(Payment, second).fee_cents is None
        assert gl_balance(db.session, chart.PROCESSOR_FEES) == 343
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == 3 * TOTAL - 343
        gateway.fees[f"pi_test_{second}"] = 0  # known now, and nothing was kept
        again = record_processor_fees(db.session, JOB, gateway, on=DAY)
        assert (again.recorded, again.not_yet) == (1, 1)
        assert gateway.asked.count(f"pi_test_{first}") == 1  # a known fee is never asked for again
        assert db.session.get(Payment, second).fee_cents == 0
        fee_entries = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.source_type == "processor_fee")
        )
        assert fee_entries == 1  # a zero fee posts nothing
        assert verify_chain(db.session).ok


def test_the_fee_comes_from_the_balance_transaction_of_the_intent_at_stripe(app, client, gateway):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        intent = gateway.create_payment_intent(
            amount_cents=TOTAL,
            currency="usd",
            customer_id=None,
            metadata={"payment_id": str(payment_id)},
            idempotency_key=f"fee-{payment_id}",
            payment_method="pm_card_visa",
            confirm=True,
        )
        unpaid = gateway.create_payment_intent(
            amount_cents=500,
            currency="usd",
            customer_id=None,
            metadata={},
            idempotency_key="fee-unpaid",
        )
        assert gateway.processor_fee(unpaid.id) is None  # no charge yet: Stripe cannot say
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = intent.id
        db.session.commit()
        deliver(client, intent_event("payment_intent.succeeded", payment))
        report = record_processor_fees(db.session, JOB, gateway, on=DAY)
        # localstripe keeps no fee: the balance transaction says 0, and 0 is what we keep
        assert (report.recorded, report.not_yet, report.fee_cents) == (1, 0, 0)
        assert db.session.get(Payment, payment_id).fee_cents == 0
