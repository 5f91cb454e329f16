"""A clerk pays a resident's bill by card in Chromium, through Stripe.js (localstripe's
stand-in), and the receipt appears once localstripe's signed webhook has settled it.

localstripe's card element is no iframe: `mount()` puts five plain text inputs into
#card-element, known only by their placeholders (number, exp_month, exp_year, cvc,
postal_code). The number must be 16 digits without spaces and the year two digits
(it prefixes "20"); every input event re-reads all five, so filling each one is enough.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from ledger import chart
from payments.models import Channel, Payment, PaymentStatus, Receipt, StripeEvent, Tender
from payments.services import record_payment, settle_payment
from payments.webhooks import STRIPE
from tests.browser.conftest import TIMEOUT_MS, BilledAccount, Browsing, LiveApp, bill_households
from tests.conftest import PASSWORD, csrf_token
from tests.payments.conftest import unreachable_stripe_settings
from tests.payments.signing import deliver, intent_event

VISA = "4242 4242 4242 4242"
#: Saved without trouble, declined when charged.
DECLINED_WHEN_CHARGED = "4000 0000 0000 0341"
#: The bank asks for 3-D Secure when the card is saved and again when it is charged.
NEEDS_3D_SECURE = "4000 0025 0000 3155"


def sign_in_and_open(browsing: Browsing, path: str, email: str) -> None:
    """Open a staff page; sign in through the real form it sends us to; land on the page."""
    page = browsing.page
    page.goto(browsing.url + path)
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(browsing.url + path, timeout=TIMEOUT_MS)


def enter_card(browsing: Browsing, number: str) -> None:
    """Type a card, expiring 12/34 with CVC 123, into localstripe's card element."""
    card = browsing.page.locator("#card-element")
    card.get_by_placeholder("number", exact=True).fill(number.replace(" ", ""))
    card.get_by_placeholder("exp_month", exact=True).fill("12")
    card.get_by_placeholder("exp_year", exact=True).fill("34")
    card.get_by_placeholder("cvc", exact=True).fill("123")
    card.get_by_placeholder("postal_code", exact=True).fill("54901")


def choose_amount(browsing: Browsing, billed: BilledAccount, amount: str | None, shot: str) -> None:
    """On the pay form, keep the whole balance or enter an amount, and go on to the card page."""
    page = browsing.page
    amount_field = page.get_by_label("Amount in dollars")
    expect(amount_field).to_have_value(dollars(billed.owed_cents))
    expect(page.get_by_role("checkbox", name=billed.invoice_number)).not_to_be_checked()
    if amount is not None:
        amount_field.fill(amount)
    browsing.screenshot(f"{shot}-1-amount")
    page.get_by_role("button", name="Continue to card details").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Pay \$[\d,.]+ by card$"))).to_be_visible()


def pay_by_card(browsing: Browsing, number: str, amount_cents: int, shot: str) -> None:
    """Fill the card in once Stripe.js has mounted it, and press Pay."""
    pay = browsing.page.get_by_role("button", name=f"Pay {format_cents(amount_cents)}")
    expect(pay).to_be_enabled()  # pay.js enables it after mounting the card element
    enter_card(browsing, number)
    browsing.screenshot(f"{shot}-2-card")
    pay.click()


def wait_until(check: Callable[[], bool], what: str, seconds: float = TIMEOUT_MS / 1000) -> None:
    """Poll a condition on the database until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting, after {seconds:.0f}s, for {what}")
        time.sleep(0.1)


def see_receipt(browsing: Browsing, amount_cents: int, shot: str) -> None:
    """The status page turns into the receipt once the webhook has settled the payment."""
    page = browsing.page
    page.wait_for_url(re.compile(r"/pay/\d+/status$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=re.compile(r"^Receipt R-\d{4}-\d{6}$"))).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(fact(browsing, "Status")).to_have_text("Paid")
    expect(fact(browsing, "Amount")).to_have_text(format_cents(amount_cents))
    browsing.screenshot(f"{shot}-3-receipt")


def invoice_now(live_app: LiveApp, billed: BilledAccount) -> tuple[InvoiceStatus, int]:
    """The household's invoice status and balance as the database has them now."""
    with live_app.app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        return invoice.status, invoice.balance_cents


def fact(browsing: Browsing, term: str):
    """The value next to a term of the page's facts (a <dt>/<dd> pair)."""
    return browsing.page.locator("dl.facts dt", has_text=term).locator("+ dd")


def dollars(cents: int) -> str:
    """Cents as the pay form writes them ('107.84')."""
    return f"{cents // 100}.{cents % 100:02d}"


@pytest.mark.slow
def test_a_clerk_pays_the_whole_bill_and_sees_the_receipt(
    live_app, browsing, billed_account, clerk
):
    page = browsing.page
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, None, "pay-whole")
    pay_by_card(browsing, VISA, billed_account.owed_cents, "pay-whole")
    see_receipt(browsing, billed_account.owed_cents, "pay-whole")

    applied = page.get_by_role("table").filter(has_text="Applied to")
    expect(
        applied.get_by_role("row").filter(has_text=billed_account.invoice_number)
    ).to_contain_text(format_cents(billed_account.owed_cents))
    expect(fact(browsing, "Remaining balance")).to_have_text("$0.00")
    assert invoice_now(live_app, billed_account) == (InvoiceStatus.PAID, 0)
    with live_app.app.app_context():
        receipt = db.session.scalar(sa.select(Receipt))
        assert receipt.amount_cents == billed_account.owed_cents
        expect(page.get_by_role("heading", name=f"Receipt {receipt.number}")).to_be_visible()
    assert browsing.errors == []


@pytest.mark.slow
def test_a_declined_card_is_shown_under_the_card_and_the_bill_stays_open(
    live_app, browsing, billed_account, clerk
):
    page = browsing.page
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, None, "pay-declined")
    pay_by_card(browsing, DECLINED_WHEN_CHARGED, billed_account.owed_cents, "pay-declined")

    expect(page.locator("#card-error")).to_have_text("Your card was declined. Try another card.")
    expect(page.get_by_role("alert").filter(has_text="declined")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Pay \$"))).to_be_enabled()
    restart = page.get_by_role("link", name="Start a new payment")
    expect(restart).to_be_visible()
    browsing.screenshot("pay-declined-3-declined")

    def failure_event_processed() -> bool:
        """localstripe's payment_failed webhook has arrived (and must change nothing)."""
        with live_app.app.app_context():
            return (
                db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(StripeEvent)
                    .where(StripeEvent.type == "payment_intent.payment_failed")
                )
                == 1
            )

    wait_until(failure_event_processed, "the payment_failed webhook")
    assert invoice_now(live_app, billed_account) == (InvoiceStatus.OPEN, billed_account.owed_cents)
    with live_app.app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert payment.status == PaymentStatus.FAILED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 0

    restart.click()
    expect(page.get_by_role("heading", name=re.compile("^Pay a bill"))).to_be_visible()
    expect(page.get_by_label("Amount in dollars")).to_have_value(dollars(billed_account.owed_cents))
    browsing.screenshot("pay-declined-4-start-again")
    assert browsing.errors == []


@pytest.mark.slow
def test_a_partial_payment_leaves_the_bill_partially_paid(
    live_app, browsing, billed_account, clerk
):
    page = browsing.page
    assert billed_account.owed_cents > 5000
    left = billed_account.owed_cents - 5000
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, "50.00", "pay-partial")
    expect(page.get_by_role("heading", name="Pay $50.00 by card")).to_be_visible()
    pay_by_card(browsing, VISA, 5000, "pay-partial")
    see_receipt(browsing, 5000, "pay-partial")

    expect(fact(browsing, "Remaining balance")).to_have_text(format_cents(left))
    assert invoice_now(live_app, billed_account) == (InvoiceStatus.PARTIALLY_PAID, left)
    assert browsing.errors == []


@pytest.mark.slow
def test_a_processing_payment_shows_as_pending_until_the_webhook_settles_it(
    live_app, browsing, billed_account, clerk
):
    page = browsing.page
    payment_id = record_card_payment(live_app.app, billed_account, intent_id="pi_test_processing")
    webhooks = live_app.app.test_client()
    secret = live_app.app.config["STRIPE_WEBHOOK_SECRET"]
    deliver(webhooks, event_for(live_app, "payment_intent.processing", payment_id), secret=secret)
    status_page = f"/staff/accounts/{billed_account.number}/pay/{payment_id}/status"
    sign_in_and_open(browsing, status_page, clerk)

    expect(page.get_by_role("heading", name="Processing")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Pending")).to_be_visible()
    expect(page.get_by_text("Paid", exact=True)).to_have_count(0)
    browsing.screenshot("pay-processing-1-pending")

    deliver(webhooks, event_for(live_app, "payment_intent.succeeded", payment_id), secret=secret)
    expect(page.get_by_role("heading", name=re.compile(r"^Receipt R-"))).to_be_visible(
        timeout=TIMEOUT_MS
    )  # pay.js polled status.json and reloaded the page by itself
    expect(fact(browsing, "Status")).to_have_text("Paid")
    browsing.screenshot("pay-processing-2-receipt")
    assert browsing.errors == []


@pytest.mark.slow
def test_a_card_that_needs_3d_secure_is_paid_once_the_bank_approves(
    live_app, browsing, billed_account, clerk
):
    page = browsing.page
    sign_in_and_open(browsing, f"/staff/accounts/{billed_account.number}/pay", clerk)
    choose_amount(browsing, billed_account, None, "pay-3ds")
    pay_by_card(browsing, NEEDS_3D_SECURE, billed_account.owed_cents, "pay-3ds")
    approve = page.get_by_role("button", name="Complete authentication")
    expect(approve).to_be_visible()  # localstripe's stand-in for the bank's page
    browsing.screenshot("pay-3ds-3-bank")
    approve.click()  # saving the card (confirmCardSetup)
    approve.click()  # and the charge: the server answered requires_action, confirmCardPayment
    see_receipt(browsing, billed_account.owed_cents, "pay-3ds")
    assert invoice_now(live_app, billed_account) == (InvoiceStatus.PAID, 0)
    assert browsing.errors == []


# --- the same pages through the test client: what the form refuses, who may see what ------


def record_card_payment(app, billed: BilledAccount, cents: int = 5000, intent_id=None) -> int:
    """A pending online card payment on the account, as the pay form records it."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        payment = record_payment(
            db.session,
            Actor.system("test"),
            account=account,
            amount_cents=cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        payment.stripe_payment_intent_id = intent_id
        db.session.commit()
        return payment.id


def event_for(live_app: LiveApp, kind: str, payment_id: int) -> dict:
    """A payment_intent event for one of our payments, as Stripe would send it."""
    with live_app.app.app_context():
        return intent_event(kind, db.session.get(Payment, payment_id))


def submit_pay_form(client, number: str, **data):
    """Open the pay form and submit it with the given fields."""
    page = client.get(f"/staff/accounts/{number}/pay")
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(
        f"/staff/accounts/{number}/pay",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data},
    )


def error_under(html: str, field: str) -> str:
    """The error paragraph shown under a field of the pay form."""
    match = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert match, f"no error under {field}"
    return unescape(match.group(1))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Enter an amount greater than zero."),
        ("-5.00", "Enter an amount greater than zero."),
        ("ten dollars", "Enter the amount in dollars and cents, such as 50.00."),
        ("", "Enter the amount in dollars and cents, such as 50.00."),
        ("12.345", "Enter the amount in dollars and cents, such as 50.00."),
        ("107.85", "The most you can pay is $107.84, what is owed."),
        ("0.50", "The least you can pay is $1.00."),
    ],
)
def test_the_pay_form_refuses_an_amount_with_the_reason_under_it(
    app, signed_in, billed_account, amount, message
):
    assert billed_account.owed_cents == 10784
    response = submit_pay_form(signed_in("clerk"), billed_account.number, amount=amount)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_under(html, "amount") == message
    assert 'aria-invalid="true"' in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_a_pay_form_sent_without_an_amount_is_refused_not_paid_in_full(
    app, signed_in, billed_account
):
    response = submit_pay_form(signed_in("clerk"), billed_account.number)
    assert response.status_code == 422
    assert error_under(response.get_data(as_text=True), "amount") == (
        "Enter the amount in dollars and cents, such as 50.00."
    )


def test_the_pay_form_refuses_another_accounts_invoice(app, signed_in):
    ours, theirs = bill_households(app, "olson", "berg")
    response = submit_pay_form(
        signed_in("clerk"), ours.number, amount="10.00", invoices=theirs.invoice_number
    )
    assert response.status_code == 422
    assert error_under(response.get_data(as_text=True), "invoices") == (
        f"Invoice {theirs.invoice_number} is not a bill of account {ours.number}."
    )


def test_the_pay_form_refuses_a_paid_invoice(app, signed_in, billed_account):
    payment_id = record_card_payment(app, billed_account, cents=billed_account.owed_cents)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        settle_payment(
            db.session, STRIPE, payment, on=date(2026, 11, 20), cash_gl=chart.STRIPE_CLEARING
        )
        db.session.commit()
    client = signed_in("clerk")
    page = client.get(f"/staff/accounts/{billed_account.number}/pay")
    assert "Nothing is owed on this account." in page.get_data(as_text=True)
    response = client.post(
        f"/staff/accounts/{billed_account.number}/pay",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),  # the sign-out form's
            "amount": "10.00",
            "invoices": billed_account.invoice_number,
        },
    )
    assert response.status_code == 422
    assert f"Invoice {billed_account.invoice_number} is paid." in response.get_data(as_text=True)


def test_a_valid_amount_records_a_pending_card_payment_for_the_chosen_bill(
    app, signed_in, billed_account
):
    response = submit_pay_form(
        signed_in("clerk"),
        billed_account.number,
        amount="$60",
        invoices=billed_account.invoice_number,
    )
    assert response.status_code == 303
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert response.headers["Location"] == (
            f"/staff/accounts/{billed_account.number}/pay/{payment.id}"
        )
        assert (payment.status, payment.amount_cents) == (PaymentStatus.PENDING, 6000)
        assert (payment.channel, payment.tender) == (Channel.ONLINE, Tender.CARD)
        invoice = db.session.scalar(sa.select(Invoice))
        assert payment.invoice_ids == [invoice.id]


def test_another_accounts_payment_is_not_found_on_any_pay_page(app, signed_in):
    ours, theirs = bill_households(app, "olson", "berg")
    payment_id = record_card_payment(app, theirs)
    client = signed_in("clerk")
    form = client.get(f"/staff/accounts/{theirs.number}/pay")
    headers = {"X-CSRFToken": csrf_token(form.get_data(as_text=True))}
    base = f"/staff/accounts/{ours.number}/pay/{payment_id}"
    for path in (base, f"{base}/status", f"{base}/status.json"):
        assert client.get(path).status_code == 404, path
    for path in (f"{base}/setup", f"{base}/charge"):
        assert (
            client.post(path, json={"payment_method": "pm_x"}, headers=headers).status_code == 404
        )
    assert client.get("/staff/accounts/99999999/pay").status_code == 404
    assert client.get(f"/staff/accounts/{ours.number}/pay/{2**64}").status_code == 404


def test_an_auditor_may_not_open_the_pay_pages(signed_in, billed_account):
    assert (
        signed_in("auditor").get(f"/staff/accounts/{billed_account.number}/pay").status_code == 403
    )


def test_a_stripe_outage_says_payments_are_temporarily_unavailable(app, signed_in, billed_account):
    app.config.update(unreachable_stripe_settings())
    payment_id = record_card_payment(app, billed_account)
    client = signed_in("clerk")
    base = f"/staff/accounts/{billed_account.number}/pay/{payment_id}"
    headers = {"X-CSRFToken": csrf_in_card_page(client.get(base).get_data(as_text=True))}
    for path, body in (
        (f"{base}/setup", {}),
        (f"{base}/charge", {"payment_method": "pm_card_visa"}),
    ):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 503, path
        assert response.get_json()["error"] == (
            "Payments are temporarily unavailable. Please try again in a few minutes."
        )
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def csrf_in_card_page(html: str) -> str:
    """The CSRF token the card page hands pay.js."""
    match = re.search(r'data-csrf-token="([^"]+)"', html)
    assert match, "the card page has no CSRF token for pay.js"
    return match.group(1)
