"""Disputes and refunds of a card payment: in every order Stripe tells them, the books give
the money back once, the bill is right and closing a dispute never fails."""

from __future__ import annotations

import threading
from datetime import date
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.disputes import open_dispute
from payments.models import Dispute, DisputeStatus, EventStatus, Payment, Refund, StripeEvent
from payments.refunds import refund_payment, refundable_cents
from payments.services import PaymentRefused
from payments.webhooks import STRIPE, process_alone, store_event
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import _payment, _town

SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
DAY = date(2026, 11, 10)
ZONE = ZoneInfo("America/Chicago")
T = 10784  # the October bill of the test household, paid in full by card
_events = count(1)


def _paid_by_card(app, client, gateway) -> tuple[int, int]:
    """A billed household whose bill was paid in full by a card Stripe knows; (account, payment)."""
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        intent = gateway.create_payment_intent(
            amount_cents=T,
            currency="usd",
            customer_id=None,
            metadata={"payment_id": str(payment_id)},
            idempotency_key=f"t-{payment_id}",
            payment_method="pm_card_visa",
            confirm=True,
        )
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = intent.id
        db.session.commit()
        deliver(client, intent_event("payment_intent.succeeded", payment))
    return account_id, payment_id


def _dispute_event(payment_id: int, kind: str, amount: int, status: str) -> dict:
    """A charge.dispute.* event of the payment's one dispute, as Stripe signs it."""
    with db.session.no_autoflush:
        intent = db.session.get(Payment, payment_id).stripe_payment_intent_id
    return {
        "id": f"evt_dispute_{next(_events)}",
        "type": f"charge.dispute.{kind}",
        "created": 1_795_000_000,
        "data": {
            "object": {
                "id": f"dp_{payment_id}",
                "object": "dispute",
                "amount": amount,
                "payment_intent": intent,
                "reason": "fraudulent",
                "status": status,
            }
        },
    }


def _refund(app, gateway, payment_id: int, cents: int) -> str:
    """Refund through Stripe as a supervisor; the refund's Stripe id."""
    with app.app_context():
        refund = refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=cents,
            reason="paid by mistake",
            on=DAY,
            gateway=gateway,
        )
        db.session.commit()
        return refund.stripe_refund_id


def _refund_failed_event(stripe_refund_id: str) -> dict:
    """Stripe telling that a refund could not be paid back."""
    return {
        "id": f"evt_refund_failed_{next(_events)}",
        "type": "refund.updated",
        "created": 1_795_000_000,
        "data": {"object": {"id": stripe_refund_id, "object": "refund", "status": "failed"}},
    }


def _play(app, client, gateway, payment_id: int, steps) -> None:
    """Run the steps in order; every event Stripe tells is processed, every refund as expected."""
    dispute_amount = {"amount": T}
    last_refund = None
    for step, *args in steps:
        if step == "refund":
            last_refund = _refund(app, gateway, payment_id, args[0])
        elif step == "refused":
            with pytest.raises(PaymentRefused, match="held by an open dispute"):
                _refund(app, gateway, payment_id, args[0])
        elif step == "refund_failed":
            answer = deliver(client, _refund_failed_event(last_refund))
            assert answer.status_code == 200 and answer.get_json()["status"] == "processed"
        else:
            if step == "created":
                dispute_amount["amount"] = args[0]
            status = {"created": "needs_response", "won": "won", "lost": "lost"}[step]
            kind = "created" if step == "created" else "closed"
            with app.app_context():
                event = _dispute_event(payment_id, kind, dispute_amount["amount"], status)
            answer = deliver(client, event)
            assert answer.status_code == 200, answer.get_json()
            assert answer.get_json()["status"] == "processed"


#: Orders of events, and what the account owes and the town wrote off afterwards.
ORDERS = {
    "lost": ([("created", T), ("lost",)], T, 0),
    "won, then refunded in full": ([("created", T), ("won",), ("refund", T)], T, 0),
    "won after a partial refund": (
        [("refund", 1000), ("created", T - 1000), ("won",), ("refund", T - 1000)],
        T,
        0,
    ),
    "lost after a partial refund": ([("refund", 1000), ("created", T - 1000), ("lost",)], T, 0),
    "lost after a full refund": ([("refund", T), ("created", T), ("lost",)], T, T),
    "lost for more than was left after a refund": (
        [("refund", 1000), ("created", T), ("lost",)],
        T,
        1000,
    ),
    "refund refused while open, closed twice": (
        [("created", T), ("refused", 1), ("lost",), ("lost",)],
        T,
        0,
    ),
    "closed before it was created": ([("lost",), ("created", T)], T, 0),
    "the undisputed part refunded while open": (
        [("created", 5000), ("refund", T - 5000), ("refused", 1), ("lost",)],
        T,
        0,
    ),
    "lost after a failed refund": (
        [("refund", T), ("refund_failed",), ("created", T), ("lost",)],
        T,
        0,
    ),
    "won twice": ([("created", T), ("won",), ("won",)], 0, 0),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_a_dispute_closes_in_every_order_of_events_and_the_money_goes_back_once(
    app, client, gateway, order
):
    steps, owed, written_off = ORDERS[order]
    account_id, payment_id = _paid_by_card(app, client, gateway)
    _play(app, client, gateway, payment_id, steps)
    with app.app_context():
        session = db.session
        payment = session.get(Payment, payment_id)
        failed = session.scalars(
            sa.select(StripeEvent.id).where(StripeEvent.status == EventStatus.FAILED)
        ).all()
        assert failed == []
        disputes = session.scalars(sa.select(Dispute)).all()
        assert len(disputes) == 1 and disputes[0].status != DisputeStatus.OPEN
        refunded = sum(
            r.amount_cents
            for r in session.scalars(sa.select(Refund)).all()
            if r.status.value != "failed"
        )
        lost = disputes[0].amount_cents if disputes[0].status == DisputeStatus.LOST else 0
        # the card's money: what Stripe holds is what was paid less what went back, once each
        assert gl_balance(session, chart.STRIPE_CLEARING) == T - refunded - lost
        assert gl_balance(session, chart.DISPUTED_FUNDS) == 0
        assert gl_balance(session, chart.WRITE_OFFS) == written_off
        # the bill is right: it owes what was given back, and the account keeps no stray credit
        assert account_receivable(session, account_id) == owed
        assert account_credit(session, account_id) == 0
        assert sum(session.scalars(sa.select(Invoice.balance_cents))) == owed
        assert refundable_cents(session, payment) == max(T - refunded - lost, 0)
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents
        assert verify_chain(session).ok


def test_an_open_dispute_holds_its_part_of_the_payment_from_refunds(app, client, gateway):
    _, payment_id = _paid_by_card(app, client, gateway)
    with app.app_context():
        deliver(client, _dispute_event(payment_id, "created", 4000, "needs_response"))
    with app.app_context(), pytest.raises(PaymentRefused) as refused:
        refund_payment(
            db.session,
            SUPERVISOR,
            db.session.get(Payment, payment_id),
            amount_cents=T,
            reason="paid by mistake",
            on=DAY,
            gateway=gateway,
        )
    assert refused.value.message == (
        "4000 cents of this payment are held by an open dispute; "
        f"at most {T - 4000} cents can be refunded until the dispute is closed"
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0
        assert refundable_cents(db.session, db.session.get(Payment, payment_id)) == T - 4000


@pytest.mark.parametrize("first", [1000, T])
def test_a_payment_whose_refund_failed_is_refunded_again(app, client, gateway, first):
    account_id, payment_id = _paid_by_card(app, client, gateway)
    stripe_refund_id = _refund(app, gateway, payment_id, first)
    assert deliver(client, _refund_failed_event(stripe_refund_id)).get_json()["status"] == (
        "processed"
    )
    with app.app_context():
        # the money never left: the bill stays re-opened, the account holds it as credit
        assert account_credit(db.session, account_id) == first
        assert account_receivable(db.session, account_id) == first
    again = _refund(app, gateway, payment_id, first)
    assert again
    with app.app_context():
        session = db.session
        # given back once: the credit goes, the bill owes what was refunded, no more
        assert account_credit(session, account_id) == 0
        assert account_receivable(session, account_id) == first
        assert sum(session.scalars(sa.select(Invoice.balance_cents))) == first
        assert gl_balance(session, chart.STRIPE_CLEARING) == T - first
        assert refundable_cents(session, session.get(Payment, payment_id)) == T - first
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents
        assert verify_chain(session).ok


def test_two_tellings_of_a_new_dispute_record_it_once(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        deliver(
            client, intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
        )
        created = _dispute_event(payment_id, "created", T, "needs_response")
        store_event(db.session, created)
        store_event(db.session, {**created, "id": created["id"] + "_again"})
        db.session.commit()
        assert process_alone(db.session, created["id"], ZONE)
        assert process_alone(db.session, created["id"] + "_again", ZONE)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1
        assert gl_balance(db.session, chart.DISPUTED_FUNDS) == T
        statuses = set(db.session.scalars(sa.select(StripeEvent.status)))
        assert statuses == {EventStatus.PROCESSED}


@pytest.mark.postgres
def test_two_tellings_of_a_new_dispute_at_the_same_moment_record_it_once(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        deliver(
            client, intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
        )
        created = _dispute_event(payment_id, "created", T, "needs_response")
        store_event(db.session, {**created, "id": created["id"] + "_again"})
        db.session.commit()
    outcome: list = []
    with app.app_context(), Session(db.engine) as first:
        # the first telling has recorded the dispute and not committed yet...
        open_dispute(
            first,
            STRIPE,
            first.get(Payment, payment_id),
            stripe_id=created["data"]["object"]["id"],
            amount_cents=T,
            reason="fraudulent",
            on=DAY,
        )
        pid = []

        def second() -> None:
            with app.app_context(), Session(db.engine) as own:
                pid.append(own.scalar(sa.text("select pg_backend_pid()")))
                outcome.append(process_alone(own, created["id"] + "_again", ZONE))

        thread = threading.Thread(target=second)
        thread.start()
        # ...when the second telling arrives and waits for it
        waiting = False
        while thread.is_alive() and not waiting:
            waiting = (
                bool(pid)
                and first.connection()
                .exec_driver_sql(
                    "select 1 from pg_stat_activity where pid = %s and wait_event_type = 'Lock'",
                    (pid[0],),
                )
                .first()
                is not None
            )
            if not waiting:
                thread.join(timeout=0.05)
        first.commit()
        thread.join(timeout=60)
    assert waiting and outcome == [True]
    with app.app_context():
        session = db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1
        assert gl_balance(session, chart.DISPUTED_FUNDS) == T
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.source_type == "dispute")
            )
            == 1
        )
        row = session.get(StripeEvent, created["id"] + "_again")
        assert (row.status, row.error) == (EventStatus.PROCESSED, None)
