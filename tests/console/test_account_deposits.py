"""The account page shows the deposits held, with their dates and interest, to clerks and auditors."""

from __future__ import annotations

from datetime import date
from html import unescape

import sqlalchemy as sa

from accounts.models import Account
from billing.deposit_checks import deposit_rule_on, load_deposit_rules
from billing.deposits import credit_interest, hold_deposit
from core.audit import Actor
from core.extensions import db
from ledger import chart
from tests.billing.billing_fixtures import bill_households
from tests.conftest import sign_in

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")


def test_the_account_page_lists_deposits_with_their_dates_and_interest(app, make_staff):
    (olson,) = bill_households(app, "olson")
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == olson.number))
        load_deposit_rules(
            db.session,
            CLERK,
            {
                "versions": [
                    {
                        "effective": "2020-01-01",
                        "who": {"renters": True},
                        "amount": {"fixed": "150.00"},
                        "collect": "before_service",
                        "refund": {"after_months": 12, "method": "check"},
                        "interest": {"annual_percent": "1.25", "ordinance": "Town Code 14-3"},
                    }
                ]
            },
        )
        deposit = hold_deposit(
            db.session,
            CLERK,
            account_id=account.id,
            amount_cents=15000,
            held_since=date(2025, 12, 31),
            offset_gl_code=chart.CASH_DRAWER,
            source="counter",
            reference="R-1001",
        )
        credit_interest(
            db.session,
            CLERK,
            deposit,
            deposit_rule_on(db.session, date(2026, 12, 31)),
            through=date(2026, 12, 31),
            reference="2026",
            rounding="half_up",
        )
        db.session.commit()
    auditor = app.test_client()
    sign_in(auditor, make_staff("auditor"))
    page = unescape(auditor.get(f"/staff/accounts/{olson.number}").text)
    deposits = page[page.index('<h2 id="deposits">') : page.index("<h2>Payments</h2>")]
    # a whole year at 1.25% on $150.00: 187.5 cents, rounded half up
    for shown in (
        "2025-12-31",
        "counter (R-1001)",
        "$150.00",
        "$1.88",
        "2026-12-31",
        "$151.88",
        "held",
    ):
        assert shown in deposits, shown
