"""Convenience fees on bank debits: quoted for method bank_account, debited on the debit's own
line (the intent's amount is bill + fee), checked again before the debit, posted at settlement
and reversed once when the bank returns the debit. Stripe's side is the stand-in of
tests/payments/test_bank_payments.py and events signed with Stripe's scheme."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.extensions import db
from ledger import chart
from ledger.balances import account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.bank_payments import quote_again, start_bank_payment
from payments.convenience_fees import FeeChanged, fee_of, quote_payment, set_rule
from payments.fee_terms import FeeChannel, FeeMethod, FeeRuleError
from payments.models import Payment, PaymentStatus
from tests.ledger.payment_postings import CLERK
from tests.payments.signing import deliver
from tests.payments.test_ach_returns import (
    CLICK,
    FEE,
    RETURN,
    SUCCESS,
    _charge_failed,
    _debit,
    _intent_event,
)
from tests.payments.test_bank_payments import Stripe, _bank_payment, _pay
from tests.payments.test_gateway import gateway_on, http_server
from tests.payments.test_webhooks import RESIDENT, TOTAL, _town

#: The town's fee for paying online from a bank account: a flat $1.50.
BANK_RULE = {"channel": "online", "method": "bank_account", "kind": "flat", "flat_cents": 150}
BANK_FEE = 150


class StripeCancels(Stripe):
    """The stand-in, answering a cancel with the canceled intent as Stripe documents it."""

    def __call__(self, method, path, headers, body):
        status, answer = super().__call__(method, path, headers, body)
        if path.split("?")[0].endswith("/cancel"):
            answer |= {"status": "canceled", "created": CLICK, "metadata": {}}
        return status, answer


def _quote(payment_id: int) -> int:
    """Quote the fee of a bank payment as the bill page does; the fee."""
    payment = db.session.get(Payment, payment_id)
    fee = quote_payment(db.session, RESIDENT, payment, FeeChannel.ONLINE, FeeMethod.BANK_ACCOUNT)
    db.session.commit()
    return fee.amount_cents


def debit_with_fee(app, account_id: int, **rule) -> int:
    """A confirmed bank debit of the bill whose own-line fee was quoted by the rule; its id."""
    with app.app_context():
        set_rule(db.session, CLERK, {**BANK_RULE, **rule})
        db.session.commit()
    payment_id = _debit(app, account_id)
    with app.app_context():
        _quote(payment_id)
    return payment_id


def _with_total(event: dict, cents: int) -> dict:
    """The event with the intent's amount (and what was received of it) set to `cents`."""
    intent = event["data"]["object"]
    intent["amount"] = cents
    if intent.get("amount_received"):
        intent["amount_received"] = cents
    return event


def settled_with_fee(app, client, account_id: int, **rule) -> int:
    """A bank debit with its fee that went processing, then succeeded for bill + fee."""
    payment_id = debit_with_fee(app, account_id, **rule)
    for kind, created in (
        ("payment_intent.processing", CLICK),
        ("payment_intent.succeeded", SUCCESS),
    ):
        event = _intent_event(app, kind, payment_id, created=created)
        assert deliver(client, _with_total(event, TOTAL + BANK_FEE)).status_code == 200
    return payment_id


def returned_with_fee(app, client, account_id: int) -> int:
    """A settled bank debit with its fee that the bank returned (R01); its id."""
    payment_id = settled_with_fee(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    failed = _charge_failed(intent_id, TOTAL + BANK_FEE, "insufficient_funds", created=RETURN)
    assert deliver(client, failed).status_code == 200
    return payment_id


def _fee_entries(payment_id: int) -> list[JournalEntry]:
    return list(
        db.session.scalars(
            sa.select(JournalEntry)
            .where(
                JournalEntry.source_type == "convenience_fee",
                JournalEntry.source_id == str(payment_id),
            )
            .order_by(JournalEntry.seq)
        )
    )


def _balanced() -> None:
    report = trial_balance(db.session)
    assert report.total_debit_cents == report.total_credit_cents
    assert verify_chain(db.session).ok


def test_the_debit_asked_of_stripe_is_the_bill_and_its_own_line_fee(app):
    with app.app_context():
        set_rule(db.session, CLERK, BANK_RULE)
        db.session.commit()
    payment_id = _bank_payment(app)
    stripe = Stripe()
    with app.app_context():
        assert _quote(payment_id) == BANK_FEE
        payment = _pay(payment_id, stripe)
        assert payment.status == PaymentStatus.PROCESSING
        assert payment.amount_cents == TOTAL  # the bill is paid with the bill amount
    _headers, form = stripe.posted("/v1/payment_intents")
    assert form["amount"] == str(TOTAL + BANK_FEE)
    assert stripe.posted("/v1/payment_intents/pi_ach/confirm")


def test_a_bank_payment_is_never_quoted_the_card_s_fee(app):
    with app.app_context():
        set_rule(db.session, CLERK, {**BANK_RULE, "method": "card", "flat_cents": 395})
        db.session.commit()
    payment_id = _bank_payment(app)
    stripe = Stripe()
    with app.app_context():
        assert _quote(payment_id) == 0
        _pay(payment_id, stripe)
    _headers, form = stripe.posted("/v1/payment_intents")
    assert form["amount"] == str(TOTAL)


def test_a_fee_changed_since_the_resident_saw_it_is_not_debited_and_is_quoted_again(app):
    with app.app_context():
        set_rule(db.session, CLERK, BANK_RULE)
        db.session.commit()
    payment_id = _bank_payment(app)
    stripe = StripeCancels()
    with app.app_context():
        _quote(payment_id)
        payment = db.session.get(Payment, payment_id)
        with http_server(stripe) as base, gateway_on(base) as gateway:
            start_bank_payment(db.session, gateway, payment)
            db.session.commit()
            set_rule(db.session, CLERK, {**BANK_RULE, "flat_cents": 275})
            db.session.commit()
            with pytest.raises(FeeChanged) as changed:
                _pay(payment_id, stripe)
            assert changed.value.fee.amount_cents == 275
            again = quote_again(db.session, RESIDENT, gateway, payment, changed.value)
            db.session.commit()
        assert payment.status == PaymentStatus.CANCELED
        assert (again.status, again.amount_cents) == (PaymentStatus.PENDING, TOTAL)
        assert fee_of(db.session, again).amount_cents == 275
        assert again.stripe_payment_intent_id is None  # its own intent, for the new total
    # nothing went to the bank; the intent of the old total was canceled
    assert not [p for _m, p, _h, _f in stripe.requests if p.endswith("/confirm")]
    assert stripe.posted("/v1/payment_intents/pi_ach/cancel")


def test_a_separate_charge_rule_for_a_bank_account_is_refused_with_its_reason(app):
    with app.app_context():
        with pytest.raises(FeeRuleError) as refused:
            set_rule(db.session, CLERK, {**BANK_RULE, "charge_as": "separate_charge"})
        assert refused.value.field == "charge_as"
        assert "card rules only" in refused.value.message
        db.session.rollback()
        # the same for a card is a rule the town may keep
        set_rule(db.session, CLERK, {**BANK_RULE, "method": "card", "charge_as": "separate_charge"})


@pytest.mark.parametrize(
    ("account", "gl"),
    [("revenue", chart.CONVENIENCE_FEE_REVENUE), ("processor", chart.CONVENIENCE_FEES_PAYABLE)],
)
def test_settlement_posts_the_bank_fee_apart_from_the_bill(app, client, account, gl):
    (account_id,) = _town(app)
    payment_id = settled_with_fee(app, client, account_id, account=account)
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert account_receivable(db.session, account_id) == 0  # the bill, no more
        assert gl_balance(db.session, gl) == BANK_FEE
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + BANK_FEE
        assert fee_of(db.session, db.session.get(Payment, payment_id)).posted_on is not None
        _balanced()


def test_a_debit_short_of_its_fee_is_not_settled(app, client):
    (account_id,) = _town(app)
    payment_id = debit_with_fee(app, account_id)
    event = _intent_event(app, "payment_intent.succeeded", payment_id, created=SUCCESS)
    deliver(client, event)  # Stripe received the bill alone
    with app.app_context():
        assert db.session.get(Payment, payment_id).status != PaymentStatus.SUCCEEDED
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 0
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == 0


def test_a_return_reverses_the_fee_once_and_charges_the_returned_payment_fee(app, client):
    (account_id,) = _town(app)
    payment_id = returned_with_fee(app, client, account_id)
    # Stripe tells the same return a second time, by the intent's failure
    again = _intent_event(
        app, "payment_intent.payment_failed", payment_id, created=RETURN, code="insufficient_funds"
    )
    assert deliver(client, _with_total(again, TOTAL + BANK_FEE)).status_code == 200
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.RETURNED
        posted, reversed_ = _fee_entries(payment_id)  # two entries: posted, then reversed once
        assert "reversed" in reversed_.memo and "R01" in reversed_.memo
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 0
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == 0  # bill and fee went back
        # the returned-payment fee is charged as before; the convenience fee is not owed again
        assert gl_balance(db.session, chart.RETURNED_PAYMENT_FEES) == FEE
        assert account_receivable(db.session, account_id) == TOTAL + FEE
        fee = fee_of(db.session, payment)
        assert fee.refunded_cents == fee.amount_cents == BANK_FEE
        _balanced()
