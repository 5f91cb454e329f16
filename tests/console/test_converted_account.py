"""A converted account on the clerks' pages: found by its former number, shown with it, its
converted bills marked."""

from __future__ import annotations

from datetime import date
from html import unescape

import sqlalchemy as sa

from accounts.models import Account
from billing.conversion_post import convert
from core.audit import Actor
from core.extensions import db
from tests.billing.billing_fixtures import load_rules
from tests.billing.test_conversion import TOWN, _expected


def test_the_clerk_finds_a_converted_account_by_its_former_number(app, signed_in):
    with app.app_context():
        load_rules(db.session)
        convert(
            db.session,
            Actor.system("test"),
            TOWN,
            expected=_expected(),
            as_of=date(2026, 10, 31),
            code_key=b"t" * 32,
        )
        db.session.commit()
        number = db.session.scalar(
            sa.select(Account.number).where(Account.former_number == "CB-1001")
        )
    clerk = signed_in("clerk")
    found = unescape(clerk.get("/staff/accounts/?q=CB-1001").text)
    assert number in found and "Karin Olson" in found and "Luis Ortega" not in found
    page = unescape(clerk.get(f"/staff/accounts/{number}").text)
    assert "CB-1001 (converted from the old system on 2026-10-31)" in page
    assert page.count("utility (converted)") == 2
