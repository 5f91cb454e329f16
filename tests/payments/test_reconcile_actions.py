"""The reconciliation queue's actions: each makes our books say what Stripe says, closes its
item once, is audited, and leaves Stripe clearing equal to what Stripe holds for us."""

from __future__ import annotations

import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from core.models import AuditEvent, JobStatus
from core.scheduling import run_entry
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance
from ledger.verify import verify_chain
from payments.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    ReconciliationItem,
    ReconciliationKind,
    ReconciliationStatus,
    Refund,
    StripeEvent,
)
from payments.webhooks import store_event
from tests.conftest import csrf_token, sign_in
from tests.payments.test_reconcile import RECONCILE, _charge
from tests.payments.test_webhooks import TOTAL, _payment, _town


def _stranger(gateway, cents: int, key: str) -> str:
    """Money Stripe took naming no payment of ours (a payment link made by hand, say)."""
    return gateway.create_payment_intent(
        amount_cents=cents,
        currency="usd",
        customer_id=None,
        metadata={"account_number": "unknown"},
        idempotency_key=key,
        payment_method="pm_card_visa",
        confirm=True,
    ).id


def _heard(app, gateway, payment_id: int) -> None:
    """The success event of the payment's intent reached us (so only reconciliation can find it)."""
    with app.app_context():
        intent = db.session.get(Payment, payment_id).stripe_payment_intent_id
        (event,) = [
            e
            for e in gateway.list_events(types=["payment_intent.succeeded"])
            if e.data_object["id"] == intent
        ]
        store_event(db.session, event.payload)
        db.session.get(StripeEvent, event.id).status = EventStatus.PROCESSED
        db.session.commit()


def _run(app) -> None:
    run = run_entry(app, RECONCILE)
    assert run.status == JobStatus.SUCCEEDED, run.error


def _item(app, kind: ReconciliationKind, stripe_id: str | None = None) -> int:
    with app.app_context():
        query = sa.select(ReconciliationItem.id).where(ReconciliationItem.kind == kind)
        if stripe_id is not None:
            query = query.where(ReconciliationItem.stripe_id == stripe_id)
        return db.session.scalar(query)


def _staff(app, make_staff, role: str):
    client = app.test_client()
    assert sign_in(client, make_staff(role)).status_code == 302
    return client


def _act(client, item_id: int, action: str, **fields):
    page = client.get(f"/staff/reconciliation/{item_id}").text
    path = {"refund": "refund", "write_off": "write-off"}.get(action, "act")
    return client.post(
        f"/staff/reconciliation/{item_id}/{path}",
        data={"csrf_token": csrf_token(page), "action": action, **fields},
    )


def _stripe_holds(gateway) -> int:
    """What Stripe holds for the town: every success less every refund."""
    taken = sum(i.amount_cents for i in gateway.list_payment_intents() if i.status == "succeeded")
    given = sum(r.amount_cents for r in gateway.list_refunds() if r.status == "succeeded")
    return taken - given


def _clearing_agrees(app, gateway) -> None:
    with app.app_context():
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == _stripe_holds(gateway)
        assert verify_chain(db.session).ok


def _resolved(app, item_id: int, action: str) -> ReconciliationItem:
    with app.app_context():
        item = db.session.get(ReconciliationItem, item_id)
        assert item.status == ReconciliationStatus.RESOLVED and item.action == action
        audited = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.object_type == "ReconciliationItem",
                AuditEvent.object_id == str(item_id),
            )
        ).all()
        assert f"reconciliation.{action}" in audited and "reconciliation.resolve" in audited
        db.session.expunge(item)
        return item


def test_a_payment_recorded_failed_that_stripe_took_is_settled_by_a_clerk_once(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    _charge(app, gateway, payment_id)
    _heard(app, gateway, payment_id)
    with app.app_context():
        db.session.get(Payment, payment_id).status = PaymentStatus.FAILED
        db.session.commit()
    _run(app)
    item_id = _item(app, ReconciliationKind.FAILED_HERE)
    auditor = _staff(app, make_staff, "auditor")
    assert "Settle the payment" not in auditor.get(f"/staff/reconciliation/{item_id}").text
    assert _act(auditor, item_id, "settle", reason="the resident paid").status_code == 403
    clerk = _staff(app, make_staff, "clerk")
    page = clerk.get(f"/staff/reconciliation/{item_id}").text
    assert "Settle the payment" in page and "<h3>Refund at Stripe" not in page
    assert "A supervisor can also: Refund at Stripe" in page
    assert _act(clerk, item_id, "refund", reason="give it back").status_code == 403
    short = _act(clerk, item_id, "settle", reason="ok")
    assert short.status_code == 422 and "Say why" in short.text
    done = _act(clerk, item_id, "settle", reason="Stripe shows the charge; the resident paid.")
    assert done.status_code == 303
    again = _act(clerk, item_id, "settle", reason="Stripe shows the charge; twice?")
    assert again.status_code == 409 and "was resolved by" in again.text
    item = _resolved(app, item_id, "settle")
    assert item.resolved_by.startswith("clerk-") and "receipt R-" in item.resolution
    history = clerk.get("/staff/reconciliation/").text
    assert "<td>settle</td>" in history and "the resident paid." in history
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert account_receivable(db.session, account_id) == 0
    _clearing_agrees(app, gateway)
    _run(app)  # the next run finds nothing new to flag
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconciliationItem)) == 1


def test_money_naming_no_payment_is_recorded_for_an_account_matched_or_refunded(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings)
    first, second = _town(app, households=2)
    over = _stranger(gateway, TOTAL + 1500, "over")  # more than the account owes
    stray = _stranger(gateway, 2500, "stray")
    pending = _payment(app, second, cents=4000)
    with app.app_context():
        db.session.get(Payment, pending).stripe_payment_intent_id = None  # lost before Stripe
        numbers = dict(db.session.execute(sa.select(Account.id, Account.number)).all())
        db.session.commit()
    _run(app)
    clerk = _staff(app, make_staff, "clerk")
    supervisor = _staff(app, make_staff, "supervisor")

    # recorded for the account it was paid for: the bill is paid and the rest is its credit
    over_item = _item(app, ReconciliationKind.UNKNOWN_HERE, over)
    nobody = _act(clerk, over_item, "record", account="00000000", reason="called the resident")
    assert nobody.status_code == 422 and "Name the account" in nobody.text
    done = _act(clerk, over_item, "record", account=numbers[first], reason="resident called in")
    assert done.status_code == 303
    _resolved(app, over_item, "record")
    with app.app_context():
        assert db.session.scalar(sa.select(Invoice.status).where(Invoice.account_id == first)) == (
            InvoiceStatus.PAID
        )
        assert account_credit(db.session, first) == 1500
        recorded = db.session.scalar(
            sa.select(Payment).where(Payment.stripe_payment_intent_id == over)
        )
        assert (recorded.account_id, recorded.amount_cents) == (first, TOTAL + 1500)

    # matched to the pending payment it was for (by another intent: refused; by number: settled)
    stray_item = _item(app, ReconciliationKind.UNKNOWN_HERE, stray)
    wrong_amount = _act(clerk, stray_item, "settle", payment=str(pending), reason="this one")
    assert wrong_amount.status_code == 422 and "record it as a payment instead" in wrong_amount.text
    with app.app_context():
        assert db.session.get(Payment, pending).status == PaymentStatus.PENDING

    # given back at Stripe by a supervisor: nothing enters the books, nothing is flagged next run
    assert _act(clerk, stray_item, "refund", reason="no such resident").status_code == 403
    refunded = _act(supervisor, stray_item, "refund", reason="No resident owns this payment.")
    assert refunded.status_code == 303
    item = _resolved(app, stray_item, "refund")
    assert item.stripe_refund_id and "$25.00 refunded at Stripe" in item.resolution
    assert [r.amount_cents for r in gateway.list_refunds()] == [2500]
    _clearing_agrees(app, gateway)
    _run(app)
    with app.app_context():
        kinds = db.session.scalars(sa.select(ReconciliationItem.kind)).all()
        assert ReconciliationKind.REFUND_NOT_RECORDED not in kinds


def test_a_pending_payment_is_matched_to_stripes_intent_and_settles(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings)
    (account_id,) = _town(app)
    intent = _stranger(gateway, 4000, "match")
    payment_id = _payment(app, account_id, cents=4000)
    with app.app_context():
        db.session.get(Payment, payment_id).stripe_payment_intent_id = None
        db.session.commit()
    _run(app)
    item_id = _item(app, ReconciliationKind.UNKNOWN_HERE, intent)
    clerk = _staff(app, make_staff, "clerk")
    missing = _act(clerk, item_id, "settle", payment="987654", reason="this one")
    assert missing.status_code == 422 and "no such payment" in missing.text
    done = _act(clerk, item_id, "settle", payment=str(payment_id), reason="same amount, same day")
    assert done.status_code == 303
    _resolved(app, item_id, "settle")
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.status, payment.stripe_payment_intent_id) == (
            PaymentStatus.SUCCEEDED,
            intent,
        )
        assert account_receivable(db.session, account_id) == TOTAL - 4000
    _clearing_agrees(app, gateway)


def _mismatched(app, gateway, account_id: int, *, stripe_took: int, ours: int) -> int:
    """A payment of ours for `ours` cents that Stripe charged `stripe_took` for; its item."""
    payment_id = _payment(app, account_id, cents=stripe_took)
    _charge(app, gateway, payment_id)
    _heard(app, gateway, payment_id)
    with app.app_context():
        db.session.get(Payment, payment_id).amount_cents = ours
        db.session.commit()
    _run(app)
    return payment_id


def test_an_amount_mismatch_is_settled_for_what_stripe_took_or_its_extra_refunded(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings)
    first, second = _town(app, households=2)
    took_more = _mismatched(app, gateway, first, stripe_took=TOTAL, ours=TOTAL - 700)
    extra = _mismatched(app, gateway, second, stripe_took=TOTAL, ours=TOTAL - 300)
    clerk = _staff(app, make_staff, "clerk")
    supervisor = _staff(app, make_staff, "supervisor")
    with app.app_context():
        more_item, extra_item = (
            db.session.scalar(
                sa.select(ReconciliationItem.id).where(ReconciliationItem.payment_id == p)
            )
            for p in (took_more, extra)
        )
    done = _act(clerk, more_item, "settle_taken", reason="the resident paid the whole bill")
    assert done.status_code == 303
    _resolved(app, more_item, "settle_taken")
    no_write_off = _act(supervisor, extra_item, "write_off", reason="small difference")
    assert no_write_off.status_code == 422 and "Stripe took more" in no_write_off.text
    refunded = _act(supervisor, extra_item, "refund", reason="charged $3.00 too much")
    assert refunded.status_code == 303
    _resolved(app, extra_item, "refund")
    with app.app_context():
        assert db.session.get(Payment, took_more).amount_cents == TOTAL
        assert account_receivable(db.session, first) == 0
        assert db.session.get(Payment, extra).status == PaymentStatus.SUCCEEDED
        assert account_receivable(db.session, second) == 300
    assert sorted(r.amount_cents for r in gateway.list_refunds()) == [300]
    _clearing_agrees(app, gateway)


def test_a_shortfall_is_written_off_only_by_a_supervisor_and_only_under_the_limit(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings, RECONCILIATION_WRITE_OFF_LIMIT_CENTS=500)
    first, second = _town(app, households=2)
    small = _mismatched(app, gateway, first, stripe_took=TOTAL - 40, ours=TOTAL)
    large = _mismatched(app, gateway, second, stripe_took=TOTAL - 900, ours=TOTAL)
    clerk = _staff(app, make_staff, "clerk")
    supervisor = _staff(app, make_staff, "supervisor")
    with app.app_context():
        small_item, large_item = (
            db.session.scalar(
                sa.select(ReconciliationItem.id).where(ReconciliationItem.payment_id == p)
            )
            for p in (small, large)
        )
    assert "action-write_off" not in clerk.get(f"/staff/reconciliation/{small_item}").text
    assert _act(clerk, small_item, "write_off", reason="forty cents").status_code == 403
    over = _act(supervisor, large_item, "write_off", reason="nine dollars short")
    assert over.status_code == 422 and "over the $5.00 that may be written off" in over.text
    with app.app_context():
        assert db.session.get(Payment, large).status == PaymentStatus.PENDING
    done = _act(supervisor, small_item, "write_off", reason="Stripe rounding, 40 cents")
    assert done.status_code == 303
    item = _resolved(app, small_item, "write_off")
    assert item.resolved_by.startswith("supervisor-") and "$0.40 written off" in item.resolution
    taken = _act(clerk, large_item, "settle_taken", reason="the resident owes the rest")
    assert taken.status_code == 303
    with app.app_context():
        assert account_receivable(db.session, first) == 0
        assert gl_balance(db.session, chart.WRITE_OFFS) == 40
        assert account_receivable(db.session, second) == 900
    _clearing_agrees(app, gateway)


def test_a_payment_stripe_never_knew_is_canceled_and_a_refund_made_at_stripe_is_booked(
    app, gateway, stripe_settings, make_staff
):
    app.config.update(stripe_settings)
    first, second = _town(app, households=2)
    unknown = _payment(app, first)
    with app.app_context():
        db.session.get(Payment, unknown).stripe_payment_intent_id = "pi_nobody_knows"
        db.session.commit()
    paid = _payment(app, second)
    intent = _charge(app, gateway, paid)
    _run(app)  # the lost success is settled
    gateway.create_refund(payment_intent_id=intent, amount_cents=500, idempotency_key="outside")
    _run(app)
    clerk = _staff(app, make_staff, "clerk")
    cancel_item = _item(app, ReconciliationKind.UNKNOWN_TO_STRIPE)
    assert _act(clerk, cancel_item, "cancel", reason="never reached Stripe").status_code == 303
    _resolved(app, cancel_item, "cancel")
    refund_item = _item(app, ReconciliationKind.REFUND_NOT_RECORDED)
    wrong = _act(clerk, refund_item, "settle", reason="not this action")
    assert wrong.status_code == 422 and "cannot be settled" in wrong.text
    booked = _act(clerk, refund_item, "record_refund", reason="refunded in the dashboard")
    assert booked.status_code == 303
    _resolved(app, refund_item, "record_refund")
    with app.app_context():
        assert db.session.get(Payment, unknown).status == PaymentStatus.CANCELED
        refund = db.session.scalar(sa.select(Refund))
        assert (refund.payment_id, refund.amount_cents) == (paid, 500)
        assert account_receivable(db.session, second) == 500  # the bill is open again for it
    _clearing_agrees(app, gateway)
