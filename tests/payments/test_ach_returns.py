"""Bank debits through their days at the bank, told by events signed with Stripe's scheme.

localstripe has no `us_bank_account`, so the events are Stripe's documented
payment_intent.* and charge.failed objects of an ACH debit (docs/payments.md names
what was verified only this way): pending while processing, settled on the day of
the success, reversed with its return code, fee and block when the bank sends it back,
and every contradiction queued for the clerks rather than settled twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, InvoiceStatus
from billing.position import account_position
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.ach_models import AchReturn, BankMandate, BlockedBankAccount
from payments.gateway import StripePaymentIntent
from payments.models import (
    Channel,
    EventStatus,
    Payment,
    PaymentStatus,
    Receipt,
    ReconciliationItem,
    ReconciliationKind,
    StripeEvent,
    Tender,
)
from payments.reconcile import reconcile
from payments.services import record_payment
from tests.payments.signing import deliver
from tests.payments.test_webhooks import RESIDENT, TOTAL, ZONE, _town

FEE = 2500  # the shipped rule's returned-payment fee
_ids = count(1)
#: 2026-11-12 15:00 UTC (9:00 in the town) and 2026-11-16 16:00 UTC: the click and the success.
CLICK = int(datetime(2026, 11, 12, 15, tzinfo=UTC).timestamp())
SUCCESS = int(datetime(2026, 11, 16, 16, tzinfo=UTC).timestamp())
RETURN = int(datetime(2026, 11, 19, 17, tzinfo=UTC).timestamp())


def _debit(app, account_id: int, fingerprint: str = "fp_maria", cents: int = TOTAL) -> int:
    """A bank debit of the account's bill, confirmed at Stripe with an accepted mandate."""
    with app.app_context():
        account = db.session.get(Account, account_id)
        payment = record_payment(
            db.session,
            RESIDENT,
            account=account,
            amount_cents=cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.BANK_DEBIT,
        )
        payment.stripe_payment_intent_id = f"pi_ach_{payment.id}"
        db.session.add(
            BankMandate(
                account_id=account_id,
                payment_id=payment.id,
                purpose="payment",
                text_version="2026-12",
                accepted_at=datetime(2026, 11, 12, 15, tzinfo=UTC),
                ip_address="127.0.0.1",
                user_agent="test",
                stripe_payment_method_id=f"pm_ach_{payment.id}",
                fingerprint=fingerprint,
                last4="6789",
            )
        )
        db.session.commit()
        return payment.id


def _intent_event(app, kind: str, payment_id: int, *, created: int, code: str | None = None):
    """A payment_intent.* event of an ACH debit as Stripe sends it."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        status = {"payment_failed": "requires_payment_method"}.get(kind.split(".")[1])
        intent = {
            "id": payment.stripe_payment_intent_id,
            "object": "payment_intent",
            "amount": payment.amount_cents,
            "amount_received": payment.amount_cents if kind.endswith("succeeded") else 0,
            "currency": "usd",
            "metadata": {"payment_id": str(payment.id)},
            "payment_method_types": ["us_bank_account"],
            "status": status or kind.split(".")[1],
            "last_payment_error": (
                {"type": "card_error", "code": code, "message": "The debit failed."}
                if code
                else None
            ),
        }
    return {
        "id": f"evt_ach_{next(_ids)}",
        "object": "event",
        "type": kind,
        "created": created,
        "data": {"object": intent},
    }


def _charge_failed(intent_id: str, amount: int, code: str, *, created: int) -> dict:
    """A charge.failed event of an ACH debit's charge, as Stripe sends a return."""
    return {
        "id": f"evt_ach_{next(_ids)}",
        "object": "event",
        "type": "charge.failed",
        "created": created,
        "data": {
            "object": {
                "id": f"py_{next(_ids)}",
                "object": "charge",
                "amount": amount,
                "payment_intent": intent_id,
                "status": "failed",
                "failure_code": code,
                "payment_method_details": {
                    "type": "us_bank_account",
                    "us_bank_account": {"last4": "6789", "fingerprint": "fp_maria"},
                },
            }
        },
    }


def _settled(app, client, account_id: int, fingerprint: str = "fp_maria") -> int:
    """A bank debit that went processing, then succeeded; its payment id."""
    payment_id = _debit(app, account_id, fingerprint)
    deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=CLICK))
    deliver(client, _intent_event(app, "payment_intent.succeeded", payment_id, created=SUCCESS))
    return payment_id


def _balanced() -> None:
    """The ledger balances and its chain holds."""
    report = trial_balance(db.session)
    assert report.total_debit_cents == report.total_credit_cents
    assert verify_chain(db.session).ok


def test_a_processing_debit_is_pending_and_settles_on_the_town_date_of_its_success(app, client):
    (account_id,) = _town(app)
    payment_id = _debit(app, account_id)
    deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=CLICK))
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PROCESSING
        assert db.session.scalar(sa.select(Receipt)) is None
        assert account_receivable(db.session, account_id) == TOTAL
    deliver(client, _intent_event(app, "payment_intent.succeeded", payment_id, created=SUCCESS))
    with app.app_context():
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        assert receipt.paid_on == date(2026, 11, 16)  # the success's day, not the click's
        entry = db.session.scalar(
            sa.select(JournalEntry).where(
                JournalEntry.source_type == "payment", JournalEntry.source_id == str(payment_id)
            )
        )
        assert entry.entry_date == date(2026, 11, 16)
        assert account_receivable(db.session, account_id) == 0
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL


def test_a_return_after_settlement_reverses_it_reopens_the_bill_and_charges_the_fee(app, client):
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    response = deliver(
        client, _charge_failed(intent_id, TOTAL, "insufficient_funds", created=RETURN)
    )
    assert response.status_code == 200
    with app.app_context():
        session = db.session
        payment = session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.RETURNED
        returned = session.scalar(sa.select(AchReturn).where(AchReturn.payment_id == payment_id))
        assert (returned.return_code, returned.after_settlement) == ("R01", True)
        assert returned.returned_on == date(2026, 11, 19)
        invoice = session.scalar(sa.select(Invoice).where(Invoice.account_id == account_id))
        assert invoice.status != InvoiceStatus.PAID
        assert invoice.balance_cents == TOTAL
        fee = session.get(InvoiceCharge, returned.fee_charge_id)
        assert (fee.amount_cents, fee.description) == (FEE, "Returned payment fee")
        assert fee.invoice_id == invoice.id
        # the money left Stripe clearing; the account owes its bill and the fee again
        assert gl_balance(session, chart.STRIPE_CLEARING) == 0
        assert gl_balance(session, chart.RETURNED_PAYMENT_FEES) == FEE
        assert account_receivable(session, account_id) == TOTAL + FEE
        assert account_position(session, account_id, date(2026, 11, 19)).owed_cents() == TOTAL + FEE
        # one return on record does not block the bank account under the shipped rule
        assert session.get(BlockedBankAccount, "fp_maria") is None
        _balanced()


def test_a_failure_in_flight_reverses_nothing_and_a_closed_account_is_blocked_at_once(app, client):
    (account_id,) = _town(app)
    payment_id = _debit(app, account_id, "fp_closed")
    deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=CLICK))
    failed = _intent_event(
        app, "payment_intent.payment_failed", payment_id, created=RETURN, code="account_closed"
    )
    deliver(client, failed)
    with app.app_context():
        session = db.session
        payment = session.get(Payment, payment_id)
        assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "R02")
        assert not session.scalar(
            sa.select(sa.func.count()).where(JournalEntry.source_type == "ach_return")
        )
        assert account_receivable(session, account_id) == TOTAL + FEE
        blocked = session.get(BlockedBankAccount, "fp_closed")
        assert blocked is not None and blocked.account_id == account_id
        _balanced()


def test_the_second_return_within_the_rule_s_months_blocks_the_bank_account(app, client):
    (account_id,) = _town(app)
    first = _debit(app, account_id, "fp_twice", cents=5000)
    second = _debit(app, account_id, "fp_twice", cents=3000)
    for payment_id in (first, second):
        deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=CLICK))
    deliver(
        client,
        _intent_event(
            app, "payment_intent.payment_failed", first, created=RETURN, code="insufficient_funds"
        ),
    )
    with app.app_context():
        assert db.session.get(BlockedBankAccount, "fp_twice") is None
    deliver(
        client,
        _intent_event(
            app, "payment_intent.payment_failed", second, created=RETURN, code="insufficient_funds"
        ),
    )
    with app.app_context():
        blocked = db.session.get(BlockedBankAccount, "fp_twice")
        assert blocked is not None and blocked.returns == 2


def test_a_return_told_twice_is_reversed_and_charged_once(app, client):
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    charge_event = _charge_failed(intent_id, TOTAL, "insufficient_funds", created=RETURN)
    intent_event = _intent_event(
        app, "payment_intent.payment_failed", payment_id, created=RETURN, code="insufficient_funds"
    )
    for event in (charge_event, intent_event, charge_event):
        assert deliver(client, event).status_code == 200
    with app.app_context():
        session = db.session
        kinds = session.scalars(
            sa.select(JournalEntry.source_type).where(
                JournalEntry.source_type.in_(("ach_return", "ach_return_fee"))
            )
        ).all()
        assert sorted(kinds) == ["ach_return", "ach_return_fee"]
        assert account_receivable(session, account_id) == TOTAL + FEE
        _balanced()


def test_a_success_after_the_return_is_queued_and_never_settled_again(app, client):
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    deliver(client, _charge_failed(intent_id, TOTAL, "insufficient_funds", created=RETURN))
    late = _intent_event(app, "payment_intent.succeeded", payment_id, created=RETURN + 60)
    deliver(client, late)
    deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=RETURN))
    with app.app_context():
        session = db.session
        assert session.get(Payment, payment_id).status == PaymentStatus.RETURNED
        assert session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1
        item = session.scalar(sa.select(ReconciliationItem))
        assert item.kind == ReconciliationKind.ACH_OUT_OF_ORDER
        assert item.payment_id == payment_id and "returned it" in item.suggestion
        assert session.get(StripeEvent, late["id"]).status == EventStatus.UNMATCHED
        assert account_receivable(session, account_id) == TOTAL + FEE
        _balanced()


def test_processing_after_success_leaves_the_debit_settled(app, client):
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    deliver(client, _intent_event(app, "payment_intent.processing", payment_id, created=RETURN))
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert account_receivable(db.session, account_id) == 0


def test_a_return_of_a_debit_we_never_made_is_queued_with_its_reason(app, client):
    _town(app)
    event = _charge_failed("pi_not_ours", 4200, "account_closed", created=RETURN)
    assert deliver(client, event).status_code == 200
    with app.app_context():
        session = db.session
        assert session.get(StripeEvent, event["id"]).status == EventStatus.UNMATCHED
        item = session.scalar(sa.select(ReconciliationItem))
        assert item.kind == ReconciliationKind.RETURN_NOT_OURS
        assert item.theirs["failure_code"] == "account_closed"
        assert not session.scalar(
            sa.select(sa.func.count()).where(
                JournalEntry.source_type.in_(("ach_return", "ach_return_fee"))
            )
        )


class StripeStillSaysSucceeded:
    """A Stripe whose list of intents still shows the returned debit as succeeded."""

    def __init__(self, intent):
        self.intent = intent

    def list_events(self, **_):
        return []

    def list_payment_intents(self, **_):
        return [self.intent]

    def list_refunds(self):
        return []

    def list_payouts(self, **_):
        return []


def test_reconciliation_queues_a_returned_debit_that_stripe_still_lists_as_succeeded(app, client):
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    deliver(client, _charge_failed(intent_id, TOTAL, "insufficient_funds", created=RETURN))
    listed = StripePaymentIntent(
        intent_id,
        "succeeded",
        TOTAL,
        "usd",
        None,
        {"payment_id": str(payment_id)},
        None,
        datetime.fromtimestamp(SUCCESS, UTC),
        None,
        None,
        None,
    )
    with app.app_context():
        report = reconcile(
            db.session,
            StripeStillSaysSucceeded(listed),
            Actor.job("reconcile_stripe"),
            as_of=date(2026, 11, 26),
            currency="usd",
            zone=ZONE,
        )
        assert report["flagged"] == 1 and report["recovered"] == 0
        item = db.session.scalar(sa.select(ReconciliationItem))
        assert (item.kind, item.payment_id) == (ReconciliationKind.ACH_OUT_OF_ORDER, payment_id)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.RETURNED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


def test_a_debit_refused_before_it_reached_the_bank_is_a_plain_failure_without_a_fee(app, client):
    (account_id,) = _town(app)
    payment_id = _debit(app, account_id)  # pending: never confirmed as processing
    refused = _intent_event(
        app,
        "payment_intent.payment_failed",
        payment_id,
        created=CLICK,
        code="invalid_account_number",
    )
    deliver(client, refused)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.status, payment.failure_code) == (
            PaymentStatus.FAILED,
            "invalid_account_number",
        )
        assert db.session.scalar(sa.select(AchReturn)) is None
        assert account_receivable(db.session, account_id) == TOTAL  # no fee
