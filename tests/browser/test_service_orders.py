"""A resident asks to stop service in the portal; a clerk confirms it on the service-orders
page; the final bill exists. Every portal page is checked by axe-core and photographed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from werkzeug.security import generate_password_hash

from accounts.locations import OrderStatus, ServiceOrder
from accounts.models import AccountStatus
from billing.models import Invoice
from core.extensions import db
from portal.models import Resident, ResidentAccount
from tests.billing.order_fixtures import rented_house
from tests.browser.portal_pages import check_page
from tests.browser.test_pay import sign_in_and_open
from tests.browser.test_staff import shot

pytestmark = pytest.mark.slow

ADDRESS = "ana.olson@example.net"
PASSWORD = "a long enough resident password"


def test_a_resident_asks_to_stop_a_clerk_confirms_and_the_final_bill_is_posted(
    live_app, browsing, browser, clerk
):
    with live_app.app.app_context():
        house = rented_house(db.session)
        resident = Resident(
            email=ADDRESS,
            password_hash=generate_password_hash(PASSWORD),
            verified_at=datetime.now(UTC),
        )
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=house.tenant.id))
        tenant_id = house.tenant.id
        db.session.commit()
    page = browsing.page
    page.goto(f"{browsing.url}/signin")
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Stop or move service").click()
    expect(page.get_by_role("heading", name="Stop or move service")).to_be_visible()
    check_page(browsing, "service-1-form")
    page.get_by_label("Stop service: I am leaving").check()
    page.get_by_label("Your last day at this address").fill("2026-11-15")
    page.get_by_label("Street", exact=True).fill("88 Harbor Rd")
    page.get_by_label("City").fill("Duluth")
    page.get_by_label("State").fill("MN")
    page.get_by_label("ZIP code").fill("55802")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Your request is sent.")).to_be_visible()
    check_page(browsing, "service-2-sent")

    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    clerk_page = staff.new_page()
    clerk_browsing = type(browsing)(clerk_page, browsing.url)
    sign_in_and_open(clerk_browsing, "/staff/service-orders/", clerk)
    expect(clerk_page.get_by_role("heading", name="Residents' requests (1)")).to_be_visible()
    shot(clerk_browsing, "service-orders-queue")
    clerk_page.get_by_label("Meter reading (blank: estimated)").fill("20000")
    clerk_page.get_by_role("button", name="Confirm request").click()
    expect(clerk_page.get_by_role("status")).to_contain_text("Final bill")
    shot(clerk_browsing, "service-orders-confirmed")
    staff.close()

    with live_app.app.app_context():
        order = db.session.scalar(sa.select(ServiceOrder))
        assert order.status == OrderStatus.CONFIRMED
        final = db.session.get(Invoice, order.final_invoice_id)
        assert final.is_final and final.account_id == tenant_id and final.total_cents == 3080
        assert order.account.status == AccountStatus.CLOSED
    page.reload()
    expect(page.get_by_text("done; your last bill is on its way")).to_be_visible()
    assert browsing.errors == []
