"""The clerks' dashboard: collections by channel, receivables aging, delinquency and trends,
on a small real town billed, paid and charged through the real services."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, InvoiceKind
from billing.penalty_service import assess_penalties
from console import charts, reports
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import account_credit, account_receivable
from ledger.models import GLAccount, JournalEntry, JournalLine
from payments.counter import open_drawer, take_counter_payment
from payments.models import Channel, Payment, Tender
from payments.refunds import void_counter_payment
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import (
    bill_households,
    tax_owner,
)
from tests.conftest import sign_in

JOB = Actor.job("test")
CLERK = Actor.system("counter clerk")
DUE = date(2026, 11, 23)
CHICAGO = "America/Chicago"
SVG = "{http://www.w3.org/2000/svg}"
CURRENT, DAYS_1_30, DAYS_31_60, DAYS_61_90, OVER_90 = range(5)


@pytest.fixture
def town(app):
    """Three households, each with one open utility bill issued November 2, due November 23."""
    return bill_households(app, "olson", "nguyen", "garcia")


def account_of(number: str) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def pay(number: str, cents: int, on: date, channel=Channel.ONLINE, tender=Tender.CARD) -> Payment:
    """A payment that succeeded and was settled on a day (in the caller's app context)."""
    payment = record_payment(
        db.session,
        JOB,
        account=account_of(number),
        amount_cents=cents,
        invoice_numbers=[],
        channel=channel,
        tender=tender,
    )
    cash = chart.STRIPE_CLEARING if channel == Channel.ONLINE else chart.BANK
    settle_payment(db.session, JOB, payment, on=on, cash_gl=cash)
    db.session.commit()
    return payment


def assess_daily(first: date, last: date) -> None:
    """Assess penalties every day, as the scheduler does, so each charge is booked on its day."""
    day = first
    while day <= last:
        assess_penalties(db.session, JOB, as_of=day, rounding="half_up")
        day += timedelta(days=1)
    db.session.commit()


def ledger_receivables(as_of: date) -> int:
    """What every account owes according to the ledger as of a date."""
    ids = db.session.scalars(sa.select(Account.id)).all()
    return sum(account_receivable(db.session, account_id, as_of) for account_id in ids)


def row(aging: reports.Aging, label: str) -> reports.AgingRow:
    return next(r for r in aging.rows if r.label == label)


# --- aging -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "days_after_due, bucket",
    [(0, CURRENT), (1, DAYS_1_30), (30, DAYS_1_30), (31, DAYS_31_60), (60, DAYS_31_60)]
    + [(61, DAYS_61_90), (90, DAYS_61_90), (91, OVER_90), (400, OVER_90)],
)
def test_open_bills_move_to_older_buckets_as_the_days_pass_their_due_date(
    ctx, town, days_after_due, bucket
):
    owed = sum(b.owed_cents for b in town)
    aging = reports.aging(db.session, DUE + timedelta(days=days_after_due))
    expected = [0] * len(reports.BUCKETS)
    expected[bucket] = owed
    assert aging.bucket_totals == expected
    assert aging.total_cents == owed
    assert {r.label for r in aging.rows if r.total_cents} == {"Water", "Sewer", "Trash"}
    assert row(aging, "Property taxes").total_cents == 0
    assert row(aging, "Penalties and interest").total_cents == 0


def test_nothing_is_receivable_before_the_bills_were_issued(ctx, town):
    assert reports.aging(db.session, date(2026, 11, 1)).total_cents == 0
    assert reports.aging(db.session, date(2026, 11, 2)).total_cents == sum(
        b.owed_cents for b in town
    )


def test_a_partial_payment_lowers_the_bucket_of_the_part_it_paid(ctx):
    """A tax bill in two installments: a payment goes to the older one, and only its bucket drops."""
    owner = tax_owner(db.session, "owner", "251-0001-00", 250_000, JOB)
    db.session.commit()
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX))
    first, second = (i.amount_cents for i in invoice.installments)

    on_due = reports.aging(db.session, date(2026, 1, 31))
    assert row(on_due, "Property taxes").cents == [first + second, 0, 0, 0, 0]
    before = reports.aging(db.session, date(2026, 2, 15))
    assert row(before, "Property taxes").cents == [second, first, 0, 0, 0]

    pay(owner.number, 50_000, date(2026, 2, 10))
    after = reports.aging(db.session, date(2026, 2, 15))
    assert row(after, "Property taxes").cents == [second, first - 50_000, 0, 0, 0]
    # the earlier as_of still shows the bill as it stood before the payment
    assert row(reports.aging(db.session, date(2026, 2, 9)), "Property taxes").cents == [
        second,
        first,
        0,
        0,
        0,
    ]
    assert after.total_cents == ledger_receivables(date(2026, 2, 15))


def test_a_tax_installments_penalties_age_with_the_installment(ctx):
    tax_owner(db.session, "owner", "251-0001-00", 250_000, JOB)
    db.session.commit()
    assess_daily(date(2026, 1, 31), date(2026, 3, 15))
    charges = db.session.scalars(sa.select(InvoiceCharge)).all()
    assert charges and {c.installment_number for c in charges} == {1}
    aging = reports.aging(db.session, date(2026, 3, 15))
    # installment 1 was due January 31: 43 days before March 15
    assert row(aging, "Penalties and interest").cents == [
        0,
        0,
        sum(c.amount_cents for c in charges),
        0,
        0,
    ]
    for day in (date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 15)):
        assert reports.aging(db.session, day).total_cents == ledger_receivables(day), day


def test_the_aging_total_is_the_ledgers_receivables_on_every_day(ctx, town):
    """Exactly what holds: the aging's grand total equals the sum over accounts of the ledger's
    receivables as of any date, when penalties are assessed on the day they fall due (as the
    scheduler does; a charge assessed late is in the aging from its own date but in the ledger
    from the day it was booked). Credit held for an account is not a receivable: it is in
    neither figure and never offsets one."""
    olson, nguyen, garcia = town
    assess_daily(DUE, date(2026, 12, 10))
    pay(olson.number, 2_500, date(2026, 12, 1))
    # two full payments made before either was settled: the second becomes credit held
    first, second = (
        record_payment(
            db.session,
            JOB,
            account=account_of(nguyen.number),
            amount_cents=nguyen.owed_cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        for _ in range(2)
    )
    for payment in (first, second):
        settle_payment(db.session, JOB, payment, on=date(2026, 12, 5), cash_gl=chart.BANK)
    drawer = open_drawer(db.session, CLERK)
    taken = take_counter_payment(
        db.session,
        CLERK,
        drawer=drawer,
        account=account_of(garcia.number),
        amount_cents=1_000,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[],
        on=date(2026, 12, 7),
    )
    void_counter_payment(
        db.session,
        CLERK,
        db.session.get(Payment, taken.payment_id),
        reason="keyed on the wrong account",
        on=date(2026, 12, 8),
    )
    db.session.commit()
    assess_daily(date(2026, 12, 11), date(2027, 3, 1))
    nguyen_id = account_of(nguyen.number).id
    assert account_credit(db.session, nguyen_id) == nguyen.owed_cents
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge)) > 0

    day = date(2026, 11, 1)
    while day <= date(2027, 3, 1):
        assert reports.aging(db.session, day).total_cents == ledger_receivables(day), day
        day += timedelta(days=1)
    before, after = (reports.aging(db.session, d) for d in (date(2026, 11, 30), date(2026, 12, 1)))
    assert before.total_cents - after.total_cents == 2_500


def test_penalties_have_their_own_row(ctx, town):
    assess_daily(DUE, date(2026, 12, 20))
    charged = sum(c.amount_cents for c in db.session.scalars(sa.select(InvoiceCharge)))
    assert charged > 0
    aging = reports.aging(db.session, date(2026, 12, 20))
    assert row(aging, "Penalties and interest").cents == [0, charged, 0, 0, 0]
    assert aging.total_cents == sum(b.owed_cents for b in town) + charged


# --- delinquency -------------------------------------------------------------------------


def test_the_delinquency_rate_counts_accounts_more_than_30_days_past_due(ctx, town):
    olson, nguyen, _garcia = town
    assert reports.delinquency_rate(db.session, date(2026, 12, 23)).rate == 0
    pay(olson.number, olson.owed_cents, date(2026, 12, 1))
    pay(nguyen.number, nguyen.owed_cents, date(2026, 12, 30))
    thirtieth_day = reports.delinquency_rate(db.session, DUE + timedelta(days=30))
    assert (thirtieth_day.open_accounts, thirtieth_day.delinquent_accounts) == (2, 0)
    thirty_first_day = reports.delinquency_rate(db.session, DUE + timedelta(days=31))
    assert (thirty_first_day.open_accounts, thirty_first_day.delinquent_accounts) == (2, 2)
    assert thirty_first_day.rate == 1
    paid_up = reports.delinquency_rate(db.session, date(2026, 12, 30))
    assert (paid_up.open_accounts, paid_up.delinquent_accounts) == (1, 1)
    assert reports.delinquency_rate(db.session, date(2026, 10, 1)).rate is None


# --- collections ----------------------------------------------------------------------


def test_the_days_collections_are_counted_by_channel_in_the_towns_time_zone(ctx, town):
    olson, nguyen, garcia = town
    with time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False):
        pay(olson.number, 1_000, date(2026, 11, 20))
        pay(olson.number, 2_000, date(2026, 11, 20), Channel.MAIL, Tender.CHECK)
        drawer = open_drawer(db.session, CLERK)
        counter = [
            take_counter_payment(
                db.session,
                CLERK,
                drawer=drawer,
                account=account_of(nguyen.number),
                amount_cents=cents,
                tender=Tender.CASH,
                reference=None,
                invoice_numbers=[],
                on=date(2026, 11, 20),
            )
            for cents in (500, 700)
        ]
        void_counter_payment(
            db.session,
            CLERK,
            db.session.get(Payment, counter[1].payment_id),
            reason="keyed twice by mistake",
            on=date(2026, 11, 20),
        )
        record_payment(  # pending: not collected
            db.session,
            JOB,
            account=account_of(garcia.number),
            amount_cents=3_000,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        db.session.commit()
    # 9 p.m. on the 20th in Chicago is already the 21st in UTC
    with time_machine.travel(datetime(2026, 11, 21, 3, 0, tzinfo=UTC), tick=False):
        pay(garcia.number, 4_000, date(2026, 11, 20))

    day = reports.collections_on(db.session, date(2026, 11, 20))
    assert [(c.channel, c.count, c.cents) for c in day.channels] == [
        (Channel.ONLINE, 2, 5_000),
        (Channel.COUNTER, 1, 500),
        (Channel.MAIL, 1, 2_000),
    ]
    assert (day.count, day.cents) == (4, 7_500)
    next_day = reports.collections_on(db.session, date(2026, 11, 21))
    assert next_day.cents == 0
    # a day's collections are the payments the ledger dates that day, whatever UTC said
    payments_in_ledger = db.session.scalar(
        sa.select(sa.func.sum(JournalLine.debit_cents))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.source_type == "payment", JournalEntry.entry_date == date(2026, 11, 20))
    )
    voided = db.session.scalar(
        sa.select(sa.func.sum(JournalLine.credit_cents))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalEntry.source_type == "payment_void", GLAccount.code == chart.CASH_DRAWER)
    )
    assert day.cents == payments_in_ledger - voided


def test_twelve_months_of_billed_and_collected(ctx, town):
    with time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False):
        pay(town[0].number, 1_500, date(2026, 11, 20))
    with time_machine.travel(datetime(2026, 12, 1, 5, 30, tzinfo=UTC), tick=False):
        pay(town[1].number, 2_500, date(2026, 11, 30))  # still November 30 in Chicago
    months = reports.monthly(db.session, 12, date(2026, 12, 15))
    assert [m.month for m in months][0] == date(2026, 1, 1)
    assert [m.month for m in months][-1] == date(2026, 12, 1)
    november = months[-2]
    assert november.billed_cents == sum(b.owed_cents for b in town)
    assert november.collected_cents == 4_000
    assert sum(m.billed_cents + m.collected_cents for m in months[:-2]) == 0
    assert months[-1].collected_cents == 0
    # as of a day before a payment, that payment is not counted yet
    assert reports.monthly(db.session, 12, date(2026, 11, 19))[-1].collected_cents == 0


# --- charts -------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_the_charts_are_well_formed_svg_with_one_bar_per_month_and_series():
    months = reports.month_starts(12, date(2026, 11, 26))
    collected = [i * 123_456 for i in range(12)]
    billed = [200_000] * 12
    one = parse(charts.collections_chart(months, collected))
    assert len(bars(one)) == 12
    assert one.find(f"{SVG}title").text == "Collections by month"
    assert "$81,480.96" in one.find(f"{SVG}desc").text  # the grand total
    axis = [t.text for t in one.iter(f"{SVG}text")]
    assert "$0" in axis and "Dollars" in axis and "Dec" in axis and "2025" in axis
    two = parse(charts.billed_collected_chart(months, billed, collected))
    assert len(bars(two)) == 24
    labels = [b.find(f"{SVG}title").text for b in bars(two)]
    assert labels[:2] == ["Billed, December 2025: $2,000.00", "Collected, December 2025: $0.00"]
    assert "style=" not in charts.collections_chart(months, collected)


def test_chart_texts_are_escaped():
    svg = charts.bar_chart(
        "x",
        'Billed & "collected" <now>',
        "<script>alert(1)</script>",
        [date(2026, 1, 1)],
        [charts.Series("<b>", "#000", [100])],
    )
    root = parse(svg)
    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == 'Billed & "collected" <now>'
    assert root.find(f"{SVG}desc").text == "<script>alert(1)</script>"


def test_the_scale_is_round_and_holds_the_largest_bar():
    assert charts.nice_scale(0) == (100, 500)
    assert charts.nice_scale(123_456) == (50_000, 250_000)
    assert charts.nice_scale(1_000_000) == (200_000, 1_000_000)


# --- the page -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clerk", "auditor"])
def test_the_dashboard_shows_the_figures_to_clerks_and_auditors(
    app, client, make_staff, town, role
):
    assert sign_in(client, make_staff(role)).status_code == 302
    response = client.get("/staff/dashboard?as_of=2026-12-30")
    assert response.status_code == 200
    page = response.text
    assert "<h1>Dashboard</h1>" in page
    for label in ("Water", "Sewer", "Trash", "Property taxes", "Penalties and interest"):
        assert f'<th scope="row">{label}</th>' in page
    for bucket in reports.BUCKETS:
        assert bucket in page
    owed = sum(b.owed_cents for b in town)
    assert f"${owed // 100:,}.{owed % 100:02d}" in page
    assert "100.0% (3 of 3 accounts" in page
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    # Two years of months: one bar a month, and two (billed, collected) in the second chart.
    assert [len(bars(parse(svg))) for svg in svgs] == [24, 48]


def test_the_dashboard_is_linked_from_the_staff_pages(app, client, make_staff):
    assert sign_in(client, make_staff("clerk")).status_code == 302
    home = client.get("/staff/").text
    assert home.count('href="/staff/dashboard"') == 2  # the nav and the list


def test_without_signing_in_the_dashboard_sends_to_sign_in(client):
    response = client.get("/staff/dashboard")
    assert response.status_code == 302
    assert "/login" in response.location


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "2026-02-30", "20261126", "2026-1-5"])
def test_a_bad_as_of_is_refused_with_a_message(client, make_staff, bad):
    assert sign_in(client, make_staff("clerk")).status_code == 302
    response = client.get("/staff/dashboard", query_string={"as_of": bad})
    assert response.status_code == 400
    assert "as_of: enter a date as YYYY-MM-DD" in response.text


def test_without_as_of_the_dashboard_shows_today(client, make_staff):
    assert sign_in(client, make_staff("auditor")).status_code == 302
    response = client.get("/staff/dashboard")
    assert response.status_code == 200
    assert "(today)" in response.text
