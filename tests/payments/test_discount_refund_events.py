"""A card payment that earned an early-payment discount, refunded through Stripe (localstripe)
while Stripe tells of the refund more than once: the discount is taken back once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from billing.models import Settlement, SettlementKind
from billing.position import account_position
from core.audit import Actor
from core.extensions import db
from ledger.balances import gl_balance
from ledger.models import JournalEntry
from payments.models import Channel, Payment, Refund, RefundStatus, Tender
from payments.refunds import refund_payment
from payments.services import record_payment
from tests.billing.test_tax_bills_posted import discounted_bill
from tests.faults.ledger_checks import books_whole
from tests.payments.signing import deliver, intent_event

RESIDENT = Actor.system("resident")
SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
#: December 15, 2025, noon in the town: within the discount period (to December 31).
PAID_AT = int(datetime(2025, 12, 15, 18, 0, tzinfo=UTC).timestamp())
REFUNDED_ON = date(2025, 12, 20)


def paid_in_time_by_card(app, client, gateway) -> tuple[int, int, int, int]:
    """The discounted amount paid by a card Stripe knows, by the discount date; (account id,
    payment id, invoice total, discount cents)."""
    with app.app_context():
        owner, invoice, discount = discounted_bill(db.session)
        payment = record_payment(
            db.session,
            RESIDENT,
            account=owner,
            amount_cents=discount.amount_due_cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        intent = gateway.create_payment_intent(
            amount_cents=payment.amount_cents,
            currency="usd",
            customer_id=None,
            metadata={"payment_id": str(payment.id)},
            idempotency_key=f"t-{payment.id}",
            payment_method="pm_card_visa",
            confirm=True,
        )
        payment.stripe_payment_intent_id = intent.id
        db.session.commit()
        event = intent_event("payment_intent.succeeded", payment, created=PAID_AT)
        found = (owner.id, payment.id, invoice.total_cents, discount.discount_cents)
    answer = deliver(client, event)
    assert answer.status_code == 200
    return found


def refund_event(event_id: str, kind: str, stripe_refund_id: str, status: str) -> dict:
    """A charge.refunded or refund.updated event about one refund, as Stripe sends it."""
    refund = {"id": stripe_refund_id, "object": "refund", "status": status}
    obj = (
        {"id": "ch_test", "object": "charge", "refunds": {"data": [refund]}}
        if kind == "charge.refunded"
        else refund
    )
    return {"id": event_id, "type": kind, "created": PAID_AT + 5 * 86400, "data": {"object": obj}}


def taken_back_once(discount_cents: int) -> None:
    """One discount taken back: its settlements, one reversing entry, the discount account at
    nothing, the books whole."""
    reversed_cents = db.session.scalar(
        sa.select(sa.func.sum(Settlement.amount_cents)).where(
            Settlement.kind == SettlementKind.DISCOUNT_REVERSED
        )
    )
    assert reversed_cents == discount_cents
    reversals = db.session.scalar(
        sa.select(sa.func.count()).where(
            JournalEntry.source_type == "discount", JournalEntry.reverses_id.is_not(None)
        )
    )
    assert reversals == 1
    assert gl_balance(db.session, "4900") == 0
    books_whole(db.session)


def test_a_refund_told_again_and_again_takes_the_discount_back_once(app, client, gateway):
    account_id, payment_id, _total, discount_cents = paid_in_time_by_card(app, client, gateway)
    with app.app_context():
        assert account_position(db.session, account_id, date(2025, 12, 15)).owed_cents() == 0
        assert gl_balance(db.session, "4900") == -discount_cents
        made = refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=100_00,
            reason="charged twice, per phone call",
            on=REFUNDED_ON,
            gateway=gateway,
        )
        db.session.commit()
        stripe_id = made.stripe_refund_id
    told = refund_event("evt_refunded_1", "charge.refunded", stripe_id, "succeeded")
    for event in (
        told,
        told,  # the same event delivered twice
        refund_event("evt_refund_updated_1", "refund.updated", stripe_id, "succeeded"),
    ):
        answer = deliver(client, event)
        assert answer.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Refund.status)) == RefundStatus.SUCCEEDED
        owed = account_position(db.session, account_id, REFUNDED_ON).owed_cents()
        assert owed == 100_00 + discount_cents
        taken_back_once(discount_cents)


def test_a_failed_refund_told_twice_keeps_the_bill_open_and_the_money_as_credit(
    app, client, gateway
):
    account_id, payment_id, _total, discount_cents = paid_in_time_by_card(app, client, gateway)
    with app.app_context():
        made = refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=100_00,
            reason="charged twice, per phone call",
            on=REFUNDED_ON,
            gateway=gateway,
        )
        db.session.commit()
        stripe_id = made.stripe_refund_id
    for n in (1, 2):
        event = refund_event(f"evt_refund_failed_{n}", "refund.updated", stripe_id, "failed")
        assert deliver(client, event).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Refund.status)) == RefundStatus.FAILED
        position = account_position(db.session, account_id, REFUNDED_ON)
        # NOTE: the refund re-opened the bill when it was made; Stripe not paying it back leaves
        # the money on the account as credit, to apply or refund again (payments.refunds).
        assert position.owed_cents() == 100_00 + discount_cents
        assert position.credit_cents == 100_00
        taken_back_once(discount_cents)
