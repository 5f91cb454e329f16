"""A card taken at the counter with a convenience fee, in Chromium through localstripe's
Stripe.js: the clerk sees the fee and the total before paying, the card is charged both, and
the receipt shows the bill paid and the fee apart; a fee changed before the charge is shown
again and nothing is charged."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from core.extensions import db
from core.money import format_cents
from ledger import chart
from ledger.balances import gl_balance
from payments.convenience_fees import set_rule
from payments.models import Payment, PaymentStatus
from tests.browser.test_pay import (
    VISA,
    choose_amount,
    enter_card,
    fact,
    see_receipt,
    sign_in_and_open,
    wait_until,
)
from tests.ledger.payment_postings import CLERK

COUNTER_CARD = {"channel": "counter", "method": "card", "kind": "flat", "flat_cents": 325}


def _rule(live_app, **fields) -> None:
    with live_app.app.app_context():
        set_rule(db.session, CLERK, {**COUNTER_CARD, **fields})
        db.session.commit()


@pytest.mark.slow
def test_a_clerk_sees_the_fee_before_paying_and_the_receipt_shows_it_apart(
    live_app, browsing, billed_account, clerk
):
    _rule(live_app)
    page = browsing.page
    owed = billed_account.owed_cents
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, None, "fee-counter")
    box = page.locator("#convenience-fee")
    expect(box.locator("[data-fee-amount]")).to_have_text("$3.25")
    expect(box.locator("[data-fee-total]")).to_have_text(format_cents(owed + 325))
    expect(box.get_by_role("button", name="Cancel this payment")).to_be_visible()
    pay = page.get_by_role("button", name=f"Pay {format_cents(owed + 325)}")
    expect(pay).to_be_enabled()
    enter_card(browsing, VISA)
    browsing.screenshot("fee-counter-2-card")
    pay.click()
    see_receipt(browsing, owed, "fee-counter")
    expect(fact(browsing, "Convenience fee")).to_have_text("$3.25")
    expect(fact(browsing, "Charged to the card")).to_have_text(format_cents(owed + 325))

    def fee_posted() -> bool:
        with live_app.app.app_context():
            return gl_balance(db.session, chart.CONVENIENCE_FEE_REVENUE) == 325

    wait_until(fee_posted, "the fee posted to 4530")
    assert browsing.errors == []


@pytest.mark.slow
def test_a_fee_changed_before_the_charge_is_shown_again_and_nothing_is_charged(
    live_app, browsing, billed_account, clerk
):
    _rule(live_app)
    page = browsing.page
    owed = billed_account.owed_cents
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, None, "fee-changed")
    pay = page.get_by_role("button", name=f"Pay {format_cents(owed + 325)}")
    expect(pay).to_be_enabled()
    _rule(live_app, flat_cents=450)  # the town changes the fee while the clerk types the card
    enter_card(browsing, VISA)
    pay.click()
    expect(page.locator("#card-error")).to_contain_text("The convenience fee for this payment")
    box = page.locator("#convenience-fee")
    expect(box.locator("[data-fee-amount]")).to_have_text("$4.50")
    expect(box.locator("[data-fee-total]")).to_have_text(format_cents(owed + 450))
    expect(page.get_by_role("button", name=f"Pay {format_cents(owed + 450)}")).to_be_visible()
    restart = page.get_by_role("link", name="Start a new payment")
    expect(restart).to_be_visible()
    browsing.screenshot("fee-changed-3-shown-again")
    with live_app.app.app_context():
        first = db.session.scalar(sa.select(Payment).order_by(Payment.id))
        assert (first.status, first.stripe_payment_intent_id) == (PaymentStatus.CANCELED, None)
    restart.click()
    expect(page.get_by_role("heading", name=re.compile("^Pay a bill"))).to_be_visible()
    assert browsing.errors == []
