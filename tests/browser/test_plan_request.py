"""A resident with a past-due bill asks for a payment plan in Chromium, reads the agreement,
accepts it, and sees the installment on the bill. Every portal page is checked by axe-core and
photographed at both widths."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from billing.models import PaymentPlan, PlanStatus
from core.extensions import db
from core.money import format_cents
from tests.billing.billing_fixtures import bill_households
from tests.billing.plan_fixtures import add_rule
from tests.browser.portal_pages import check_page
from tests.browser.test_pay import sign_in_and_open
from tests.browser.test_portal import look_up
from tests.browser.test_staff import shot

pytestmark = pytest.mark.slow

#: How far the page reaches past the window's right edge.
WIDE = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_resident_requests_and_accepts_a_payment_plan(live_app, browsing, billed_account):
    # NOTE: the bill fell due November 23, 2026, so it is past due on any later day.
    with live_app.app.app_context():
        add_rule(db.session)
        db.session.commit()
    page = browsing.page
    look_up(browsing, billed_account)
    expect(page.get_by_role("heading", name="Your bill")).to_be_visible()
    page.get_by_role("link", name="Can't pay it all? Ask for a payment plan").click()
    expect(page.get_by_role("heading", name="Payment plan", exact=True)).to_be_visible()
    check_page(browsing, "plan-1-offer")

    page.get_by_label("Down payment, due today").fill("0.01")
    page.get_by_role("button", name="See my plan").click()
    expect(page.get_by_text("The down payment must be at least")).to_be_visible()
    check_page(browsing, "plan-2-refused")

    down = billed_account.owed_cents // 4
    page.get_by_label("Down payment, due today").fill(format_cents(down, symbol=""))
    page.get_by_label("Monthly installments").select_option("3")
    page.get_by_role("button", name="See my plan").click()
    expect(page.get_by_text("Read the agreement below")).to_be_visible()
    expect(page.get_by_role("row", name="Installment 3")).to_be_visible()
    check_page(browsing, "plan-3-proposed")
    href = page.get_by_role("link", name="Español (PDF)").get_attribute("href")
    agreement = page.context.request.get(f"{browsing.url}{href}")
    assert agreement.headers["content-type"] == "application/pdf"
    assert agreement.body().startswith(b"%PDF")

    page.get_by_role("button", name="Accept the agreement").click()
    expect(page.get_by_text("Tick the box to accept the agreement.")).to_be_visible()
    page.get_by_label("I have read the agreement and I accept it.").check()
    page.get_by_role("button", name="Accept the agreement").click()
    expect(page.get_by_text("Your payment plan has started.")).to_be_visible()
    check_page(browsing, "plan-4-current")

    page.get_by_role("link", name="Bill", exact=True).click()
    expect(page.locator("#plan-line")).to_contain_text(f"{format_cents(down)} is due now")
    with live_app.app.app_context():
        plan = db.session.scalar(sa.select(PaymentPlan))
        assert plan.status == PlanStatus.CURRENT and plan.accepted_how == "online"
        assert plan.down_payment_cents == down


def test_a_clerk_makes_a_plan_and_records_the_signature(live_app, browsing, clerk):
    (billed,) = bill_households(live_app.app, "nguyen")
    with live_app.app.app_context():
        add_rule(db.session)
        db.session.commit()
    page = browsing.page
    sign_in_and_open(browsing, "/staff/plans/", clerk)
    expect(page.get_by_role("heading", name="Payment plans")).to_be_visible()
    page.get_by_label("Account number").fill(billed.number)
    page.get_by_label("Down payment (dollars, due today)").fill("1.00")
    page.get_by_label("Equal monthly installments").fill("2")
    page.get_by_role("button", name="Make the plan").click()
    expect(page.get_by_role("alert")).to_contain_text("The down payment must be at least")
    page.get_by_label("Down payment (dollars, due today)").fill(
        format_cents(billed.owed_cents // 2, symbol="").replace(",", "")
    )
    page.get_by_role("button", name="Make the plan").click()
    expect(page.get_by_text(f"made for account {billed.number}")).to_be_visible()
    shot(browsing, "plans-proposed")
    assert page.evaluate(WIDE) <= 0, "the plans page scrolls sideways at 1280 px"
    page.get_by_role("button", name="Signed at the counter").click()
    expect(page.get_by_text("is current.")).to_be_visible()
    shot(browsing, "plans-current")
    with live_app.app.app_context():
        plan = db.session.scalar(sa.select(PaymentPlan))
        assert (plan.status, plan.accepted_how) == (PlanStatus.CURRENT, "counter")
