"""In Chromium, a card charge whose answer is lost on its way back from Stripe: the page says
the payment is being confirmed rather than showing an error, and turns into the receipt by
itself once the janitor has learned from Stripe that the card was charged."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus
from scheduler import SCHEDULE
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_pay import VISA, choose_amount, fact, pay_by_card, sign_in_and_open
from tests.payments.answer_dropper import AnswerDropper
from tests.payments.test_unknown_outcome import _charge_call

JANITOR = find(SCHEDULE, "janitor")


@pytest.mark.slow
def test_a_lost_answer_shows_the_payment_being_confirmed_until_the_janitor_settles_it(
    live_app, browsing, billed_account, clerk, stripe_settings
):
    app, page = live_app.app, browsing.page
    dropper = AnswerDropper(urlsplit(stripe_settings["STRIPE_API_BASE"]).port)
    # NOTE: no network retries (localstripe would charge a retried call anew), and no webhook
    # accepted, so that only the janitor can learn what Stripe did.
    app.config.update(
        STRIPE_API_BASE=dropper.url, STRIPE_MAX_NETWORK_RETRIES=0, STRIPE_WEBHOOK_SECRET="whsec_x"
    )
    try:
        sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
        choose_amount(browsing, billed_account, None, "pay-unknown")
        dropper.lose_answers(_charge_call)
        pay_by_card(browsing, VISA, billed_account.owed_cents, "pay-unknown")

        page.wait_for_url(re.compile(r"/pay/\d+/status$"), timeout=TIMEOUT_MS)
        expect(page.get_by_role("heading", name="Confirming the payment")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("We are confirming your payment")
        expect(page.get_by_role("alert")).to_have_count(0)
        browsing.screenshot("pay-unknown-3-confirming")
        with app.app_context():
            assert db.session.scalar(sa.select(Payment.status)) == PaymentStatus.UNKNOWN

        run = run_entry(app, JANITOR)
        assert run.status == JobStatus.SUCCEEDED and run.counts["settled"] == 1, run.error
        expect(page.get_by_role("heading", name=re.compile(r"^Receipt R-"))).to_be_visible(
            timeout=TIMEOUT_MS
        )  # pay.js polled status.json and reloaded the page by itself
        expect(fact(browsing, "Status")).to_have_text("Paid")
        browsing.screenshot("pay-unknown-4-receipt")
    finally:
        dropper.close()
    assert dropper.dropped == [("POST", "/v1/payment_intents")]
    with StripeGateway.from_config(stripe_settings) as gateway:
        assert sum(i.status == "succeeded" for i in gateway.list_payment_intents()) == 1
    assert browsing.errors == []
