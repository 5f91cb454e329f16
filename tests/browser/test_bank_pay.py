"""A resident, in Chromium, pays a bill from a bank account: the method chosen on the bill, the
mandate read before anything is confirmed, the debit pending, then paid once Stripe's signed
success arrives; and turns on autopay from a bank account under a standing mandate.

localstripe's Stripe.js has only a card element, so `stripe.collectBankAccountForPayment` (and
`collectBankAccountForSetup`) are added in the page by a stand-in that answers as Stripe.js documents (the PaymentIntent with
the linked `us_bank_account` payment method); our server talks to the stand-in Stripe of
tests/payments/test_bank_payments.py. What our page does is real: its script, its requests,
the mandate and the pending state (docs/payments.md names what was not run on Stripe.js).
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from core.extensions import db
from core.money import format_cents
from payments.ach_models import BankMandate
from payments.models import Payment, PaymentStatus
from portal.models import Autopay
from tests.billing.billing_fixtures import bill_households
from tests.browser.conftest import TIMEOUT_MS, Browsing, LiveApp
from tests.browser.portal_pages import check_page
from tests.browser.test_portal import look_up
from tests.browser.test_portal_accounts import sign_up_and_in
from tests.payments.signing import deliver
from tests.payments.test_bank_payments import Stripe
from tests.payments.test_gateway import http_server
from tests.portal.test_autopay_bank import StripeForAutopay

pytestmark = pytest.mark.slow

#: Stripe.js as localstripe serves it, with the bank account call Stripe.js has and it lacks.
COLLECT_STAND_IN = """
(() => {
  let made;
  Object.defineProperty(window, "Stripe", {
    configurable: true,
    get() { return made; },
    set(original) {
      made = function (...args) {
        const stripe = original(...args);
        const linked = {
          id: "pm_ach",
          object: "payment_method",
          type: "us_bank_account",
          us_bank_account: { bank_name: "STRIPE TEST BANK", last4: "6789" },
        };
        stripe.collectBankAccountForPayment = async (options) => {
          window.collectedWith = options;
          return {
            paymentIntent: {
              id: "pi_ach",
              object: "payment_intent",
              status: "requires_confirmation",
              payment_method: linked,
            },
          };
        };
        stripe.collectBankAccountForSetup = async (options) => {
          window.collectedWith = options;
          return {
            setupIntent: {
              id: "seti_ach",
              object: "setup_intent",
              status: "requires_confirmation",
              payment_method: linked,
            },
          };
        };
        return stripe;
      };
    },
  });
})();
"""


def test_a_resident_pays_from_a_bank_account_and_sees_it_pending_then_paid(
    live_app: LiveApp, browsing: Browsing, client
):
    (billed,) = bill_households(live_app.app, "olson")
    amount = format_cents(billed.owed_cents)
    page = browsing.page
    page.add_init_script(COLLECT_STAND_IN)
    stripe = Stripe()
    with http_server(stripe) as base:
        live_app.app.config.update(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES=0)
        look_up(browsing, billed)
        expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()
        page.get_by_label("Bank account (ACH)").check()
        page.get_by_role("button", name="Continue to payment").click()
        expect(
            page.get_by_role("heading", name=f"Pay {amount} from a bank account")
        ).to_be_visible()
        # the mandate is on the page before anything can be confirmed
        mandate = page.locator("#bank-mandate")
        expect(mandate).to_contain_text("you authorize City of Maple Falls to debit")
        expect(mandate).to_contain_text(f"a one-time debit of {amount}")
        authorize = page.get_by_role("button", name="I authorize")
        expect(authorize).to_be_disabled()
        check_page(browsing, "bank-1-mandate")

        page.get_by_role("button", name="Link a bank account").click()
        expect(page.locator("#bank-linked")).to_have_text(
            "Bank account linked: STRIPE TEST BANK ••••6789"
        )
        expect(authorize).to_be_disabled()  # not until the mandate is accepted
        collected = page.evaluate("window.collectedWith")
        assert collected["clientSecret"] == "pi_ach_secret_x"
        assert collected["params"]["payment_method_type"] == "us_bank_account"
        page.get_by_label("I have read and accept this authorization.").check()
        authorize.click()

        expect(page.get_by_role("heading", name="Processing your payment")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("Your bank payment is on its way")
        check_page(browsing, "bank-2-pending")
    _headers, form = stripe.posted("/v1/payment_intents/pi_ach/confirm")
    assert form["mandate_data[customer_acceptance][online][ip_address]"] == "127.0.0.1"
    assert "Chrom" in form["mandate_data[customer_acceptance][online][user_agent]"]
    with live_app.app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert payment.status == PaymentStatus.PROCESSING
        assert db.session.scalar(sa.select(BankMandate)).payment_id == payment.id
        succeeded = {
            "id": "evt_bank_browser_ok",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": "pi_ach",
                    "object": "payment_intent",
                    "amount": payment.amount_cents,
                    "amount_received": payment.amount_cents,
                    "metadata": {"payment_id": str(payment.id)},
                    "payment_method_types": ["us_bank_account"],
                    "status": "succeeded",
                }
            },
        }
    secret = live_app.app.config["STRIPE_WEBHOOK_SECRET"]
    assert deliver(client, succeeded, secret=secret).status_code == 200
    # the pending page polls and turns into the receipt once the success is settled
    expect(page.get_by_role("heading", name=re.compile(r"^Receipt R-\d{4}-\d+$"))).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert browsing.errors == []


def test_a_resident_turns_on_autopay_from_a_bank_account_after_reading_the_mandate(
    live_app: LiveApp, browsing: Browsing
):
    (billed,) = bill_households(live_app.app, "olson")
    sign_up_and_in(live_app, browsing, billed.number, billed.access_code)
    page = browsing.page
    page.add_init_script(COLLECT_STAND_IN)
    stripe = StripeForAutopay()
    with http_server(stripe) as base:
        live_app.app.config.update(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES=0)
        page.get_by_role("navigation").get_by_role("link", name="Autopay").click()
        expect(page.get_by_role("heading", name="Autopay is off")).to_be_visible()
        mandate = page.locator("#bank-mandate")
        expect(mandate).to_contain_text("until you cancel autopay")
        authorize = page.get_by_role("button", name="I authorize")
        expect(authorize).to_be_disabled()
        page.get_by_role("button", name="Link a bank account").click()
        expect(page.locator("#bank-linked")).to_contain_text("STRIPE TEST BANK ••••6789")
        assert page.evaluate("window.collectedWith")["clientSecret"] == "seti_ach_secret_x"
        page.get_by_label("I have read and accept this authorization.").check()
        authorize.click()
        expect(page.get_by_role("heading", name="Autopay is on")).to_be_visible()
        expect(page.locator("#autopay-state")).to_contain_text("STRIPE TEST BANK •••• 6789")
        check_page(browsing, "bank-autopay-on")
    with live_app.app.app_context():
        mandate_row = db.session.scalar(sa.select(BankMandate))
        assert mandate_row.purpose == "autopay" and "Chrom" in mandate_row.user_agent
        assert db.session.scalar(sa.select(Autopay.method)) == "us_bank_account"
    assert browsing.errors == []
