"""A resident with a shutoff notice contests it in Chromium from the bill page and sees it
pending; then a supervisor denies it (server side) and the resident sees the decision and the
reasons written for them, never the internal note. Every portal page is checked by axe-core and
photographed at both widths."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from accounts.services import find_account
from billing.shutoff_rules import load_shutoff_rule
from core.audit import Actor
from core.calendar import town_today
from core.db import utcnow
from core.extensions import db
from notices.models import AppealStatus, ShutoffAppeal
from notices.shutoff_appeals import decide_appeal
from notices.shutoff_notices import issue_shutoff_notice
from tests.browser.portal_pages import check_page
from tests.browser.test_portal import look_up
from tests.notices.test_shutoff import CLERK, RULE

pytestmark = pytest.mark.slow

SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
REASONS = "Our meter test on the day you named found it reads correctly."
NOTE = "Internal: resident was rude on the phone."


def test_a_resident_contests_a_shutoff_and_reads_the_decision(live_app, browsing, billed_account):
    # NOTE: the bill fell due November 23, 2026; the rule asks one day late, so the notice goes
    # out today whatever today is.
    app = live_app.app
    with app.app_context():
        load_shutoff_rule(db.session, CLERK, RULE | {"min_days_past_due": 1})
        account = find_account(db.session, billed_account.number)
        issue_shutoff_notice(db.session, app.config, CLERK, account, town_today(app.config))
        db.session.commit()
    page = browsing.page
    look_up(browsing, billed_account)
    expect(page.get_by_role("heading", name="Your bill")).to_be_visible()
    page.get_by_role("link", name="Contest this shutoff").click()
    expect(page.get_by_role("heading", name="Contest a shutoff")).to_be_visible()
    check_page(browsing, "appeal-1-form")

    page.get_by_role("button", name="Send my appeal").click()
    expect(page.get_by_text("Tell us why you contest the shutoff.")).to_be_visible()
    check_page(browsing, "appeal-2-refused")

    page.get_by_label("Why do you contest the shutoff?").fill("My meter reads too high.")
    page.get_by_role("button", name="Send my appeal").click()
    expect(page.get_by_text("We received your appeal.")).to_be_visible()
    expect(page.locator("#appeal-state")).to_contain_text("Pending")
    expect(page.locator("#appeal-statement")).to_have_text("My meter reads too high.")
    check_page(browsing, "appeal-3-pending")

    with app.app_context():
        appeal = db.session.scalar(sa.select(ShutoffAppeal))
        assert appeal.status == AppealStatus.PENDING and appeal.filed_by == "resident"
        decide_appeal(
            db.session,
            SUPERVISOR,
            appeal,
            upheld=False,
            resident_reasons=REASONS,
            internal_note=NOTE,
            at=utcnow(),
            on=town_today(app.config),
        )
        db.session.commit()

    page.reload()
    expect(page.locator("#appeal-state")).to_contain_text("Denied")
    expect(page.locator("#appeal-reasons")).to_have_text(REASONS)
    assert "rude" not in page.content() and "Internal" not in page.content()
    check_page(browsing, "appeal-4-denied")
    page.get_by_role("link", name="Back to your bill").click()
    expect(page.get_by_role("link", name="See your appeal")).to_be_visible()
    assert "rude" not in page.content()
    assert browsing.errors == []
