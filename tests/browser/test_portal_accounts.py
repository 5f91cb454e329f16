"""A registered resident in Chromium: signs up with the bill's access code, confirms the
address from the e-mail, turns on autopay with a card saved through Stripe.js, and the
scheduler's autopay job pays the next bill on its due date (the clock moved forward).
Also a dispute asked from the bill. Every page is checked by axe-core and photographed.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import sleep
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceStatus
from core.calendar import town_today
from core.extensions import db
from notices.models import ReminderPause
from portal.models import Autopay, AutopayCharge, Question
from tests.billing.billing_fixtures import bill_households
from tests.browser.conftest import Browsing, LiveApp
from tests.browser.portal_pages import check_page
from tests.browser.test_pay import VISA, enter_card, wait_until

pytestmark = pytest.mark.slow

ADDRESS = "ana.olson@example.net"
PASSWORD = "a long enough resident password"


def outbox_link(live_app: LiveApp, address: str, path: str) -> str:
    """The path of the link to `path` in the newest e-mail the app wrote to the outbox (the
    app writes it once the page has been sent, so it is waited for a few seconds)."""
    folder = Path(live_app.app.config["OUTBOX_DIR"])
    for _attempt in range(50):
        for eml in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            if address in message["To"]:
                text = message.get_body(preferencelist=("plain",)).get_content()
                link = re.search(rf"https?://\S+?({re.escape(path)}\S+)", text)
                if link:
                    return link.group(1)
        sleep(0.1)
    raise AssertionError(f"no e-mail to {address} with a link to {path} in {folder}")


def sign_up_and_in(live_app: LiveApp, browsing: Browsing, number: str, code: str) -> None:
    page = browsing.page
    page.goto(f"{browsing.url}/register")
    check_page(browsing, "account-1-register")
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_label("Account number").fill(number)
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Create my online account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    check_page(browsing, "account-2-check-email")
    page.goto(browsing.url + outbox_link(live_app, ADDRESS, "/verify/"))
    check_page(browsing, "account-3-verified")
    page.goto(f"{browsing.url}/signin")
    check_page(browsing, "account-4-sign-in")
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()


def invoice_status(live_app: LiveApp, number: str) -> InvoiceStatus:
    with live_app.app.app_context():
        return db.session.scalar(sa.select(Invoice.status).where(Invoice.number == number))


def test_autopay_pays_the_next_bill_on_its_due_date(live_app, browsing, runner):
    app = live_app.app
    today = town_today(app.config)
    due = today + timedelta(days=14)
    (billed,) = bill_households(app, "olson", issue_date=today, due_date=due)
    sign_up_and_in(live_app, browsing, billed.number, billed.access_code)
    page = browsing.page
    page.get_by_role("link", name="Accounts and settings").click()
    expect(page.get_by_role("heading", name="Accounts and settings")).to_be_visible()
    check_page(browsing, "account-5-accounts")

    page.get_by_role("navigation").get_by_role("link", name="Autopay").click()
    expect(page.get_by_role("heading", name="Autopay is off")).to_be_visible()
    button = page.get_by_role("button", name="Save card and turn on autopay")
    expect(button).to_be_enabled()
    check_page(browsing, "autopay-1-off")
    enter_card(browsing, VISA)
    button.click()
    expect(page.get_by_role("heading", name="Autopay is on")).to_be_visible()
    expect(page.locator("#autopay-state")).to_contain_text("4242")
    check_page(browsing, "autopay-2-on")

    # The day before the due date nothing is charged; on the due date the card is.
    zone = ZoneInfo(app.config["MUNICIPALITY_TIMEZONE"])
    for day, charged in ((due - timedelta(days=1), 0), (due, 1)):
        moment = datetime.combine(day, time(5, 30), zone)
        with time_machine.travel(moment, tick=True):
            result = runner.invoke(args=["jobs", "run", "charge_autopay"])
        assert result.exit_code == 0, result.output
        assert f"'charged': {charged}" in result.output
    wait_until(
        lambda: invoice_status(live_app, billed.invoice_number) == InvoiceStatus.PAID,
        "the autopay payment settled by localstripe's webhook",
    )
    with app.app_context():
        assert db.session.scalar(sa.select(AutopayCharge.outcome)) == "charged"
        assert db.session.scalar(sa.select(Autopay.active)) is True
    page.get_by_role("link", name="Bill", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Nothing is owed")).to_be_visible()
    assert browsing.errors == []


def test_a_resident_disputes_a_bill_and_its_reminders_pause(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    page = browsing.page
    page.goto(f"{browsing.url}/pay?account={billed.number}")
    page.locator("#code").fill(billed.access_code)
    page.locator("#code").press("Enter")
    page.get_by_role("link", name=re.compile("^Ask a question about this bill")).click()
    check_page(browsing, "question-1-form")
    page.get_by_label("I disagree with this bill (dispute)").check()
    page.get_by_role("button", name=re.compile("^Send")).click()
    expect(page.get_by_role("alert").first).to_be_visible()
    check_page(browsing, "question-2-errors")
    page.get_by_label(re.compile("^Your message")).fill("The meter read in October looks too high.")
    page.get_by_role("button", name=re.compile("^Send")).click()
    expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()
    expect(page.get_by_text("The meter read in October looks too high.")).to_be_visible()
    check_page(browsing, "question-3-on-the-bill")
    with live_app.app.app_context():
        question = db.session.scalar(sa.select(Question))
        assert question.kind == "dispute"
        pause = db.session.get(ReminderPause, question.pause_id)
        assert pause.invoice_id == question.invoice_id and pause.resumed_at is None
    assert browsing.errors == []


def test_a_resident_who_forgot_the_password_chooses_a_new_one(live_app, browsing):
    (billed,) = bill_households(live_app.app, "olson")
    with live_app.app.app_context():
        from werkzeug.security import generate_password_hash

        from accounts.models import Account
        from portal.models import Resident, ResidentAccount

        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        resident = Resident(
            email=ADDRESS,
            password_hash=generate_password_hash(PASSWORD),
            verified_at=datetime.now(UTC),
        )
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=account.id))
        db.session.commit()
    page = browsing.page
    page.goto(f"{browsing.url}/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    check_page(browsing, "reset-1-request")
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_role("button", name="Send me a link").click()
    check_page(browsing, "reset-2-sent")
    page.goto(browsing.url + outbox_link(live_app, ADDRESS, "/reset/"))
    check_page(browsing, "reset-3-form")
    page.get_by_label("New password", exact=True).fill("a brand new resident password")
    page.get_by_label("Type the new password again").fill("a brand new resident password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_label("Password").fill("a brand new resident password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your bill", exact=True)).to_be_visible()
    assert browsing.errors == []
