"""Reconciliation settles what lost webhooks left open and flags every other mismatch once."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa

from billing.models import Invoice, InvoiceStatus
from core.audit import Actor
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from ledger import chart
from ledger.balances import account_receivable, gl_balance
from ledger.verify import verify_chain
from payments.gateway import StripePayout
from payments.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    Receipt,
    ReconciliationItem,
    ReconciliationKind,
    StripeEvent,
)
from payments.reconcile import reconcile
from payments.webhooks import store_event
from scheduler import SCHEDULE
from tests.payments.test_webhooks import TOTAL, _payment, _town

RECONCILE = find(SCHEDULE, "reconcile_stripe")


def _charge(app, gateway, payment_id, *, metadata=None):
    """Charge the payment at localstripe; no webhook reaches us."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        intent = gateway.create_payment_intent(
            amount_cents=payment.amount_cents,
            currency="usd",
            customer_id=None,
            metadata={"payment_id": str(payment_id)} if metadata is None else metadata,
            idempotency_key=f"reconcile-{payment_id}",
            payment_method="pm_card_visa",
            confirm=True,
        )
        payment.stripe_payment_intent_id = intent.id
        db.session.commit()
        return intent.id


def _items(app) -> list[tuple[ReconciliationKind, int | None]]:
    with app.app_context():
        return [
            (item.kind, item.payment_id)
            for item in db.session.scalars(
                sa.select(ReconciliationItem).order_by(ReconciliationItem.id)
            )
        ]


def test_a_success_whose_webhook_was_lost_is_settled_once(app, gateway, stripe_settings):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _charge(app, gateway, payment_id)
    first = run_entry(app, RECONCILE)
    assert first.status == JobStatus.SUCCEEDED, first.error
    # the lost success event is replayed as the receiver would have handled it
    assert (first.counts["events_replayed"], first.counts["flagged"]) == (1, 0)
    with app.app_context():
        event = db.session.scalar(
            sa.select(StripeEvent).where(StripeEvent.type == "payment_intent.succeeded")
        )
        assert event.status == EventStatus.PROCESSED
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
        assert account_receivable(db.session, account_id) == 0
    again = run_entry(app, RECONCILE)
    assert (again.counts["events_replayed"], again.counts["recovered"]) == (0, 0)
    assert again.counts["matched"] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1
        assert verify_chain(db.session).length == 2
    assert _items(app) == []


def test_each_mismatch_becomes_one_item_however_often_it_is_found(app, gateway, stripe_settings):
    app.config.update(stripe_settings)
    accounts = _town(app, households=4)
    changed, failed, refunded, unknown = (_payment(app, a) for a in accounts)
    for payment_id in (changed, failed, refunded):
        _charge(app, gateway, payment_id)
    with app.app_context():
        # the success of `failed` did reach us, yet our record says failed (the case to flag)
        intent = db.session.get(Payment, failed).stripe_payment_intent_id
        (event,) = [
            e
            for e in gateway.list_events(types=["payment_intent.succeeded"])
            if e.data_object["id"] == intent
        ]
        store_event(db.session, event.payload)
        db.session.get(StripeEvent, event.id).status = EventStatus.PROCESSED
        db.session.get(Payment, changed).amount_cents = TOTAL - 100  # changed behind our back
        db.session.get(Payment, failed).status = PaymentStatus.FAILED
        db.session.get(Payment, unknown).stripe_payment_intent_id = "pi_nobody_knows"
        db.session.commit()
    first = run_entry(app, RECONCILE)
    assert first.status == JobStatus.SUCCEEDED, first.error
    # the third is a lost webhook: settled; then a refund made at Stripe, not by us
    with app.app_context():
        intent = db.session.get(Payment, refunded).stripe_payment_intent_id
    gateway.create_refund(payment_intent_id=intent, amount_cents=500, idempotency_key="outside")
    stranger = gateway.create_payment_intent(
        amount_cents=4200,
        currency="usd",
        customer_id=None,
        metadata={"account_number": "99999999"},
        idempotency_key="stranger",
        payment_method="pm_card_visa",
        confirm=True,
    )
    for _ in range(2):
        run = run_entry(app, RECONCILE)
        assert run.status == JobStatus.SUCCEEDED, run.error
    items = _items(app)
    assert sorted((kind.value, payment) for kind, payment in items) == sorted(
        [
            ("amount_mismatch", changed),
            ("failed_here", failed),
            ("unknown_to_stripe", unknown),
            ("refund_not_recorded", refunded),
            ("unknown_here", None),
        ]
    )
    with app.app_context():
        stray = db.session.scalar(
            sa.select(ReconciliationItem).where(ReconciliationItem.kind == "unknown_here")
        )
        assert stray.stripe_id == stranger.id and stray.theirs["amount_cents"] == 4200
        assert stray.suggestion and stray.status.value == "open"
        assert (
            db.session.get(Payment, changed).status == PaymentStatus.PENDING
        )  # never settled blindly
        assert db.session.get(Payment, refunded).status == PaymentStatus.SUCCEEDED
        assert verify_chain(db.session).ok


def test_a_dry_run_reports_and_changes_nothing(app, gateway, stripe_settings):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _charge(app, gateway, payment_id)
    dry = run_entry(app, RECONCILE, dry_run=True)
    assert (dry.counts["events_replayed"], dry.counts["recovered"]) == (1, 1)
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 0


def test_clerks_work_the_queue_through_the_api(app, client, api_headers, gateway, stripe_settings):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        db.session.get(Payment, payment_id).stripe_payment_intent_id = "pi_nobody_knows"
        db.session.commit()
    run_entry(app, RECONCILE)
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    (item,) = client.get("/api/v1/reconciliation-items?status=open", headers=auditor).get_json()
    assert item["kind"] == "unknown_to_stripe" and item["payment_id"] == payment_id
    path = f"/api/v1/reconciliation-items/{item['id']}/resolve"
    assert client.post(path, json={"resolution": "canceled"}, headers=auditor).status_code == 403
    assert client.post(path, json={"resolution": "no"}, headers=clerk).status_code == 422
    done = client.post(path, json={"resolution": "canceled here, nothing charged"}, headers=clerk)
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert client.post(path, json={"resolution": "again please"}, headers=clerk).status_code == 409
    assert client.get("/api/v1/reconciliation-items?status=open", headers=auditor).get_json() == []


class PayoutsOnly:
    """A Stripe that has paid out and done nothing else (localstripe links no transactions to payouts)."""

    def __init__(self, payouts, totals):
        self.payouts, self.totals = payouts, totals

    def list_events(self, **_):
        return []

    def list_payment_intents(self, **_):
        return []

    def list_refunds(self):
        return []

    def list_payouts(self, **_):
        return self.payouts

    def payout_transactions_total(self, payout_id):
        return self.totals[payout_id]


def test_paid_payouts_reach_the_bank_once_and_one_that_does_not_add_up_is_flagged(app):
    def payout(pid, cents, currency="usd", status="paid"):
        moment = datetime(2026, 11, 20, 12, tzinfo=UTC)
        return StripePayout(pid, cents, currency, status, moment, moment)

    stripe = PayoutsOnly(
        [
            payout("po_fine", 10000),
            payout("po_unknown_total", 2500),
            payout("po_short", 5000),
            payout("po_euro", 700, currency="eur"),
            payout("po_pending", 900, status="pending"),
        ],
        {"po_fine": 10000, "po_unknown_total": None, "po_short": 4900, "po_euro": 700},
    )
    with app.app_context():
        for _ in range(2):
            report = reconcile(
                db.session,
                stripe,
                Actor.job("reconcile_stripe"),
                as_of=date(2026, 11, 26),
                currency="usd",
                zone=ZoneInfo("America/Chicago"),
            )
        assert (report["payouts_posted"], report["flagged"]) == (0, 0)  # the second run
        assert gl_balance(db.session, chart.BANK) == 12500
        items = db.session.scalars(
            sa.select(ReconciliationItem).order_by(ReconciliationItem.stripe_id)
        ).all()
        assert [(i.kind.value, i.stripe_id) for i in items] == [
            ("payout_mismatch", "po_euro"),
            ("payout_mismatch", "po_short"),
        ]
        assert items[1].theirs["transactions_total_cents"] == 4900
        assert verify_chain(db.session).ok


def test_a_payout_localstripe_made_is_read_and_checked(app, stripe_settings):
    app.config.update(stripe_settings)
    made = requests.post(
        f"{stripe_settings['STRIPE_API_BASE']}/v1/payouts",
        data={"amount": 1234, "currency": "eur", "status": "paid"},
        auth=(stripe_settings["STRIPE_SECRET_KEY"], ""),
        timeout=10,
    )
    assert made.status_code == 200, made.text
    for _ in range(2):
        run = run_entry(app, RECONCILE)
        assert run.status == JobStatus.SUCCEEDED, run.error
    # localstripe pays out only in euros: not our currency, so it waits for a clerk, once
    assert _items(app) == [(ReconciliationKind.PAYOUT_MISMATCH, None)]
