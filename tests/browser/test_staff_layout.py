"""Staff pages in Chromium at 1280 px: the audit log stays within the page however long what
it records, headings of figures stand right over their figures, and a billing run's tab
reads as plain text. Screenshots go to test-artifacts/staff/ beside the other staff pages'."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from accounts.models import Account
from billing.models import BillingRun
from core.audit import Actor, record
from core.extensions import db
from tests.billing.billing_fixtures import bill_households
from tests.browser.test_pay import sign_in_and_open
from tests.browser.test_staff import shot
from tests.portal.test_bill import pay_and_settle

pytestmark = pytest.mark.slow

#: What an audit event may hold that has no place to break: an e-mail address, a digest.
LONG_ADDRESS = (
    "accounts.payable.department.northwoods.dental.clinic.and.family.dentistry@example.org"
)
DIGEST = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7"

#: How far each part of the page reaches past the window, and past the main column.
OVERFLOW = """() => {
  const main = document.querySelector("main");
  const inner = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
  return {
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    tables: [...main.querySelectorAll("table")].map((t) => Math.round(t.getBoundingClientRect().right - inner)),
  };
}"""

#: For each heading set right, how far the right edge of its text is from that of each figure
#: below it (0: they line up), with its computed alignment.
HEADINGS_OVER_FIGURES = """() => {
  const right = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return range.getBoundingClientRect().right;
  };
  const found = [];
  for (const table of document.querySelectorAll("main table")) {
    const headings = [...table.querySelectorAll("thead th")];
    headings.forEach((th, column) => {
      if (!th.classList.contains("num")) return;
      const figures = [...table.querySelectorAll("tbody tr")]
        .map((tr) => tr.children[column]).filter((td) => td && td.textContent.trim());
      found.push({
        heading: th.textContent.trim(),
        align: getComputedStyle(th).textAlign,
        offsets: figures.map((td) => Math.round(Math.abs(right(td) - right(th)))),
      });
    });
  }
  return found;
}"""


def test_the_audit_log_stays_within_the_page_and_reads_as_lines(live_app, browsing, clerk):
    (billed,) = bill_households(live_app.app, "olson")
    pay_and_settle(live_app.app, billed.number, 2500)
    with live_app.app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        record(
            db.session,
            Actor("user", "7", LONG_ADDRESS, "127.0.0.1"),
            "account.update",
            account,
            before={"email": "maria.olson@example.org", "document": None},
            after={"email": LONG_ADDRESS, "document": DIGEST},
        )
        db.session.commit()
    page = browsing.page
    sign_in_and_open(browsing, "/staff/books/audit", clerk)
    change = page.locator("table.log td li", has_text="email: maria.olson@example.org →")
    expect(change).to_have_text(f"email: maria.olson@example.org → {LONG_ADDRESS}")
    expect(page.locator("table.log td", has_text="{'")).to_have_count(0)
    shot(browsing, "audit-log-wide")
    reach = page.evaluate(OVERFLOW)
    assert reach["page"] <= 0, reach
    assert all(edge <= 1 for edge in reach["tables"]), reach

    page.goto(f"{browsing.url}/staff/accounts/{billed.number}")
    shot(browsing, "account-audit-trail-wide")
    reach = page.evaluate(OVERFLOW)
    assert reach["page"] <= 0 and all(edge <= 1 for edge in reach["tables"]), reach
    assert browsing.errors == []


def test_headings_of_figures_stand_over_their_figures(live_app, browsing, clerk):
    (billed,) = bill_households(live_app.app, "olson")
    pay_and_settle(live_app.app, billed.number, 2500)
    with live_app.app.app_context():
        run_id = db.session.scalar(sa.select(BillingRun.id))
    page = browsing.page
    sign_in_and_open(browsing, "/staff/dashboard?as_of=2026-11-30", clerk)
    for path, name in (
        ("/staff/dashboard?as_of=2026-11-30", "dashboard-figures"),
        (f"/staff/accounts/{billed.number}", "account-figures"),
        ("/staff/books/trial-balance?as_of=2026-11-30", "trial-balance-figures"),
        (f"/staff/billing-runs/{run_id}", "billing-run"),
    ):
        page.goto(browsing.url + path)
        shot(browsing, name)
        headings = page.evaluate(HEADINGS_OVER_FIGURES)
        assert headings, path
        for heading in headings:
            assert heading["align"] == "right", (path, heading)
            assert all(offset <= 1 for offset in heading["offsets"]), (path, heading)
    assert page.title() == f"Billing run {run_id}: utility 2026-10 · munibill"
    assert browsing.errors == []
