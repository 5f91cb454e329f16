"""Webhooks settle a payment exactly once, whatever order and however often events arrive."""

import threading
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import Invoice, InvoiceKind, InvoiceStatus, Settlement
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.models import (
    Channel,
    EventStatus,
    Payment,
    PaymentStatus,
    Receipt,
    StripeEvent,
    Tender,
)
from payments.services import PaymentRefused, record_payment, settle_payment
from payments.webhooks import retry_delay, settle_waiting, store_event
from tests.billing.billing_fixtures import household, load_rules
from tests.payments.signing import deliver, intent_event, signed

#: The town's zone in the tests (MUNICIPALITY_TIMEZONE's default).
ZONE = ZoneInfo("America/Chicago")

RESIDENT = Actor("resident", None, "quick pay", "127.0.0.1")
TOTAL = 10784  # the October bill of the test household


def _town(app, households=1):
    """Billed households; returns their account ids."""
    with app.app_context():
        plans = load_rules(db.session)
        ids = [
            household(db.session, plans, f"h{n}", [1000, 5000, 9000, 13000, 18400]).id
            for n in range(households)
        ]
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        return ids


def _payment(app, account_id, cents=TOTAL, numbers=()):
    with app.app_context():
        account = db.session.get(Account, account_id)
        payment = record_payment(
            db.session,
            RESIDENT,
            account=account,
            amount_cents=cents,
            invoice_numbers=list(numbers),
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        payment.stripe_payment_intent_id = f"pi_test_{payment.id}"
        db.session.commit()
        return payment.id


def _event(app, kind, payment_id, **kwargs):
    with app.app_context():
        return intent_event(kind, db.session.get(Payment, payment_id), **kwargs)


def test_a_verified_success_settles_the_bill_and_a_second_delivery_changes_nothing(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    event = _event(app, "payment_intent.succeeded", payment_id)
    first = deliver(client, event)
    assert first.status_code == 200 and first.get_json() == {
        "received": True,
        "duplicate": False,
        "status": "received",
    }  # answered once stored; settled right after the answer
    again = deliver(client, event)
    assert again.status_code == 200 and again.get_json() == {
        "received": True,
        "duplicate": True,
        "status": "processed",
    }
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.PAID, 0)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        receipt = db.session.scalar(sa.select(Receipt))
        assert receipt.number.startswith("R-") and receipt.balance_after_cents == 0
        assert receipt.paid == [
            {"invoice": invoice.number, "installment": 0, "category": "principal", "cents": TOTAL}
        ]
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL
        assert account_receivable(db.session, account_id) == 0
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Settlement)
                .where(Settlement.kind == "payment")
            )
            == 3
        )  # water, sewer and trash receivables
        assert verify_chain(db.session).ok


@pytest.mark.parametrize("problem", ["tampered", "wrong secret", "stale", "missing"])
def test_a_bad_signature_is_refused_and_changes_nothing(app, client, problem):
    (account_id,) = _town(app)
    event = _event(app, "payment_intent.succeeded", _payment(app, account_id))
    body, headers = signed(
        event,
        secret="whsec_other"
        if problem == "wrong secret"
        else "whsec_test_secret_for_signing_events",
        timestamp=1_000_000 if problem == "stale" else None,
    )
    if problem == "tampered":
        body = body.replace(b'"amount": 10784', b'"amount": 1')
    if problem == "missing":
        headers.pop("Stripe-Signature")
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400 and "errors" in response.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 0
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.OPEN


def test_a_failure_after_a_success_changes_nothing_and_before_it_is_overtaken(app, client):
    account_a, account_b = _town(app, 2)
    late, early = _payment(app, account_a), _payment(app, account_b)
    declined = {
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
    deliver(client, _event(app, "payment_intent.succeeded", late))
    deliver(client, _event(app, "payment_intent.payment_failed", late, error=declined))
    deliver(client, _event(app, "payment_intent.payment_failed", early, error=declined))
    with app.app_context():
        assert db.session.get(Payment, early).failure_code == "generic_decline"
    deliver(client, _event(app, "payment_intent.succeeded", early))
    with app.app_context():
        for payment_id in (late, early):
            payment = db.session.get(Payment, payment_id)
            assert payment.status == PaymentStatus.SUCCEEDED and payment.failure_code is None
        assert db.session.scalar(sa.select(sa.func.count()).where(Invoice.status == "paid")) == 2


def test_processing_is_pending_not_paid_and_cancel_leaves_the_bill_open(app, client):
    account_a, account_b = _town(app, 2)
    slow, dropped = _payment(app, account_a), _payment(app, account_b)
    deliver(client, _event(app, "payment_intent.processing", slow))
    deliver(client, _event(app, "payment_intent.canceled", dropped))
    with app.app_context():
        assert db.session.get(Payment, slow).status == PaymentStatus.PROCESSING
        assert db.session.get(Payment, dropped).status == PaymentStatus.CANCELED
        assert set(db.session.scalars(sa.select(Invoice.status))) == {InvoiceStatus.OPEN}


def test_unknown_and_unmatched_events_are_kept_and_acknowledged(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    unknown = {
        "id": "evt_customer",
        "type": "customer.created",
        "created": 1,
        "data": {"object": {"id": "cus_1"}},
    }
    assert deliver(client, unknown).get_json()["status"] == "ignored"
    stranger = _event(app, "payment_intent.succeeded", payment_id, intent_id="pi_someone_else")
    stranger["data"]["object"]["metadata"] = {}
    assert deliver(client, stranger).status_code == 200
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(StripeEvent.id, StripeEvent.status)).all())
        assert statuses == {
            "evt_customer": EventStatus.IGNORED,
            stranger["id"]: EventStatus.UNMATCHED,
        }


def test_a_success_that_cannot_be_settled_is_kept_with_its_error_and_tried_again_later(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    event = _event(app, "payment_intent.succeeded", payment_id, amount=TOTAL - 1)
    assert deliver(client, event).status_code == 200  # stored: Stripe need not send it again
    with app.app_context():
        stored = db.session.get(StripeEvent, event["id"])
        assert stored.status == EventStatus.FAILED and "10783" in stored.error
        assert stored.attempts == 1
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
        assert verify_chain(db.session).length == 1  # only the invoice
        assert settle_waiting(db.session, batch=10, zone=ZONE) == 0  # not due again yet
        stored = db.session.get(StripeEvent, event["id"])
        stored.processed_at -= retry_delay(stored.attempts)
        db.session.commit()
        assert settle_waiting(db.session, batch=10, zone=ZONE) == 1
        stored = db.session.get(StripeEvent, event["id"])
        assert (stored.status, stored.attempts) == (EventStatus.FAILED, 2)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def test_one_success_that_fails_does_not_hold_back_the_others_waiting_with_it(app):
    accounts = _town(app, households=3)
    payments = [_payment(app, account_id) for account_id in accounts]
    events = [_event(app, "payment_intent.succeeded", p) for p in payments]
    events[1]["data"]["object"]["amount_received"] = TOTAL + 1
    with app.app_context():
        for event in events:
            assert store_event(db.session, event)
        db.session.commit()
        assert settle_waiting(db.session, batch=10, zone=ZONE) == 3
        statuses = [db.session.get(Payment, p).status for p in payments]
        assert statuses == [PaymentStatus.SUCCEEDED, PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]
        assert [db.session.get(StripeEvent, e["id"]).status for e in events] == [
            EventStatus.PROCESSED,
            EventStatus.FAILED,
            EventStatus.PROCESSED,
        ]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 2
        report = trial_balance(db.session)
        assert verify_chain(db.session).ok
        assert report.total_debit_cents == report.total_credit_cents


def test_a_batch_settles_exactly_as_one_at_a_time(app):
    accounts = _town(app, households=2)
    # two payments for the first account (the second one finds the bill paid: credit) and one partial
    payments = [
        _payment(app, accounts[0]),
        _payment(app, accounts[0], cents=2000),
        _payment(app, accounts[1], cents=5000),
    ]
    with app.app_context():
        for payment_id in payments:
            store_event(
                db.session,
                intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id)),
            )
        db.session.commit()
        assert settle_waiting(db.session, batch=10, zone=ZONE) == 3
        receipts = db.session.scalars(sa.select(Receipt).order_by(Receipt.payment_id)).all()
        assert [r.credit_cents for r in receipts] == [0, 2000, 0]
        assert [r.balance_after_cents for r in receipts] == [0, 0, TOTAL - 5000]
        numbers = [int(r.number.rsplit("-", 1)[1]) for r in receipts]
        assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
        assert account_credit(db.session, accounts[0]) == 2000
        assert account_receivable(db.session, accounts[1]) == TOTAL - 5000
        invoices = db.session.scalars(sa.select(Invoice).order_by(Invoice.account_id)).all()
        assert [i.status for i in invoices] == [InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID]
        report = trial_balance(db.session)
        assert verify_chain(db.session).ok
        assert report.total_debit_cents == report.total_credit_cents


def test_an_event_whose_handler_fails_is_kept_with_its_error_and_answered_500(
    app, client, api_headers
):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    deliver(client, _event(app, "payment_intent.succeeded", payment_id))
    dispute = {
        "id": "evt_dispute_without_amount",
        "type": "charge.dispute.created",
        "created": 1_795_000_000,
        "data": {"object": {"id": "dp_1", "payment_intent": f"pi_test_{payment_id}"}},
    }  # a malformed dispute: its handler raises
    assert deliver(client, dispute).status_code == 500
    with app.app_context():
        stored = db.session.get(StripeEvent, dispute["id"])
        assert stored.status == EventStatus.FAILED and "amount" in stored.error
    listed = client.get("/api/v1/webhook-events?status=failed", headers=api_headers("auditor"))
    assert [(e["id"], e["attempts"]) for e in listed.get_json()] == [(dispute["id"], 1)]
    assert "amount" in listed.get_json()[0]["error"]  # the clerks see why
    with app.app_context():
        assert verify_chain(db.session).length == 2  # the invoice and the payment


def test_a_partial_payment_leaves_the_bill_partly_paid(app, client):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id, cents=5000)
    deliver(client, _event(app, "payment_intent.succeeded", payment_id))
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert (invoice.status, invoice.balance_cents) == (
            InvoiceStatus.PARTIALLY_PAID,
            TOTAL - 5000,
        )
        assert account_receivable(db.session, account_id) == TOTAL - 5000


@pytest.mark.parametrize(
    ("cents", "numbers", "field"),
    [
        (0, (), "amount_cents"),
        (-5, (), "amount_cents"),
        (TOTAL + 1, (), "amount_cents"),
        ("12", (), "amount_cents"),
        (50, (), "amount_cents"),
        (100, ("2026-999999",), "invoices"),
    ],
)
def test_bad_amounts_and_other_accounts_bills_are_refused_and_nothing_is_recorded(
    app, cents, numbers, field
):
    (account_id,) = _town(app)
    with app.app_context():
        account = db.session.get(Account, account_id)
        with pytest.raises(PaymentRefused) as refused:
            record_payment(
                db.session,
                RESIDENT,
                account=account,
                amount_cents=cents,
                invoice_numbers=list(numbers),
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )
        assert refused.value.field == field
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_another_accounts_invoice_and_a_closed_invoice_are_refused(app, client):
    account_a, account_b = _town(app, 2)
    with app.app_context():
        theirs = db.session.scalar(sa.select(Invoice.number).where(Invoice.account_id == account_b))
        account = db.session.get(Account, account_a)
        with pytest.raises(PaymentRefused, match="is not a bill of account"):
            record_payment(
                db.session,
                RESIDENT,
                account=account,
                amount_cents=100,
                invoice_numbers=[theirs],
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )
    deliver(client, _event(app, "payment_intent.succeeded", _payment(app, account_b)))
    with app.app_context(), pytest.raises(PaymentRefused, match="is paid"):
        record_payment(
            db.session,
            RESIDENT,
            account=db.session.get(Account, account_b),
            amount_cents=100,
            invoice_numbers=[theirs],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )


@pytest.mark.postgres
def test_two_payments_settling_at_the_same_moment_leave_one_paid_bill_and_credit(app):
    (account_id,) = _town(app)
    first, second = _payment(app, account_id), _payment(app, account_id)
    barrier, errors = threading.Barrier(2), []

    def settle(payment_id: int) -> None:
        try:
            with app.app_context(), Session(db.engine) as own:
                barrier.wait()
                settle_payment(
                    own,
                    RESIDENT,
                    own.get(Payment, payment_id),
                    on=date(2026, 11, 10),
                    cash_gl=chart.STRIPE_CLEARING,
                )
                own.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=settle, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.PAID, 0)
        assert account_credit(db.session, account_id) == TOTAL
        report = trial_balance(db.session)
        assert report.total_debit_cents == report.total_credit_cents
        assert verify_chain(db.session).ok


def test_a_bill_chosen_twice_counts_once(app):
    (account_id,) = _town(app)
    with app.app_context():
        number = db.session.scalar(sa.select(Invoice.number))
        with pytest.raises(PaymentRefused, match="the most you can pay is \\$107.84"):
            record_payment(
                db.session,
                RESIDENT,
                account=db.session.get(Account, account_id),
                amount_cents=2 * TOTAL,
                invoice_numbers=[number, number],
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )


@pytest.mark.postgres
def test_settlers_running_side_by_side_settle_every_waiting_success_once(app):
    accounts = _town(app, households=6)
    payments = [_payment(app, account_id, cents=2500) for account_id in accounts for _ in range(2)]
    with app.app_context():
        for payment_id in payments:
            event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
            store_event(db.session, event)
            store_event(db.session, {**event, "id": event["id"] + "_again"})  # Stripe sent it twice
        db.session.commit()
    barrier, errors, taken = threading.Barrier(4), [], []

    def settler() -> None:
        try:
            with app.app_context(), Session(db.engine) as own:
                barrier.wait()
                taken.append(settle_waiting(own, batch=3, zone=ZONE))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=settler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and sum(taken) == 2 * len(payments)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == len(payments)
        statuses = db.session.scalars(sa.select(StripeEvent.status)).all()
        assert set(statuses) == {EventStatus.PROCESSED}
        for account_id in accounts:
            assert account_receivable(db.session, account_id) == TOTAL - 5000
        report = trial_balance(db.session)
        assert report.total_debit_cents == report.total_credit_cents
        assert verify_chain(db.session).length == len(accounts) + len(payments)


def test_a_paid_payout_moves_its_amount_from_stripe_clearing_to_the_bank_once(app, client):
    (account_id,) = _town(app)
    deliver(client, _event(app, "payment_intent.succeeded", _payment(app, account_id)))

    def payout(event_id: str, **changes) -> dict:
        obj = {"id": "po_1", "object": "payout", "amount": 10000, "currency": "usd"}
        obj["arrival_date"] = 1_795_000_000
        return {
            "id": event_id,
            "type": "payout.paid",
            "created": 1_795_000_000,
            "data": {"object": {**obj, **changes}},
        }

    assert deliver(client, payout("evt_po_1")).get_json()["status"] == "processed"
    assert deliver(client, payout("evt_po_1")).get_json()["duplicate"] is True
    assert deliver(client, payout("evt_po_1_told_again")).get_json()["status"] == "processed"
    broken = deliver(client, payout("evt_po_2", id="po_2", amount=None))
    assert broken.status_code == 500
    with app.app_context():
        assert gl_balance(db.session, chart.BANK) == 10000
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL - 10000
        assert db.session.get(StripeEvent, "evt_po_2").status == EventStatus.FAILED
        entry = db.session.scalar(
            sa.select(JournalEntry).where(JournalEntry.source_type == "payout")
        )
        assert (entry.source_id, entry.entry_date) == ("po_1", date(2026, 11, 18))
        assert verify_chain(db.session).length == 3  # the invoice, the payment, the payout
