"""Making one journal entry of each payments kind through its service (tests/ledger/test_entry_sources.py).

Stripe's side comes from StripeSays (its answers from tables) or from signed events
delivered to the webhook endpoint, as tests/payments does.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from accounts.models import Account
from core.audit import Actor
from core.calendar import town_zone
from core.extensions import db
from payments.counter import open_drawer, take_counter_payment
from payments.fees import record_processor_fees
from payments.gateway import StripePaymentIntent, StripeRefund
from payments.models import Payment, ReconciliationItem, ReconciliationKind, Refund, Tender
from payments.reconcile_actions import record_refund, settle, write_off
from payments.reconcile_queue import flag
from payments.refunds import refund_payment, void_counter_payment
from payments.services import fail_payment
from tests.ledger.billing_postings import DAY, JOB, SUPERVISOR, Posted, newest
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import TOTAL, _payment, _town

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")


class StripeSays:
    """Stripe's side of the calls these services make: intents, refunds and fees, from tables."""

    def __init__(self, intents=(), refunds=(), fees=None):
        """Stripe knows these intents and refunds, and these fees by intent id."""
        self.intents = {intent.id: intent for intent in intents}
        self.refunds = {refund.id: refund for refund in refunds}
        self.fees = fees or {}

    def retrieve_payment_intent(self, intent_id: str) -> StripePaymentIntent:
        """The intent as Stripe knows it."""
        return self.intents[intent_id]

    def retrieve_refund(self, refund_id: str) -> StripeRefund:
        """The refund as Stripe knows it."""
        return self.refunds[refund_id]

    def create_refund(self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str):
        """A refund Stripe accepted and has not paid yet."""
        return _refund(f"re_{idempotency_key}", amount_cents, payment_intent_id, "pending")

    def processor_fee(self, intent_id: str) -> int:
        """The fee Stripe kept of the intent."""
        return self.fees[intent_id]


def _intent(intent_id: str, cents: int) -> StripePaymentIntent:
    """An intent Stripe says succeeded for `cents`."""
    moment = datetime(2026, 11, 20, 15, tzinfo=UTC)
    return StripePaymentIntent(
        intent_id, "succeeded", cents, "usd", None, {}, None, moment, None, None, None
    )


def _refund(refund_id: str, cents: int, intent_id: str, status: str = "succeeded"):
    """A refund as Stripe reports it."""
    moment = datetime(2026, 11, 21, tzinfo=UTC)
    return StripeRefund(refund_id, status, cents, "usd", intent_id, None, None, moment)


def _card_paid(app: Flask, client: FlaskClient) -> tuple[int, int]:
    """A billed household whose card payment settled by webhook; (account id, payment id)."""
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        deliver(
            client, intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
        )
    return account_id, payment_id


def card_payment_by_webhook(app, client) -> Posted:
    """A card payment settled by Stripe's success event."""
    _account_id, payment_id = _card_paid(app, client)
    with app.app_context():
        return Posted(newest(), str(payment_id), f"Payment {payment_id} (card)")


def _counter_paid(app) -> int:
    """A billed household that paid in cash at the counter; the payment id."""
    (account_id,) = _town(app)
    with app.app_context():
        receipt = take_counter_payment(
            db.session,
            CLERK,
            drawer=open_drawer(db.session, CLERK),
            account=db.session.get(Account, account_id),
            amount_cents=TOTAL,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[],
            on=DAY,
        )
        db.session.commit()
        return receipt.payment_id


def counter_payment(app, client) -> Posted:
    """Cash at the counter."""
    payment_id = _counter_paid(app)
    with app.app_context():
        return Posted(newest(), str(payment_id), f"Payment {payment_id} (cash)")


def counter_void(app, client) -> Posted:
    """A voided counter payment."""
    payment_id = _counter_paid(app)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        void_counter_payment(db.session, SUPERVISOR, payment, reason="wrong account", on=DAY)
        db.session.commit()
        return Posted(newest(), str(payment_id), f"Void of counter payment {payment_id}:")


def counter_refund(app, client) -> Posted:
    """A refund of a counter payment (owed to the payer)."""
    payment_id = _counter_paid(app)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        refund = refund_payment(
            db.session, SUPERVISOR, payment, amount_cents=500, reason="paid twice", on=DAY
        )
        db.session.commit()
        return Posted(newest(), str(refund.id), f"Refund {refund.id} of payment {payment_id}")


def _card_refunded(app, client) -> tuple[int, int]:
    """A card payment partly refunded through Stripe; (payment id, refund id)."""
    _account_id, payment_id = _card_paid(app, client)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        refund = refund_payment(
            db.session,
            SUPERVISOR,
            payment,
            amount_cents=1000,
            reason="billing error",
            on=DAY,
            gateway=StripeSays(),
        )
        db.session.commit()
        return payment_id, refund.id


def card_refund(app, client) -> Posted:
    """A card refund made through Stripe."""
    payment_id, refund_id = _card_refunded(app, client)
    with app.app_context():
        return Posted(newest(), str(refund_id), f"Refund {refund_id} of payment {payment_id}")


def failed_refund(app, client) -> Posted:
    """A card refund Stripe could not pay, told by its event."""
    payment_id, refund_id = _card_refunded(app, client)
    with app.app_context():
        stripe_id = db.session.get(Refund, refund_id).stripe_refund_id
    failed = {"object": "refund", "id": stripe_id, "status": "failed"}
    event = {"id": "evt_failed", "type": "refund.updated", "created": 1, "data": {"object": failed}}
    assert deliver(client, event).get_json()["status"] == "processed"
    with app.app_context():
        return Posted(
            newest(), str(refund_id), f"Refund {refund_id} of payment {payment_id} failed"
        )


def _dispute_event(kind: str, payment_id: int, status: str) -> dict:
    """A charge.dispute.* event on the payment's intent."""
    dispute = {
        "id": f"dp_{payment_id}",
        "object": "dispute",
        "amount": TOTAL,
        "payment_intent": f"pi_test_{payment_id}",
        "reason": "fraudulent",
        "status": status,
    }
    return {
        "id": f"evt_{kind}_{status}",
        "type": kind,
        "created": 1_795_000_000,
        "data": {"object": dispute},
    }


def _disputed(app, client, outcome: str | None) -> Posted:
    """A card payment disputed, and the dispute closed with `outcome` (None: still open)."""
    _account_id, payment_id = _card_paid(app, client)
    events = [_dispute_event("charge.dispute.created", payment_id, "needs_response")]
    if outcome:
        events.append(_dispute_event("charge.dispute.closed", payment_id, outcome))
    for event in events:
        assert deliver(client, event).get_json()["status"] == "processed"
    said = outcome or f"on payment {payment_id}"
    with app.app_context():
        return Posted(newest(), f"dp_{payment_id}", f"Dispute dp_{payment_id} {said}")


def dispute_opened(app, client) -> Posted:
    """A dispute opened: its funds are held."""
    return _disputed(app, client, None)


def dispute_won(app, client) -> Posted:
    """A dispute won."""
    return _disputed(app, client, "won")


def dispute_lost(app, client) -> Posted:
    """A dispute lost."""
    return _disputed(app, client, "lost")


def payout(app, client) -> Posted:
    """A payout paid to the bank, told by its event."""
    _card_paid(app, client)
    paid = {"object": "payout", "id": "po_42", "amount": 10000, "currency": "usd"}
    event = {"id": "evt_po_42", "type": "payout.paid", "created": 1, "data": {"object": paid}}
    assert deliver(client, event).get_json()["status"] == "processed"
    with app.app_context():
        return Posted(newest(), "po_42", "Stripe payout po_42 ")


def processor_fee(app, client) -> Posted:
    """The fee Stripe kept of a card payment."""
    _account_id, payment_id = _card_paid(app, client)
    with app.app_context():
        gateway = StripeSays(fees={f"pi_test_{payment_id}": 343})
        record_processor_fees(db.session, JOB, gateway, on=DAY)
        return Posted(newest(), str(payment_id), f"fee of payment {payment_id}")


def _queued(app, kind: ReconciliationKind, stripe_id: str, payment_id: int, **theirs) -> int:
    """An item of the reconciliation queue, filed as the reconciliation run files it; its id."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        flag(
            db.session, JOB, kind, stripe_id, payment=payment, ours={}, theirs=theirs, suggestion=""
        )
        db.session.commit()
        return db.session.scalar(sa.select(ReconciliationItem.id))


def payment_settled_from_the_queue(app, client) -> Posted:
    """A card payment recorded failed that Stripe took, settled from the queue."""
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        fail_payment(db.session, JOB, db.session.get(Payment, payment_id), code=None, message="x")
        db.session.commit()
    item_id = _queued(app, ReconciliationKind.FAILED_HERE, f"pi_test_{payment_id}", payment_id)
    with app.app_context():
        gateway = StripeSays(intents=[_intent(f"pi_test_{payment_id}", TOTAL)])
        zone = town_zone(app.config)
        item = db.session.get(ReconciliationItem, item_id)
        settle(db.session, CLERK, item, gateway, reason="Stripe took it", zone=zone)
        db.session.commit()
        return Posted(newest(), str(payment_id), f"Payment {payment_id} (card)")


def write_off_in_the_queue(app, client) -> Posted:
    """A shortfall written off from the reconciliation queue."""
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    stripe_id = f"pi_test_{payment_id}"
    item_id = _queued(app, ReconciliationKind.AMOUNT_MISMATCH, stripe_id, payment_id)
    with app.app_context():
        gateway = StripeSays(intents=[_intent(stripe_id, TOTAL - 40)])
        zone = town_zone(app.config)
        item = db.session.get(ReconciliationItem, item_id)
        write_off(
            db.session,
            SUPERVISOR,
            item,
            gateway,
            reason="rounding",
            limit_cents=500,
            on=DAY,
            zone=zone,
        )
        db.session.commit()
        return Posted(newest(), str(item_id), f"Reconciliation item {item_id} written off")


def refund_made_at_stripe(app, client) -> Posted:
    """A refund made in Stripe's dashboard, booked from the queue."""
    _account_id, payment_id = _card_paid(app, client)
    intent_id = f"pi_test_{payment_id}"
    item_id = _queued(
        app, ReconciliationKind.REFUND_NOT_RECORDED, "re_out", payment_id, intent=intent_id
    )
    with app.app_context():
        gateway = StripeSays(refunds=[_refund("re_out", 500, intent_id)])
        item = db.session.get(ReconciliationItem, item_id)
        record_refund(db.session, CLERK, item, gateway, reason="refunded by hand", on=DAY)
        db.session.commit()
        refund_id = db.session.scalar(sa.select(Refund.id))
        return Posted(newest(), str(refund_id), f"Refund {refund_id} of payment {payment_id}")
