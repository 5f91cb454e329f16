"""The bank deposits page: a clerk closes the drawer, deposits it, prints the slip and marks it at
the bank; a supervisor (never the clerk) approves a large over or short first."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from pypdf import PdfReader

from core.extensions import db
from ledger import chart
from ledger.balances import gl_balance
from payments.models import BankDeposit, CashDrawer
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.console.test_counter import post


def _page_post(client, path: str, **data):
    page = client.get("/staff/deposits/").text
    return client.post(path, data={"csrf_token": csrf_token(page), **data})


def _drawer_of_cash_and_a_check(clerk, billed, *, counted_cash: str, coin: str = "") -> None:
    """Float $100, $50 cash and the rest of the bill by check 1042, closed as counted."""
    assert post(clerk, "/staff/counter/open", opening_float="100.00").status_code == 303
    assert (
        post(
            clerk, "/staff/counter/payments", account=billed.number, amount="50.00", tender="cash"
        ).status_code
        == 303
    )
    rest = billed.owed_cents - 5000
    check = post(
        clerk,
        "/staff/counter/payments",
        account=billed.number,
        amount=f"{rest // 100}.{rest % 100:02d}",
        tender="check",
        reference="1042",
    )
    assert check.status_code == 303
    closed = post(
        clerk,
        "/staff/counter/close",
        counted_cash=counted_cash,
        counted_check=f"{rest // 100}.{rest % 100:02d}",
        counted_money_order="0",
        coin=coin,
    )
    assert closed.status_code == 303 and closed.location.endswith("/staff/deposits/")


def test_a_clerk_deposits_the_closed_drawer_prints_the_slip_and_marks_it_at_the_bank(
    app, signed_in
):
    (billed,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    _drawer_of_cash_and_a_check(clerk, billed, counted_cash="149.00", coin="2.50")
    page = clerk.get("/staff/deposits/").text
    assert "posted to cash over and short" in page and "ready" in page
    with app.app_context():
        drawer = db.session.scalar(sa.select(CashDrawer))
        assert gl_balance(db.session, chart.CASH_OVER_SHORT) == 100
    assert _page_post(clerk, "/staff/deposits/").status_code == 422  # nothing ticked
    made = _page_post(clerk, "/staff/deposits/", drawer=str(drawer.id))
    assert made.status_code == 303
    with app.app_context():
        deposit = db.session.scalar(sa.select(BankDeposit))
        assert deposit.amount_cents == billed.owed_cents - 100
        assert gl_balance(db.session, chart.CASH_DRAWER) == 0
    page = clerk.get("/staff/deposits/").text
    assert f"Deposit {deposit.number} made." in page and "Every closed drawer is deposited." in page
    slip = clerk.get(f"/staff/deposits/{deposit.number}/slip.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    rest = billed.owed_cents - 5000
    assert re.search(rf"Check 1042\s*\${rest // 100}\.{rest % 100:02d}", text)
    assert re.search(r"Currency\s*\$46\.50", text) and re.search(r"Coin\s*\$2\.50", text)
    total = deposit.amount_cents
    assert re.search(rf"Total deposit\s*\${total // 100}\.{total % 100:02d}", text)
    refused = _page_post(
        clerk, f"/staff/deposits/{deposit.number}/at-bank", reached_on="not a date"
    )
    assert refused.status_code == 422 and "Enter the date" in refused.text
    banked = _page_post(
        clerk, f"/staff/deposits/{deposit.number}/at-bank", reached_on=deposit.made_on.isoformat()
    )
    assert banked.status_code == 303
    with app.app_context():
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == 0
        assert gl_balance(db.session, chart.BANK) >= total
    assert f"Deposit {deposit.number} is at the bank." in clerk.get("/staff/deposits/").text


def test_a_large_short_is_approved_by_a_supervisor_before_the_drawer_is_deposited(app, signed_in):
    (billed,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    _drawer_of_cash_and_a_check(clerk, billed, counted_cash="120.00")
    page = clerk.get("/staff/deposits/").text
    assert "waits for a supervisor" in page and 'name="drawer"' not in page
    with app.app_context():
        drawer_id = db.session.scalar(sa.select(CashDrawer.id))
    assert _page_post(clerk, f"/staff/deposits/drawers/{drawer_id}/approve").status_code == 403
    supervisor = signed_in("supervisor")
    approved = _page_post(supervisor, f"/staff/deposits/drawers/{drawer_id}/approve")
    assert approved.status_code == 303
    with app.app_context():
        assert gl_balance(db.session, chart.CASH_OVER_SHORT) == 3000
    assert 'name="drawer"' in supervisor.get("/staff/deposits/").text
