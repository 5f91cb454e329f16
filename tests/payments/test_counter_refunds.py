"""Counter payments into a clerk's drawer, the close-out, refunds and voids — never more than was paid."""

from datetime import date

import pytest
import sqlalchemy as sa

from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.verify import verify_chain
from payments.counter import close_drawer, open_drawer, take_counter_payment
from payments.models import Channel, Payment, PaymentStatus, Refund, RefundStatus, Tender
from payments.refunds import refund_payment, refundable_cents, void_counter_payment
from payments.services import PaymentRefused, record_payment, settle_payment
from tests.billing.billing_fixtures import household, load_rules
from tests.payments.signing import deliver

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
DAY = date(2026, 11, 10)
TOTAL = 10784


def _billed(session):
    account = household(session, load_rules(session), "olson", [1000, 5000, 9000, 13000, 18400])
    run = open_run(
        session,
        Actor.job("t"),
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, Actor.job("t"), RunOptions())
    return account


def _take(session, drawer, account, cents, tender=Tender.CASH, reference=None):
    return take_counter_payment(
        session,
        CLERK,
        drawer=drawer,
        account=account,
        amount_cents=cents,
        tender=tender,
        reference=reference,
        invoice_numbers=[],
        on=DAY,
    )


def test_cash_at_the_counter_settles_the_bill_with_a_receipt(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK, opening_float_cents=5000)
    receipt = _take(session, drawer, account, TOTAL)
    assert receipt.number == "R-2026-000001" and receipt.balance_after_cents == 0
    assert session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
    assert gl_balance(session, chart.CASH_DRAWER) == TOTAL


def test_a_check_needs_its_number_and_a_closed_drawer_takes_nothing(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK)
    with pytest.raises(PaymentRefused, match="check or money order number"):
        _take(session, drawer, account, 1000, Tender.CHECK)
    close_drawer(session, CLERK, drawer, counted_cents={}, on=DAY, approval_limit_cents=2000)
    with pytest.raises(PaymentRefused, match="open drawer"):
        _take(session, drawer, account, 1000)
    with pytest.raises(PaymentRefused, match="already have an open drawer"):
        open_drawer(session, CLERK)
        open_drawer(session, CLERK)


def test_the_close_out_shows_totals_by_tender_against_the_deposit(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK, opening_float_cents=5000)
    _take(session, drawer, account, 2000)
    _take(session, drawer, account, 3000, Tender.CHECK, "1042")
    _take(session, drawer, account, 1000, Tender.MONEY_ORDER, "MO-77")
    report = close_drawer(
        session,
        CLERK,
        drawer,
        counted_cents={"cash": 7000, "check": 3000, "money_order": 900},
        on=DAY,
        approval_limit_cents=2000,
    )
    assert report["expected_cents"] == {"cash": 7000, "check": 3000, "money_order": 1000}
    assert report["difference_cents"] == {"cash": 0, "check": 0, "money_order": -100}
    with pytest.raises(PaymentRefused, match="already closed"):
        close_drawer(session, CLERK, drawer, counted_cents={}, on=DAY, approval_limit_cents=2000)


def test_a_voided_counter_payment_reopens_the_bill_and_the_drawer_gives_it_back(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK)
    _take(session, drawer, account, 6000, Tender.CHECK, "2001")
    payment = session.scalar(sa.select(Payment))
    with pytest.raises(PaymentRefused, match="reason"):
        void_counter_payment(session, SUPERVISOR, payment, reason="", on=DAY)
    void_counter_payment(session, SUPERVISOR, payment, reason="check bounced", on=DAY)
    invoice = session.scalar(sa.select(Invoice))
    assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.OPEN, TOTAL)
    assert (
        account_receivable(session, account.id) == TOTAL
        and gl_balance(session, chart.CASH_DRAWER) == 0
    )
    assert payment.status == PaymentStatus.VOIDED
    assert close_drawer(
        session, CLERK, drawer, counted_cents={}, on=DAY, approval_limit_cents=2000
    )["voided_cents"] == {"check": 6000}
    assert verify_chain(session).ok


def test_a_counter_refund_reopens_the_newest_settled_part_and_owes_the_payer(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK)
    _take(session, drawer, account, TOTAL)
    payment = session.scalar(sa.select(Payment))
    with pytest.raises(PaymentRefused, match="at most 10784"):
        refund_payment(
            session, SUPERVISOR, payment, amount_cents=TOTAL + 1, reason="duplicate payment", on=DAY
        )
    refund = refund_payment(
        session, SUPERVISOR, payment, amount_cents=2000, reason="charged twice for trash", on=DAY
    )
    assert (
        refund.status == RefundStatus.SUCCEEDED
        and refundable_cents(session, payment) == TOTAL - 2000
    )
    invoice = session.scalar(sa.select(Invoice))
    assert (invoice.status, invoice.balance_cents) == (InvoiceStatus.PARTIALLY_PAID, 2000)
    assert gl_balance(session, chart.REFUNDS_PAYABLE) == 2000
    assert gl_balance(session, "1130") == 1825  # trash, the last line settled, is re-opened first
    refund_payment(
        session, SUPERVISOR, payment, amount_cents=TOTAL - 2000, reason="refund the rest", on=DAY
    )
    assert refundable_cents(session, payment) == 0
    with pytest.raises(PaymentRefused):
        refund_payment(session, SUPERVISOR, payment, amount_cents=1, reason="one cent more", on=DAY)
    assert account_receivable(session, account.id) == TOTAL
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents


def test_a_payment_that_became_credit_is_refunded_from_that_credit_first(session):
    account = _billed(session)
    drawer = open_drawer(session, CLERK)
    first = record_payment(
        session,
        CLERK,
        account=account,
        amount_cents=TOTAL,
        invoice_numbers=[],
        channel=Channel.COUNTER,
        tender=Tender.CASH,
        drawer=drawer,
    )
    second = record_payment(
        session,
        CLERK,
        account=account,
        amount_cents=TOTAL,
        invoice_numbers=[],
        channel=Channel.COUNTER,
        tender=Tender.CASH,
        drawer=drawer,
    )
    settle_payment(session, CLERK, first, on=DAY, cash_gl=chart.CASH_DRAWER)
    receipt = settle_payment(session, CLERK, second, on=DAY, cash_gl=chart.CASH_DRAWER)
    assert (receipt.credit_cents, receipt.paid) == (TOTAL, [])
    assert account_credit(session, account.id) == TOTAL
    refund_payment(
        session, SUPERVISOR, second, amount_cents=TOTAL, reason="paid twice at the counter", on=DAY
    )
    assert account_credit(session, account.id) == 0
    assert (
        session.scalar(sa.select(Invoice.status)) == InvoiceStatus.PAID
    )  # the bill stays paid by the first


def test_card_refunds_go_through_stripe_and_its_events_keep_them_current(app, client, gateway):
    from core.extensions import db
    from tests.payments.signing import intent_event
    from tests.payments.test_webhooks import _payment, _town

    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)
    with app.app_context():
        stripe_intent = gateway.create_payment_intent(
            amount_cents=TOTAL,
            currency="usd",
            customer_id=None,
            metadata={"payment_id": str(payment_id)},
            idempotency_key=f"t-{payment_id}",
            payment_method="pm_card_visa",
            confirm=True,
        )
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = stripe_intent.id
        db.session.commit()
        deliver(client, intent_event("payment_intent.succeeded", payment))
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        refund = refund_payment(
            db.session,
            SUPERVISOR,
            payment,
            amount_cents=1000,
            reason="billing error",
            on=DAY,
            gateway=gateway,
        )
        db.session.commit()
        assert refund.stripe_refund_id and refund.status == RefundStatus.SUCCEEDED
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL - 1000
        refund_id = refund.stripe_refund_id
    failed = {
        "id": "evt_refund_failed",
        "type": "refund.updated",
        "created": 1,
        "data": {"object": {"id": refund_id, "object": "refund", "status": "failed"}},
    }
    assert deliver(client, failed).get_json()["status"] == "processed"
    also_failed = {
        "id": "evt_charge_refund_failed",
        "type": "charge.refunded",
        "created": 2,
        "data": {
            "object": {
                "object": "charge",
                "refunds": {"data": [{"id": refund_id, "status": "failed"}]},
            }
        },
    }  # the same failure told again by another event: changes nothing more
    assert deliver(client, also_failed).get_json()["status"] == "processed"
    with app.app_context():
        # the money never left: back in Stripe clearing, held as the account's credit,
        # the bill stays re-opened and the whole payment is refundable again
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL
        assert account_credit(db.session, account_id) == 1000
        assert account_receivable(db.session, account_id) == 1000
        payment = db.session.get(Payment, payment_id)
        assert refundable_cents(db.session, payment) == TOTAL
        assert verify_chain(db.session).length == 4  # invoice, payment, refund, refund failed
    stranger = {
        "id": "evt_refund_other",
        "type": "charge.refunded",
        "created": 1,
        "data": {
            "object": {
                "object": "charge",
                "refunds": {"data": [{"id": "re_dashboard", "status": "succeeded"}]},
            }
        },
    }
    assert deliver(client, stranger).get_json()["status"] == "unmatched"
    with app.app_context():
        assert db.session.scalar(sa.select(Refund.status)) == RefundStatus.FAILED


def test_a_dispute_holds_the_funds_and_a_lost_one_reopens_the_bill(app, client):
    from core.extensions import db
    from tests.payments.signing import intent_event
    from tests.payments.test_webhooks import _payment, _town

    account_a, account_b = _town(app, 2)
    won, lost = _payment(app, account_a), _payment(app, account_b)
    with app.app_context():
        for payment_id in (won, lost):
            deliver(
                client,
                intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id)),
            )

    def dispute(kind: str, payment_id: int, status: str) -> dict:
        return {
            "id": f"evt_{kind}_{payment_id}_{status}",
            "type": kind,
            "created": 1_795_000_000,
            "data": {
                "object": {
                    "id": f"dp_{payment_id}",
                    "object": "dispute",
                    "amount": TOTAL,
                    "payment_intent": f"pi_test_{payment_id}",
                    "reason": "fraudulent",
                    "status": status,
                }
            },
        }

    for payment_id in (won, lost):
        assert (
            deliver(
                client, dispute("charge.dispute.created", payment_id, "needs_response")
            ).status_code
            == 200
        )
    with app.app_context():
        assert gl_balance(db.session, chart.DISPUTED_FUNDS) == 2 * TOTAL
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == 0
    deliver(client, dispute("charge.dispute.closed", won, "won"))
    closed_lost = dispute("charge.dispute.closed", lost, "lost")
    deliver(client, closed_lost)
    deliver(client, {**closed_lost, "id": "evt_again"})  # a second close changes nothing
    with app.app_context():
        session = db.session
        assert gl_balance(session, chart.DISPUTED_FUNDS) == 0
        assert gl_balance(session, chart.STRIPE_CLEARING) == TOTAL
        statuses = dict(session.execute(sa.select(Invoice.account_id, Invoice.status)).all())
        assert statuses == {account_a: InvoiceStatus.PAID, account_b: InvoiceStatus.OPEN}
        assert account_receivable(session, account_b) == TOTAL
        assert verify_chain(session).ok
