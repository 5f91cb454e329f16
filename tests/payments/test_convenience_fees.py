"""Convenience fees: rules kept as versions, the fee quoted and checked again at the charge,
posted on its own line or as its own charge, and refunded by rule."""

import pytest
import sqlalchemy as sa

from core.extensions import db
from ledger import chart
from ledger.balances import account_receivable, gl_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.convenience_fees import (
    FeeChanged,
    confirm_quote,
    convenience_fee,
    current_rule,
    fee_of,
    quote_payment,
    set_rule,
)
from payments.fee_models import ConvenienceFeeRule
from payments.fee_terms import FeeChannel, FeeMethod, FeeRuleError
from payments.models import Payment, PaymentStatus, Receipt
from payments.online import charge_card
from payments.refunds import refund_payment
from tests.ledger.billing_postings import DAY, SUPERVISOR
from tests.ledger.fee_postings import (
    FEE,
    PERCENT_RULE,
    fee_intent_event,
    quoted_payment,
    refund_with_fee,
    settled_separately,
    settled_with_fee,
)
from tests.ledger.payment_postings import CLERK, StripeSays
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import TOTAL


class NoStripe:
    """A gateway that must not be called: the charge is refused before Stripe is asked."""

    def __getattr__(self, name):
        raise AssertionError(f"Stripe was asked ({name}) though the fee had changed")


def _fee_entries() -> list[JournalEntry]:
    return list(
        db.session.scalars(
            sa.select(JournalEntry)
            .where(JournalEntry.source_type == "convenience_fee")
            .order_by(JournalEntry.seq)
        )
    )


def test_a_new_rule_retires_the_one_before_and_a_bad_one_changes_nothing(app):
    with app.app_context():
        first = set_rule(db.session, CLERK, {**PERCENT_RULE, "cap_cents": 2500})
        second = set_rule(db.session, CLERK, {**PERCENT_RULE, "kind": "flat", "flat_cents": 295})
        db.session.commit()
        assert current_rule(db.session, FeeChannel.ONLINE, FeeMethod.CARD).id == second.id
        assert db.session.get(ConvenienceFeeRule, first.id).retired_at is not None
        with pytest.raises(FeeRuleError) as refused:
            set_rule(db.session, CLERK, {**PERCENT_RULE, "percent": "4.25"})
        assert refused.value.field == "percent"
        db.session.rollback()
        with pytest.raises(FeeRuleError) as refused:
            set_rule(db.session, CLERK, {**PERCENT_RULE, "channel": "kiosk"})
        assert refused.value.field == "channel"
        db.session.rollback()
        assert current_rule(db.session, FeeChannel.ONLINE, FeeMethod.CARD).id == second.id
        assert convenience_fee(db.session, "online", "card", TOTAL).fee_cents == 295
        # another channel and method have no rule: no fee
        assert convenience_fee(db.session, "counter", "bank_account", TOTAL).fee_cents == 0


def test_a_fee_the_town_absorbs_is_not_charged_to_the_payer(app):
    with app.app_context():
        set_rule(db.session, CLERK, {**PERCENT_RULE, "bearer": "town"})
        quote = convenience_fee(db.session, FeeChannel.ONLINE, FeeMethod.CARD, TOTAL)
        assert (quote.fee_cents, quote.absorbed) == (0, True)


def test_an_own_line_fee_is_posted_apart_from_the_bill_which_is_paid_with_the_bill_amount(
    app, client
):
    payment_id = settled_with_fee(app, client)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.SUCCEEDED
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        assert receipt.amount_cents == TOTAL
        assert account_receivable(db.session, payment.account_id) == 0
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == FEE
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + FEE
        (entry,) = _fee_entries()
        assert entry.source_id == str(payment_id)
        assert verify_chain(db.session).ok


def test_an_intent_short_of_the_own_line_fee_is_not_settled(app, client):
    payment_id, _fee = quoted_payment(app)
    with app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
    deliver(client, event)
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 0


def test_a_separate_fee_is_settled_by_its_own_intent_once(app, client):
    payment_id = settled_separately(app, client)
    with app.app_context():
        fee = fee_of(db.session, db.session.get(Payment, payment_id))
        assert fee.stripe_payment_intent_id == f"pi_fee_{payment_id}"
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        assert receipt.amount_cents == TOTAL
    assert deliver(client, fee_intent_event(app, payment_id, FEE)).status_code == 200
    with app.app_context():
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == FEE
        assert gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + FEE
        assert len(_fee_entries()) == 1
        assert verify_chain(db.session).ok


def test_a_fee_owed_to_a_processor_is_a_liability(app, client):
    settled_with_fee(app, client, account="processor")
    with app.app_context():
        assert gl_balance(db.session, chart.CONVENIENCE_FEES_PAYABLE) == FEE
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 0


@pytest.mark.parametrize(
    ("rule", "refunds", "fee_back"),
    [
        ("never", [TOTAL], 0),
        ("with_full_refund", [1000], 0),
        ("with_full_refund", [1000, TOTAL - 1000], FEE),
        ("pro_rata", [TOTAL // 2], FEE // 2),
        ("pro_rata", [1000, 2000, TOTAL - 3000], FEE),
    ],
)
def test_a_refund_gives_back_the_fee_by_its_rule(app, client, rule, refunds, fee_back):
    payment_id, _refund_id = refund_with_fee(app, client, refunds[0], refund=rule)
    with app.app_context():
        stripe = StripeSays()
        for cents in refunds[1:]:
            refund_payment(
                db.session,
                SUPERVISOR,
                db.session.get(Payment, payment_id),
                amount_cents=cents,
                reason="billed in error",
                on=DAY,
                gateway=stripe,
            )
        db.session.commit()
        fee = fee_of(db.session, db.session.get(Payment, payment_id))
        assert fee.refunded_cents == fee_back
        assert gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == FEE - fee_back
        # Stripe clearing gave back the refunds and the fee's share, nothing more
        assert (
            gl_balance(db.session, chart.STRIPE_CLEARING) == TOTAL + FEE - sum(refunds) - fee_back
        )
        assert verify_chain(db.session).ok


def test_a_fee_changed_since_the_payer_saw_it_is_not_charged_and_is_quoted_again(app):
    payment_id, fee_seen = quoted_payment(app, charged=False)
    with app.app_context():
        set_rule(db.session, CLERK, {**PERCENT_RULE, "kind": "flat", "flat_cents": 395})
        db.session.commit()
        payment = db.session.get(Payment, payment_id)
        with pytest.raises(FeeChanged) as changed:
            charge_card(db.session, CLERK, NoStripe(), payment, "pm_card_visa")
        assert (fee_seen, changed.value.fee.amount_cents) == (FEE, 395)
        db.session.commit()
        assert fee_of(db.session, payment).amount_cents == 395  # what the page shows now
        assert (payment.stripe_payment_intent_id, payment.status) == (None, PaymentStatus.PENDING)
        assert confirm_quote(db.session, CLERK, payment).amount_cents == 395  # seen: agreed


def test_a_quote_names_the_rule_version_and_the_channel(app):
    payment_id, _fee = quoted_payment(app, channel="counter", kind="flat", flat_cents=150)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        fee = fee_of(db.session, payment)
        rule = current_rule(db.session, FeeChannel.COUNTER, FeeMethod.CARD)
        assert (fee.rule_id, fee.channel, fee.amount_cents) == (rule.id, FeeChannel.COUNTER, 150)
        online = quote_payment(db.session, CLERK, payment, FeeChannel.ONLINE, FeeMethod.CARD)
        assert (online.rule_id, online.amount_cents) == (None, 0)  # no online rule was set
