"""The two tax bills of a year with an estimated first installment, read the way a resident
reads them: rendered to PDF, their text extracted, and every figure compared with the posted
invoices and the account position."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from billing.models import Invoice
from billing.position import TAX, account_position
from core.money import format_cents
from notices import content
from tests.billing.test_tax_bills_posted import pay
from tests.billing.test_tax_estimates import bills, chicago_town, run
from tests.notices.test_one_truth import MONEY, _after, _cents, _check_a_bill, _scan_lines, _text


@pytest.fixture
def chicago(session):
    """Example 13's town: its 2022 bills, the 2023 levy and estimate posted."""
    return chicago_town(session)


def _read(session, app, invoice: Invoice, day: date | None = None) -> tuple:
    """The bill as made on `day` (its issue date unless told), and its text."""
    document = content.bill(session, app.config, invoice, on=day)
    return document, _text(document)


def test_the_estimated_bill_says_55_percent_of_the_2022_tax_and_asks_for_it(session, app, chicago):
    parcels, _report = chicago
    account = parcels["home"]
    (first,) = bills(session, account, estimated=True)
    document, text = _read(session, app, first)
    prior = sum(
        line.amount_cents
        for invoice in session.scalars(
            sa.select(Invoice).where(
                Invoice.account_id == account.id, Invoice.period_start == date(2022, 1, 1)
            )
        )
        for line in invoice.lines
    )
    assert f"Estimated at 55% of 2022 tax of {format_cents(prior)}" in text
    assert prior == 5_466_97
    owed = account_position(session, account.id, first.issue_date).owed_cents(TAX, 2023)
    assert owed == first.total_cents == 3_006_83
    _check_a_bill(document, text, owed, first.issue_date)
    (line,) = _scan_lines(text)
    assert (line.amount_cents, line.due_date) == (3_006_83, date(2024, 3, 1))


def test_the_second_bill_shows_the_years_tax_the_estimate_deducted_and_what_is_due(
    session, app, chicago
):
    parcels, _report = chicago
    account = parcels["home"]
    pay(session, account, 1_000_00, date(2024, 2, 20))
    run(session, "2023")
    (second,) = bills(session, account, estimated=False)
    document, text = _read(session, app, second)
    tax = sum(line.amount_cents for line in second.lines if line.source.startswith("levy:"))
    (deducted,) = [line.amount_cents for line in second.lines if line.source.startswith("est")]
    assert (tax, deducted, second.total_cents) == (5_630_21, -3_006_83, 2_623_38)
    assert (
        f"Your 2023 tax is {format_cents(tax)}. The first installment billed "
        f"{format_cents(-deducted)} (estimated) is deducted: the second installment is "
        f"{format_cents(second.total_cents)}." in text
    )
    found = re.search(
        r"Less 2023 first installment \(estimated\), billed 01/31/2024.*?(" + MONEY + ")", text
    )
    assert found and _cents(found.group(1)) == deducted
    # The bill asks for the whole year still owed: what is left of the first installment and
    # the second, one stub each.
    position = account_position(session, account.id, second.issue_date)
    owed = position.owed_cents(TAX, 2023)
    assert owed == 5_630_21 - 1_000_00
    _check_a_bill(document, text, owed, second.issue_date)
    stubs = [(s.label, s.amount_due_cents) for s in document.stubs]
    assert stubs == [("1/2", 3_006_83 - 1_000_00), ("2/2", 2_623_38)]
    assert _after("Current charges", text) == second.total_cents


def test_the_second_bill_of_an_estimate_above_the_tax_owes_nothing_and_says_where_it_went(
    session, app, chicago
):
    parcels, _report = chicago
    account = parcels["appealed"]
    pay(session, account, 28_281_31, date(2024, 2, 27))
    run(session, "2023")
    (second,) = bills(session, account, estimated=False)
    document, text = _read(session, app, second)
    assert "Your 2023 tax is $21,099.02." in text
    assert "the second installment is $0.00." in text
    assert (
        "The first installment billed $7,182.29 more than your 2023 tax: it is taken off the "
        "first installment, and what you paid beyond the tax is credit on your account." in text
    )
    _check_a_bill(document, text, 0, second.issue_date)
