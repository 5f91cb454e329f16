"""Invoices: totals are the sum of their lines, the ledger follows, the database refuses nonsense."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import ServicePoint
from accounts.services import find_account
from billing.invoices import InvoiceError, LineDraft, invoices_not_matching_lines, post_invoice
from billing.models import Invoice, InvoiceKind, InvoiceStatus, LineCategory
from core.audit import Actor
from ledger import chart
from ledger.balances import account_receivable, trial_balance
from ledger.verify import verify_chain

JOB = Actor.job("billing_run")
ISSUE = date(2026, 11, 1)


def water_lines():
    """A small real-looking water and sewer bill."""
    return [
        LineDraft(
            'Water base charge, 5/8" meter',
            1850,
            "4010",
            "1110",
            quantity=Decimal(1),
            unit="month",
            unit_rate=Decimal("18.50"),
        ),
        LineDraft(
            "Water, 0-3,000 gallons",
            1269,
            "4010",
            "1110",
            quantity=Decimal(3),
            unit="1,000 gal",
            unit_rate=Decimal("4.23"),
        ),
        LineDraft(
            "Sewer, 3,000 gallons",
            2016,
            "4020",
            "1120",
            quantity=Decimal(3),
            unit="1,000 gal",
            unit_rate=Decimal("6.72"),
        ),
    ]


def _post(session, account, lines, month=10):
    start = date(2026, month, 1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return post_invoice(
        session,
        JOB,
        account=account,
        kind=InvoiceKind.UTILITY,
        period_start=start,
        period_end=end,
        issue_date=ISSUE,
        due_date=ISSUE + timedelta(days=21),
        lines=lines,
    )


def test_posting_an_invoice_stores_lines_numbers_it_and_debits_the_receivable(
    session, session_account
):
    account = find_account(session, session_account)
    invoice = _post(session, account, water_lines())
    session.commit()
    assert invoice.number == "2026-000001"
    assert invoice.total_cents == invoice.balance_cents == 1850 + 1269 + 2016
    assert invoice.status == InvoiceStatus.OPEN
    assert account_receivable(session, account.id) == invoice.total_cents
    assert verify_chain(session).ok


def test_invoice_numbers_are_gap_free_within_a_year(session, session_account):
    account = find_account(session, session_account)
    numbers = [_post(session, account, water_lines(), month).number for month in (7, 8, 9)]
    assert numbers == ["2026-000001", "2026-000002", "2026-000003"]


def test_the_same_account_kind_and_period_cannot_be_billed_twice(session, session_account):
    account = find_account(session, session_account)
    _post(session, account, water_lines())
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        _post(session, account, water_lines())
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1


def test_a_negative_total_is_refused_before_anything_is_written(session, session_account):
    account = find_account(session, session_account)
    lines = [LineDraft("Credit", -500, "4010", "1110"), LineDraft("Water", 100, "4010", "1110")]
    with pytest.raises(InvoiceError, match="cannot be negative"):
        _post(session, account, lines)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoice SET total_cents = -1, balance_cents = -1",
        "UPDATE invoice SET balance_cents = total_cents + 1",
        "UPDATE invoice SET status = 'paid'",
        "UPDATE invoice SET status = 'settled'",
        "UPDATE invoice SET due_date = '2026-01-01'",
    ],
)
def test_the_database_refuses_nonsense_in_an_invoice(session, session_account, statement):
    _post(session, find_account(session, session_account), water_lines())
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(sa.text(statement))
        session.flush()
    session.rollback()


def test_the_database_refuses_a_reading_before_the_meter_was_installed(session, session_account):
    account = find_account(session, session_account)
    point = ServicePoint(
        account=account,
        service_kind="water",
        service_street="1 Elm",
        service_city="Maple Falls",
        service_zip="54901",
        meter_id="W-1",
        dial_digits=6,
        installed_on=date(2020, 5, 1),
    )
    session.add(point)
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.text(
                "INSERT INTO meter_reading (service_point_id, meter_installed_on, read_on, reading, kind, "
                "recorded_by) VALUES (:id, '2020-05-01', '2020-04-30', 10, 'actual', 'test')"
            ),
            {"id": point.id},
        )
    session.rollback()
    with pytest.raises(sa.exc.IntegrityError):  # and one cannot lie about the installation date
        session.execute(
            sa.text(
                "INSERT INTO meter_reading (service_point_id, meter_installed_on, read_on, reading, kind, "
                "recorded_by) VALUES (:id, '2019-01-01', '2019-06-30', 10, 'actual', 'test')"
            ),
            {"id": point.id},
        )
    session.rollback()


amounts = st.integers(min_value=-50_00, max_value=5_000_00)
categories = st.sampled_from(list(LineCategory))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(amounts, categories), min_size=1, max_size=8).filter(
        lambda ls: sum(a for a, _ in ls) >= 0
    )
)
def test_every_stored_invoice_total_is_the_sum_of_its_lines(session, session_account, drafts):
    account = find_account(session, session_account)
    month_offset = session.scalar(sa.select(sa.func.count()).select_from(Invoice))
    start = date(2000, 1, 1) + timedelta(days=31 * month_offset)
    lines = [
        LineDraft(
            f"line {i}", cents, "4010" if i % 2 else chart.PENALTY_REVENUE, "1110", category=cat
        )
        for i, (cents, cat) in enumerate(drafts)
    ]
    post_invoice(
        session,
        JOB,
        account=account,
        kind=InvoiceKind.UTILITY,
        period_start=start,
        period_end=start + timedelta(days=29),
        issue_date=ISSUE,
        due_date=ISSUE,
        lines=lines,
    )
    session.commit()
    assert invoices_not_matching_lines(session) == []
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents
    open_balances = session.scalar(sa.select(sa.func.sum(Invoice.balance_cents)))
    assert account_receivable(session, account.id) == open_balances


def test_a_tampered_total_is_reported_by_the_invoice_check(session, session_account):
    invoice = _post(session, find_account(session, session_account), water_lines())
    session.commit()
    session.execute(
        sa.text("UPDATE invoice SET total_cents = total_cents + 100, balance_cents = 0")
    )
    session.commit()
    assert invoices_not_matching_lines(session) == [invoice.number]
