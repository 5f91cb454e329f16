"""Billing runs: previewed, posted in batches, never doubled; exceptions held or flagged."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, MeterReading, ReadingKind
from billing import drafts
from billing.invoices import invoices_not_matching_lines
from billing.models import (
    Invoice,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceStatus,
    RatePlan,
    RunStatus,
    Settlement,
)
from billing.runs import RunError, RunOptions, cycle_period, open_run, post_run, preview_run
from core.audit import Actor
from ledger.balances import account_credit, account_receivable, trial_balance
from ledger.posting import credit, debit, post_entry
from ledger.verify import verify_chain
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel

JOB = Actor.job("billing_run")
OPTIONS = RunOptions(batch_size=2)
NORMAL = [1000, 5000, 9000, 13000, 18400]  # 5,400 gallons in October after 4,000 a month


def _october(session):
    return open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )


def _count(session, model=Invoice):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_cycle_is_a_calendar_month_and_a_tax_cycle_a_year():
    assert cycle_period(InvoiceKind.UTILITY, "2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert cycle_period(InvoiceKind.TAX, "2025") == (date(2025, 1, 1), date(2025, 12, 31))
    with pytest.raises(RunError, match="cycle"):
        cycle_period(InvoiceKind.UTILITY, "October")


def test_a_household_bill_to_the_cent(session):
    plans = load_rules(session)
    account = household(session, plans, "olson", NORMAL)
    run = _october(session)
    post_run(session, run, JOB, OPTIONS)
    invoice = session.scalar(sa.select(Invoice))
    lines = [
        (line.description, line.quantity, line.unit_rate, line.amount_cents)
        for line in invoice.lines
    ]
    assert lines == [
        ('Water service charge, 5/8" meter', Decimal("1"), Decimal("11.95"), 1195),
        ("Water usage (0–3 kgal)", Decimal("3"), Decimal("4.44"), 1332),
        ("Water usage (3–10 kgal)", Decimal("2.4"), Decimal("5.38"), 1291),
        ("State water testing fee", Decimal("1"), Decimal("0.62"), 62),
        ("Sewer service charge", Decimal("1"), Decimal("14.50"), 1450),
        ("Sewer usage", Decimal("5.4"), Decimal("6.72"), 3629),
        ("Trash and recycling cart", Decimal("1"), Decimal("18.25"), 1825),
    ]
    assert invoice.total_cents == invoice.balance_cents == 10784
    assert (invoice.period_start, invoice.period_end, invoice.due_date) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        date(2026, 11, 23),
    )
    assert account_receivable(session, account.id) == 10784
    assert invoice.lines[0].source == "plan:MF-WATER@2026-07-01:service"


def test_preview_shows_totals_and_exceptions_and_posts_nothing(session):
    plans = load_rules(session)
    household(session, plans, "normal", NORMAL)
    household(session, plans, "missed", [1000, 5000, 9000, 13000, None])
    household(session, plans, "backwards", [1000, 5000, 9000, 13000, 12000])
    household(session, plans, "leak", [1000, 5000, 9000, 13000, 63000])
    household(session, plans, "rolled", [990_000, 994_000, 998_000, 2_000, 6_500])
    report = preview_run(session, _october(session), OPTIONS)
    assert _count(session) == 0 and verify_chain(session).length == 0
    assert report["invoices"] == 4 and report["held"] == 1
    assert report["exception_counts"] == {
        "missing_reading": 1,
        "negative_consumption": 1,
        "spike": 1,
    }
    held = [e for e in report["exceptions"] if e["held"]]
    assert [(e["meter"], e["code"]) for e in held] == [("W-backwards", "negative_consumption")]
    names = {t["name"] for t in report["totals"]}
    assert {"Revenue - Water", "Revenue - Sewer", "Revenue - Trash"} == names
    assert report["total_cents"] == sum(t["cents"] for t in report["totals"])


def test_posting_then_rerunning_creates_nothing_new(session):
    plans = load_rules(session)
    for name in ("a", "b", "c", "d", "e"):
        household(session, plans, name, NORMAL)
    run = _october(session)
    post_run(session, run, JOB, OPTIONS)
    assert run.status == RunStatus.POSTED and run.invoices_posted == 5
    numbers = session.scalars(sa.select(Invoice.number).order_by(Invoice.number)).all()
    assert numbers == [f"2026-{n:06d}" for n in range(1, 6)]
    rerun = _october(session)
    assert post_run(session, rerun, JOB, OPTIONS)["invoices"] == 5
    run.status = RunStatus.POSTING  # even a run marked unfinished finds everything billed
    session.commit()
    report = post_run(session, run, JOB, OPTIONS)
    assert report["invoices"] == 0 and report["already_billed"] == 5
    assert _count(session) == 5 and verify_chain(session).length == 5
    assert invoices_not_matching_lines(session) == []


def test_a_missing_read_is_estimated_marked_and_stored(session):
    plans = load_rules(session)
    household(session, plans, "missed", [1000, 5000, 9000, 13000, None])
    post_run(session, _october(session), JOB, OPTIONS)
    invoice = session.scalar(sa.select(Invoice))
    usage_lines = [line for line in invoice.lines if "usage" in line.description.lower()]
    assert usage_lines and all("(estimated read)" in line.description for line in usage_lines)
    estimate = session.scalar(
        sa.select(MeterReading).where(MeterReading.kind == ReadingKind.ESTIMATED)
    )
    assert (estimate.read_on, estimate.reading) == (date(2026, 10, 31), 17000)


def test_an_account_without_a_rate_plan_is_held_whole(session):
    plans = load_rules(session)
    account = household(session, plans, "noplan", NORMAL)
    account.service_points[2].rate_plan_id = None
    report = preview_run(session, _october(session), OPTIONS)
    assert report["invoices"] == 0 and report["held"] == 1
    assert report["exception_counts"] == {"no_rate_plan": 1}


def test_an_account_whose_bill_fails_to_compute_is_held_and_the_run_goes_on(session, monkeypatch):
    plans = load_rules(session)
    household(session, plans, "first", NORMAL)
    broken = household(session, plans, "broken", NORMAL).number
    household(session, plans, "last", NORMAL)
    usage_of = drafts._usage_of

    def fails_for_one_meter(point, reads, ctx):
        if point.meter_id == "W-broken":
            raise ZeroDivisionError("division by zero")
        return usage_of(point, reads, ctx)

    monkeypatch.setattr(drafts, "_usage_of", fails_for_one_meter)
    run = _october(session)
    report = preview_run(session, run, OPTIONS)
    assert (report["invoices"], report["held"]) == (2, 1)
    assert report["exception_counts"] == {"bill_error": 1}
    [exception] = report["exceptions"]
    assert (exception["account"], exception["code"], exception["held"]) == (
        broken,
        "bill_error",
        True,
    )
    assert (
        exception["note"] == "the bill could not be computed (ZeroDivisionError: division by zero)"
    )
    post_run(session, run, JOB, OPTIONS)
    assert run.status == RunStatus.POSTED and run.invoices_posted == 2
    billed = session.scalars(sa.select(Account.number).join(Invoice)).all()
    assert broken not in billed and len(billed) == 2
    assert run.report["exception_counts"] == {"bill_error": 1}


def test_a_parcel_whose_tax_fails_to_compute_is_held_and_the_run_goes_on(session, monkeypatch):
    load_demo_levy(session, 2025)
    owner = household(session, load_rules(session), "owner", NORMAL)
    parcel(session, owner, "251-0001-00", 250_000)
    parcel(session, owner, "251-0002-00", 100_000)
    compute = drafts.compute_parcel_tax

    def fails_for_a_small_value(spec, **facts):
        if facts["market_value_cents"] == 100_000_00:
            raise KeyError("residential")
        return compute(spec, **facts)

    monkeypatch.setattr(drafts, "compute_parcel_tax", fails_for_a_small_value)
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    report = post_run(session, run, JOB, OPTIONS)
    assert (report["invoices"], report["held"]) == (1, 1)
    [exception] = report["exceptions"]
    assert exception["code"] == "bill_error" and exception["held"]
    assert exception["note"] == (
        "parcel 251-0002-00: the bill could not be computed (KeyError: 'residential')"
    )
    assert _count(session) == 1


def test_account_credit_is_applied_at_posting(session):
    plans = load_rules(session)
    account = household(session, plans, "credit", NORMAL)
    post_entry(
        session,
        [debit("1000", 3000), credit("2000", 3000, account.id)],
        entry_date=date(2026, 10, 15),
        source_type="payment",
        source_id="overpayment",
        actor=JOB,
    )
    post_run(session, _october(session), JOB, OPTIONS)
    invoice = session.scalar(sa.select(Invoice))
    assert (invoice.total_cents, invoice.balance_cents) == (10784, 7784)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert account_credit(session, account.id) == 0
    assert account_receivable(session, account.id) == 7784
    settlement = session.scalar(sa.select(Settlement))
    assert (settlement.kind.value, settlement.amount_cents) == ("credit_applied", 3000)
    assert verify_chain(session).ok


def test_a_tax_run_bills_each_parcel_with_installments(session):
    load_rules(session)
    load_demo_levy(session, 2025)
    plans = load_rules(session)
    owner = household(session, plans, "owner", NORMAL)
    parcel(session, owner, "251-0001-00", 250_000, ["homestead", "senior"])
    parcel(session, owner, "251-0002-00", 100_000)
    parcel(session, owner, "251-0003-00", None)
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    report = post_run(session, run, JOB, OPTIONS)
    assert report["invoices"] == 2 and report["exception_counts"] == {"no_valuation": 1}
    first = session.scalar(
        sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX).order_by(Invoice.id)
    )
    # 250,000 x 0.95 = 237,500 assessed; less $10,000 homestead and 10% of 237,500 senior = 203,750 taxable
    # (both exemptions are taken at the assessed step, docs/tax.md); each levy's mills rounded once
    assert [line.amount_cents for line in first.lines] == [106_235, 161_615, 171_374, 17_910, 6_418]
    assert first.total_cents == 463_552
    assert [(i.number, i.due_date) for i in first.installments] == [
        (1, date(2026, 1, 31)),
        (2, date(2026, 7, 31)),
    ]
    assert sum(i.amount_cents for i in first.installments) == first.total_cents
    assert first.due_date == date(2026, 1, 31)
    assert {line.category.value for line in first.lines} == {"tax"}
    assert len(first.lines) == 5
    assert post_run(session, run, JOB, OPTIONS)["invoices"] == 2
    assert _count(session, InvoiceInstallment) == 4
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 60_000), st.sampled_from(['5/8"', '1"']), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_any_run_leaves_the_ledger_balanced_and_a_rerun_changes_nothing(session, households):
    # examples share the test's database: the rules and the October run carry over between them
    prefix = session.scalar(sa.select(sa.func.count()).select_from(Account))
    plan_ids = dict(
        session.execute(sa.select(RatePlan.service_kind, RatePlan.id)).all()
    ) or load_rules(session)
    for n, (used, size, trash) in enumerate(households):
        household(
            session,
            plan_ids,
            f"p{prefix}-{n}",
            [1000, 5000, 9000, 13000, 13000 + used],
            meter_size=size,
            trash=trash,
        )
    run = _october(session)
    run.status = RunStatus.POSTING if run.status == RunStatus.POSTED else run.status
    session.commit()
    before = _count(session)
    post_run(session, run, JOB, OPTIONS)
    assert _count(session) == before + len(households)
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents
    assert invoices_not_matching_lines(session) == []
    entries = verify_chain(session).length
    run.status = RunStatus.POSTING
    session.commit()
    post_run(session, run, JOB, OPTIONS)
    assert _count(session) == before + len(households) and verify_chain(session).length == entries
