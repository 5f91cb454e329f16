"""The resident's statement shows deposits held beside the balance, never as owed or paid, and
the deposit applied to a final bill as a row that lowers what is due."""

from __future__ import annotations

import io
from datetime import date

import pypdf

from billing.deposits import apply_to_final_bill, hold_deposit
from ledger import chart
from notices import statements
from notices.render import render
from tests.billing.test_deposits import BILL, CLERK, _billed


def _text(document) -> str:
    reader = pypdf.PdfReader(io.BytesIO(render(document)))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _hold(session, account, cents: int):
    return hold_deposit(
        session,
        CLERK,
        account_id=account.id,
        amount_cents=cents,
        held_since=date(2026, 1, 15),
        offset_gl_code=chart.CASH_DRAWER,
        source="counter",
    )


def test_a_deposit_held_is_shown_with_its_date_and_is_not_taken_off_the_total(app, session):
    account, _invoice = _billed(session)
    _hold(session, account, 15000)
    document = statements.statement(
        session, app.config, account, date(2026, 11, 1), date(2026, 11, 30)
    )
    assert document.summary.total_due_cents == BILL
    assert document.summary.payments_and_credits_cents == 0
    text = _text(document)
    assert "Deposit held: $150.00 since 01/15/2026" in text
    assert "$107.84" in text


def test_the_deposit_applied_to_the_final_bill_is_a_row_and_no_longer_held(app, session):
    account, invoice = _billed(session)
    _hold(session, account, 5000)
    apply_to_final_bill(session, CLERK, invoice.id)
    document = statements.statement(
        session, app.config, account, date(2026, 11, 1), date(2026, 11, 30)
    )
    assert document.summary.total_due_cents == BILL - 5000
    assert document.summary.payments_and_credits_cents == 5000
    assert document.messages == ()
    (row,) = [row for row in document.activity if row.amount_cents == -5000]
    assert row.description == "Deposit applied to your bill"
    # a statement of October, before the bill, still shows the deposit as held then
    earlier = statements.statement(
        session, app.config, account, date(2026, 10, 1), date(2026, 10, 31)
    )
    assert earlier.messages == (
        "Deposit held: $50.00 since 01/15/2026. A deposit is not a payment "
        "toward your bills; it is returned or applied to your final bill as the town's rules say.",
    )
