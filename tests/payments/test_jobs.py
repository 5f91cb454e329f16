"""The janitor finds what webhooks left behind; late fees are assessed once by the scheduled job."""

from datetime import timedelta

import sqlalchemy as sa

from billing.models import Invoice, InvoiceCharge, InvoiceStatus
from core.db import utcnow
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from ledger.balances import account_receivable
from ledger.verify import verify_chain
from payments.gateway import PaymentError
from payments.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    Receipt,
    ReconciliationItem,
    StripeEvent,
)
from payments.webhooks import RETRY_LIMIT, retry_delay, store_event
from scheduler import SCHEDULE
from tests.payments.signing import intent_event
from tests.payments.test_webhooks import TOTAL, _payment, _town

JANITOR = find(SCHEDULE, "janitor")


def _at_stripe(app, gateway, payment_id, payment_method="pm_card_visa"):
    """Charge the payment at localstripe (no webhook reaches us) and make it look an hour old."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        try:
            intent = gateway.create_payment_intent(
                amount_cents=payment.amount_cents,
                currency="usd",
                customer_id=None,
                metadata={"payment_id": str(payment_id)},
                idempotency_key=f"janitor-{payment_id}",
                payment_method=payment_method,
                confirm=True,
            )
            payment.stripe_payment_intent_id = intent.id
        except PaymentError as error:
            payment.stripe_payment_intent_id = error.payment_intent_id
        payment.created_at = utcnow() - timedelta(hours=1)
        db.session.commit()


def test_a_payment_stripe_took_while_webhooks_were_lost_is_settled_once(
    app, gateway, stripe_settings
):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _at_stripe(app, gateway, payment_id)
    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED and run.counts["settled"] == 1
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
        assert account_receivable(db.session, account_id) == 0
    again = run_entry(app, JANITOR)
    assert again.counts["settled"] == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1
        assert verify_chain(db.session).length == 2


def test_a_declined_payment_is_failed_and_an_abandoned_one_canceled(app, gateway, stripe_settings):
    app.config.update(stripe_settings)
    first, second = _town(app, households=2)
    declined, abandoned = _payment(app, first), _payment(app, second)
    _at_stripe(app, gateway, declined, payment_method="pm_card_chargeCustomerFail")
    with app.app_context():
        payment = db.session.get(Payment, abandoned)
        payment.stripe_payment_intent_id = None  # the resident never reached Stripe
        payment.created_at = utcnow() - timedelta(hours=30)
        db.session.commit()
    run = run_entry(app, JANITOR)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.counts["failed"], run.counts["canceled"]) == (1, 1)
    with app.app_context():
        failed = db.session.get(Payment, declined)
        assert failed.status == PaymentStatus.FAILED and failed.failure_message
        assert db.session.get(Payment, abandoned).status == PaymentStatus.CANCELED
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(Invoice.status == InvoiceStatus.OPEN)
            )
            == 2
        )


def test_a_stored_success_no_receiver_settled_is_settled_by_the_janitor(app):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        store_event(
            db.session,
            intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id)),
        )
        db.session.commit()  # stored, then the receiving worker died
    run = run_entry(app, JANITOR)
    assert run.counts["events_settled"] == 1
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED


def test_a_janitor_that_cannot_reach_stripe_fails_its_run_and_the_next_one_recovers(
    app, gateway, stripe_settings
):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    app.config.update(stripe_settings)
    _at_stripe(app, gateway, payment_id)
    app.config.update(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_MAX_NETWORK_RETRIES=0)
    down = run_entry(app, JANITOR)
    assert down.status == JobStatus.FAILED and "PaymentError" in down.error
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
    app.config.update(stripe_settings)
    up = run_entry(app, JANITOR)
    assert up.status == JobStatus.SUCCEEDED and up.counts["settled"] == 1


def test_late_fees_are_assessed_once_by_the_job_and_a_dry_run_changes_nothing(app, runner):
    (account_id,) = _town(app)
    dry = runner.invoke(
        args=["jobs", "run", "assess_late_fees", "--as-of", "2026-12-31", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge)) == 0
    first = runner.invoke(args=["jobs", "run", "assess_late_fees", "--as-of", "2026-12-31"])
    assert first.exit_code == 0 and "'charges': 0" not in first.output, first.output
    with app.app_context():
        charges = db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge))
        owed = account_receivable(db.session, account_id)
        assert charges > 0 and owed > TOTAL
    again = runner.invoke(args=["jobs", "run", "assess_late_fees", "--as-of", "2026-12-31"])
    assert "'charges': 0" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge)) == charges
        assert account_receivable(db.session, account_id) == owed
        assert verify_chain(db.session).ok


def test_a_stale_payment_stripe_does_not_know_is_flagged_once(app, stripe_settings):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)  # names pi_test_<id>, which Stripe never made
    with app.app_context():
        db.session.get(Payment, payment_id).created_at = utcnow() - timedelta(hours=2)
        db.session.commit()
    for _ in range(2):
        run = run_entry(app, JANITOR)
        assert run.status == JobStatus.SUCCEEDED, run.error
        assert run.counts["unknown_at_stripe"] == 1
    with app.app_context():
        (item,) = db.session.scalars(sa.select(ReconciliationItem)).all()
        assert (item.kind.value, item.payment_id) == ("unknown_to_stripe", payment_id)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def test_an_event_that_keeps_failing_is_retried_then_flagged_once(app):
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        event = intent_event(
            "payment_intent.succeeded", db.session.get(Payment, payment_id), amount=TOTAL + 1
        )
        store_event(db.session, event)
        db.session.commit()
    attempts = []
    for _ in range(RETRY_LIMIT + 2):
        run_entry(app, JANITOR)
        with app.app_context():
            stored = db.session.get(StripeEvent, event["id"])
            attempts.append(stored.attempts)
            stored.processed_at -= retry_delay(stored.attempts)  # as if its wait had passed
            db.session.commit()
    assert attempts[-1] == RETRY_LIMIT  # tried up to the limit, then left for a clerk
    with app.app_context():
        assert db.session.get(StripeEvent, event["id"]).status == EventStatus.FAILED
        (item,) = db.session.scalars(sa.select(ReconciliationItem)).all()
        assert (item.kind.value, item.stripe_id) == ("event_failed", event["id"])
        assert "received" in item.ours["error"] and item.ours["attempts"] == RETRY_LIMIT
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
