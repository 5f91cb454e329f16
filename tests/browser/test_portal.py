"""A resident, in Chromium, from the quick-pay form to the receipt: through Stripe.js
(localstripe's stand-in), with localstripe's signed webhook settling the payment.

Every page seen is checked by axe-core and photographed at 360 and 1280 px
(tests/browser/portal_pages.py). localstripe's card element is five plain inputs known by
their placeholders (see tests/browser/test_pay.py).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from core.money import format_cents
from payments.models import Payment, PaymentStatus, Receipt
from tests.billing.billing_fixtures import BilledAccount, bill_households
from tests.browser.conftest import TIMEOUT_MS, Browsing, LiveApp, open_context, serve
from tests.browser.portal_pages import check_page
from tests.browser.test_pay import (
    DECLINED_WHEN_CHARGED,
    VISA,
    enter_card,
    fact,
    record_card_payment,
    wait_until,
)
from tests.portal.test_bill import pay_and_settle

pytestmark = pytest.mark.slow


def look_up(browsing: Browsing, billed: BilledAccount, code: str | None = None) -> None:
    """Open the quick-pay link printed on the bill (QR code) and type the access code."""
    page = browsing.page
    page.goto(f"{browsing.url}/pay?account={billed.number}")
    expect(page.locator("#account")).to_have_value(billed.number)
    page.locator("#code").fill(code or billed.access_code)
    page.locator("#code").press("Enter")


def invoice_now(live_app: LiveApp, billed: BilledAccount) -> tuple[InvoiceStatus, int]:
    with live_app.app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        return invoice.status, invoice.balance_cents


def pay(browsing: Browsing, card: str, amount_cents: int, texts: dict[str, str]) -> None:
    """On the card page: wait for Stripe.js, type the card, press Pay."""
    page = browsing.page
    expect(page.get_by_role("heading", name=texts["card heading"])).to_be_visible()
    button = page.get_by_role("button", name=texts["pay button"])
    expect(button).to_be_enabled()
    enter_card(browsing, card)


ENGLISH = {
    "lookup heading": "Pay your bill",
    "bill heading": "Your bill",
    "other amount": "Another amount",
    "amount": "Amount in dollars",
    "continue": "Continue to payment",
    "receipt heading": re.compile(r"^Receipt R-\d{4}-\d+$"),
    "thanks": "Thank you. Your payment was received.",
    "remaining": "Remaining balance",
    "history": "History",
    "download receipt": "Download the receipt (PDF)",
}
SPANISH = {
    "lookup heading": "Pague su factura",
    "bill heading": "Su factura",
    "other amount": "Otra cantidad",
    "amount": "Cantidad en dólares",
    "continue": "Continuar al pago",
    "receipt heading": re.compile(r"^Recibo R-\d{4}-\d+$"),
    "thanks": "Gracias. Recibimos su pago.",
    "remaining": "Saldo restante",
    "history": "Historial",
    "download receipt": "Descargar el recibo (PDF)",
}


def card_texts(amount_cents: int, language: str) -> dict[str, str]:
    amount = format_cents(amount_cents)
    if language == "es":
        return {"card heading": f"Pagar {amount} con tarjeta", "pay button": f"Pagar {amount}"}
    return {"card heading": f"Pay {amount} by card", "pay button": f"Pay {amount}"}


def journey(
    live_app: LiveApp,
    browsing: Browsing,
    billed: BilledAccount,
    *,
    amount: str | None,
    texts: dict,
    language: str = "en",
    shot: str,
) -> int:
    """Quick pay -> bill -> amount -> card -> receipt; returns the cents paid."""
    page = browsing.page
    page.goto(f"{browsing.url}/pay?account={billed.number}")
    if language == "es":
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name=texts["lookup heading"])).to_be_visible()
    check_page(browsing, f"{shot}-1-quick-pay")
    look_up(browsing, billed)
    expect(page.get_by_role("heading", name=texts["bill heading"], exact=True)).to_be_visible()
    expect(page.locator("#amount-due")).to_have_text(format_cents(billed.owed_cents))
    check_page(browsing, f"{shot}-2-bill")
    cents = billed.owed_cents
    if amount is not None:
        page.get_by_label(texts["other amount"]).check()
        page.get_by_label(texts["amount"]).fill(amount)
        cents = int(amount.replace(".", ""))
    page.get_by_role("button", name=texts["continue"]).click()
    pay(browsing, VISA, cents, card_texts(cents, language))
    check_page(browsing, f"{shot}-3-card")
    page.get_by_role("button", name=card_texts(cents, language)["pay button"]).click()
    # The status page polls until the webhook has settled the payment (1, 1.5, 2.25 … s).
    expect(page.get_by_role("heading", name=texts["receipt heading"])).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_role("status").filter(has_text=texts["thanks"])).to_be_visible()
    expect(fact(browsing, texts["remaining"])).to_have_text(format_cents(billed.owed_cents - cents))
    check_page(browsing, f"{shot}-4-receipt")
    receipt_pdf = page.get_by_role("link", name=texts["download receipt"]).get_attribute("href")
    response = page.request.get(browsing.url + receipt_pdf)
    assert response.status == 200 and response.body().startswith(b"%PDF")
    page.get_by_role("link", name=texts["history"]).click()
    expect(page.get_by_role("heading", name=texts["history"])).to_be_visible()
    check_page(browsing, f"{shot}-5-history")
    assert browsing.errors == []
    return cents


def test_a_resident_pays_the_whole_bill_from_quick_pay_to_the_receipt(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    journey(live_app, browsing, billed, amount=None, texts=ENGLISH, shot="full")
    assert invoice_now(live_app, billed) == (InvoiceStatus.PAID, 0)


def test_a_resident_pays_part_of_the_bill(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    journey(live_app, browsing, billed, amount="50.00", texts=ENGLISH, shot="partial")
    assert invoice_now(live_app, billed) == (InvoiceStatus.PARTIALLY_PAID, billed.owed_cents - 5000)


def test_the_same_journey_in_spanish(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    journey(live_app, browsing, billed, amount="50.00", texts=SPANISH, language="es", shot="es")
    with live_app.app.app_context():
        account = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        ).account
        assert account.language.value == "es"  # remembered for the account


def test_the_receipt_names_the_card_and_a_quick_pay_resident_e_mails_it(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    journey(live_app, browsing, billed, amount=None, texts=ENGLISH, shot="receipt")

    def card_known() -> bool:
        with live_app.app.app_context():
            return db.session.scalar(sa.select(Payment.card_last4)) == "4242"

    wait_until(card_known, "the card Stripe charged")  # read from Stripe once settled
    with live_app.app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        number = db.session.scalar(sa.select(Receipt.number))
    page = browsing.page
    page.goto(f"{browsing.url}/my/receipts/{payment.id}")
    expect(fact(browsing, "Confirmation number")).to_have_text(number)
    expect(fact(browsing, "Paid by")).to_have_text("Visa ending in 4242")
    expect(fact(browsing, "Date and time")).to_contain_text(" at ")
    expect(fact(browsing, "Card payment reference")).to_have_text(payment.stripe_payment_intent_id)
    address = page.get_by_label("E-mail address")
    address.fill("grandma.olson@example")
    page.get_by_role("button", name="E-mail the receipt").click()
    expect(page.locator("#receipt-email-error")).to_have_text(
        "Enter one e-mail address, such as name@example.com."
    )
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    check_page(browsing, "receipt-email-refused")
    page.get_by_label("E-mail address").fill("grandma.olson@example.net")
    page.get_by_role("button", name="E-mail the receipt").click()
    expect(page.get_by_role("status").filter(has_text="We e-mailed receipt")).to_have_text(
        f"We e-mailed receipt {number} to grandma.olson@example.net."
    )
    check_page(browsing, "receipt-email-sent")
    assert browsing.errors == []


def pay_with_a_declined_card(live_app: LiveApp, browsing: Browsing) -> tuple[BilledAccount, dict]:
    """Pay a household's bill with a card the bank declines; the household and the page's texts."""
    (billed,) = bill_households(live_app.app, "olson")
    page = browsing.page
    look_up(browsing, billed)
    page.get_by_role("button", name="Continue to payment").click()
    texts = card_texts(billed.owed_cents, "en")
    pay(browsing, DECLINED_WHEN_CHARGED, billed.owed_cents, texts)
    page.get_by_role("button", name=texts["pay button"]).click()
    expect(page.locator("#card-error")).to_have_text("Your card was declined. Try another card.")
    return billed, texts


def test_a_declined_card_is_explained_and_nothing_is_paid(live_app, browsing):
    billed, _texts = pay_with_a_declined_card(live_app, browsing)
    page = browsing.page
    restart = page.get_by_role("link", name="Start a new payment")
    expect(restart).to_be_visible()
    check_page(browsing, "declined-1-card")

    def failed() -> bool:
        with live_app.app.app_context():
            return db.session.scalar(sa.select(Payment.status)) == PaymentStatus.FAILED

    wait_until(failed, "the failed payment")
    assert invoice_now(live_app, billed) == (InvoiceStatus.OPEN, billed.owed_cents)
    card_url = page.url
    page.goto(card_url + "/status")
    expect(page.get_by_role("heading", name="Not paid")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    check_page(browsing, "declined-2-status")
    page.goto(card_url)
    restart = page.get_by_role("link", name="Start a new payment")
    restart.click()
    expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()
    expect(page.get_by_label("Amount in dollars")).to_have_value(
        f"{billed.owed_cents // 100}.{billed.owed_cents % 100:02d}"
    )
    assert browsing.errors == []


def test_after_a_declined_card_another_card_pays_the_bill_once_on_the_same_page(live_app, browsing):
    billed, texts = pay_with_a_declined_card(live_app, browsing)
    page = browsing.page
    button = page.get_by_role("button", name=texts["pay button"])
    card_page = page.url
    expect(button).to_be_enabled()
    number = page.locator("#card-element").get_by_placeholder("number", exact=True)
    expect(number).to_have_value("")  # the card field is emptied for another card
    expect(number).to_be_editable()
    check_page(browsing, "declined-then-another-1-declined")

    pay(browsing, VISA, billed.owed_cents, texts)  # the same page, no reload
    assert page.url == card_page
    button.click()
    expect(page.get_by_role("heading", name=ENGLISH["receipt heading"])).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(fact(browsing, "Amount")).to_have_text(format_cents(billed.owed_cents))
    expect(fact(browsing, "Remaining balance")).to_have_text("$0.00")
    check_page(browsing, "declined-then-another-2-receipt")

    def declined_one_failed() -> bool:
        """The declined try is failed, whichever of the page and the webhook said so first."""
        with live_app.app.app_context():
            return (
                db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Payment)
                    .where(Payment.status == PaymentStatus.FAILED)
                )
                == 1
            )

    wait_until(declined_one_failed, "the declined payment to be failed")
    assert invoice_now(live_app, billed) == (InvoiceStatus.PAID, 0)
    with live_app.app.app_context():
        payments = db.session.scalars(sa.select(Payment).order_by(Payment.id)).all()
        assert [p.status for p in payments] == [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]
        assert {p.amount_cents for p in payments} == {billed.owed_cents}
        assert payments[0].stripe_payment_intent_id != payments[1].stripe_payment_intent_id
        (receipt,) = db.session.scalars(sa.select(Receipt)).all()
        assert (receipt.payment_id, receipt.amount_cents) == (payments[1].id, billed.owed_cents)
    assert browsing.errors == []


def test_another_households_receipt_and_bill_are_not_found(live_app, browsing):
    ours, theirs = bill_households(live_app.app, "olson", "nguyen")
    payment_id = pay_and_settle(live_app.app, theirs.number, 1000)
    page = browsing.page
    look_up(browsing, ours)
    expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()
    for path in (
        f"/my/receipts/{payment_id}",
        f"/my/receipts/{payment_id}.pdf",
        f"/my/pay/{payment_id}/status",
        f"/my/bills/{theirs.invoice_number}.pdf",
    ):
        response = page.goto(browsing.url + path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        content = page.content()
        assert theirs.number not in content and "nguyen" not in content.lower()
        assert theirs.invoice_number not in content
    check_page(browsing, "not-found")
    # A charge of ours that Stripe has not confirmed yet.
    waiting = record_card_payment(live_app.app, ours, cents=1000, intent_id="pi_not_yet_confirmed")
    page.goto(f"{browsing.url}/my/pay/{waiting}/status")
    expect(page.get_by_role("heading", name="Processing your payment")).to_be_visible()
    check_page(browsing, "pending-status")
    with live_app.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


def test_six_wrong_codes_bring_the_limit_and_the_right_code_waits(browser, throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    with serve(app) as url:
        browsing, context = open_context(browser, url)
        page = browsing.page
        for attempt in range(1, 6):
            look_up(browsing, billed, code="AAAAA-AAAAA")
            expect(page.get_by_role("alert")).to_contain_text("do not match our records")
            if attempt == 1:
                check_page(browsing, "lookup-failed")
        look_up(browsing, billed, code="AAAAA-AAAAA")
        expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Try again in 15 minutes")
        check_page(browsing, "too-many-attempts")
        look_up(browsing, billed)
        expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
        assert browsing.errors == []
        context.close()
