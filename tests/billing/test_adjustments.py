"""Penalties assessed once per period; voids, reissues and credit memos keep the ledger honest."""

from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import MeterReading
from billing.adjustments import (
    AdjustmentError,
    issue_credit_memo,
    recompute_and_reissue,
    void_invoice,
)
from billing.models import Invoice, InvoiceCharge, InvoiceKind, InvoiceStatus
from billing.penalty_service import assess_penalties
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from ledger.balances import account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel

JOB = Actor.job("test")
SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
NORMAL = [1000, 5000, 9000, 13000, 18400]


def _billed(session, registers=NORMAL):
    plans = load_rules(session)
    account = household(session, plans, "olson", registers)
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, JOB, RunOptions())
    return account, session.scalar(sa.select(Invoice))


def test_the_late_charge_comes_after_the_grace_days_and_only_once(session):
    account, invoice = _billed(session)
    assert (
        assess_penalties(session, JOB, as_of=date(2026, 12, 13), rounding="half_up").charges == 0
    )  # day 20
    result = assess_penalties(session, JOB, as_of=date(2026, 12, 14), rounding="half_up")
    assert (result.charges, result.cents) == (1, 108)  # 1% of $107.84, rounded half up
    again = assess_penalties(session, JOB, as_of=date(2026, 12, 31), rounding="half_up")
    assert again.charges == 0
    charge = session.scalar(sa.select(InvoiceCharge))
    assert (charge.rule_id, charge.period_key, charge.amount_cents) == (
        "mf-utility-late",
        "once",
        108,
    )
    assert account_receivable(session, account.id) == invoice.total_cents + 108
    assert gl_balance(session, "4500") == 108
    assert verify_chain(session).ok


def test_a_dry_run_assesses_nothing(session):
    _billed(session)
    result = assess_penalties(
        session, JOB, as_of=date(2027, 1, 31), rounding="half_up", dry_run=True
    )
    assert result.charges == 1 and result.dry_run
    assert session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge)) == 0
    assert verify_chain(session).length == 1


def test_tax_interest_and_penalty_accrue_per_installment_and_month(session):
    load_demo_levy(session, 2025)
    plans = load_rules(session)
    owner = household(session, plans, "owner", NORMAL)
    parcel(session, owner, "251-0001-00", 250_000, ["homestead", "senior"])
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    post_run(session, run, JOB, RunOptions())
    result = assess_penalties(session, JOB, as_of=date(2026, 3, 15), rounding="half_up")
    # installment 1 ($2,317.76) is delinquent in February and March: 1% interest + 0.5% penalty a month
    charges = session.scalars(sa.select(InvoiceCharge).order_by(InvoiceCharge.id)).all()
    assert {(c.installment_number, c.period_key) for c in charges} == {
        (1, "2026-02"),
        (1, "2026-03"),
    }
    assert result.cents == 2 * (2318 + 1159)
    assert assess_penalties(session, JOB, as_of=date(2026, 3, 15), rounding="half_up").charges == 0
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents


def test_a_voided_invoice_is_reversed_and_reissued_from_corrected_reads(session):
    account, invoice = _billed(session, [1000, 5000, 9000, 13000, 81000])
    assess_penalties(session, JOB, as_of=date(2027, 1, 31), rounding="half_up")
    with pytest.raises(AdjustmentError, match="reason"):
        void_invoice(session, SUPERVISOR, invoice, reason="", on=date(2026, 11, 10))
    void_invoice(session, SUPERVISOR, invoice, reason="misread meter", on=date(2026, 11, 10))
    assert invoice.status == InvoiceStatus.VOID
    assert account_receivable(session, account.id) == 0
    assert gl_balance(session, "4500") == 0
    read = session.scalar(sa.select(MeterReading).where(MeterReading.reading == 81000))
    read.reading = 18400
    new = recompute_and_reissue(
        session,
        SUPERVISOR,
        invoice,
        issue_date=date(2026, 11, 12),
        due_date=date(2026, 12, 3),
        rounding="half_up",
        spike_multiple=3,
    )
    assert new.replaces_id == invoice.id and new.total_cents == 10784
    assert account_receivable(session, account.id) == 10784
    with pytest.raises(AdjustmentError, match="already void"):
        void_invoice(session, SUPERVISOR, invoice, reason="again please", on=date(2026, 11, 12))
    assert verify_chain(session).ok


def test_a_credit_memo_lowers_what_is_owed_and_never_below_zero(session):
    account, invoice = _billed(session)
    with pytest.raises(AdjustmentError, match="more than"):
        issue_credit_memo(
            session,
            SUPERVISOR,
            invoice,
            amount_cents=10785,
            reason="goodwill credit",
            on=date(2026, 11, 5),
        )
    memo = issue_credit_memo(
        session,
        SUPERVISOR,
        invoice,
        amount_cents=1000,
        reason="leak adjustment",
        on=date(2026, 11, 5),
    )
    assert memo.number == "CM-2026-000001"
    entry = session.scalar(sa.select(JournalEntry).order_by(JournalEntry.seq.desc()).limit(1))
    assert (entry.source_type, entry.source_id) == ("credit_memo", "CM-2026-000001")
    assert entry.memo == "Credit memo CM-2026-000001 on invoice 2026-000001: leak adjustment"
    assert (invoice.balance_cents, invoice.status) == (9784, InvoiceStatus.PARTIALLY_PAID)
    assert account_receivable(session, account.id) == 9784
    revenue_after = (
        gl_balance(session, "4010") + gl_balance(session, "4020") + gl_balance(session, "4030")
    )
    assert revenue_after == 10784 - 1000
    issue_credit_memo(
        session, SUPERVISOR, invoice, amount_cents=9784, reason="written down", on=date(2026, 11, 6)
    )
    assert (invoice.balance_cents, invoice.status) == (0, InvoiceStatus.PAID)
    with pytest.raises(AdjustmentError, match="payments or credits"):
        void_invoice(session, SUPERVISOR, invoice, reason="cannot void now", on=date(2026, 11, 7))
    assert verify_chain(session).ok


def test_a_credit_memo_credits_each_receivable_no_more_than_it_still_owes(session):
    account, invoice = _billed(session)  # water $38.80, sewer $50.79, trash $18.25
    issue_credit_memo(
        session,
        SUPERVISOR,
        invoice,
        amount_cents=5000,
        reason="leak adjustment",
        on=date(2026, 11, 5),
    )
    assert (
        gl_balance(session, "1110"),
        gl_balance(session, "1120"),
        gl_balance(session, "1130"),
    ) == (0, 5079 - 1120, 1825)
    issue_credit_memo(
        session,
        SUPERVISOR,
        invoice,
        amount_cents=5784,
        reason="final adjustment",
        on=date(2026, 11, 6),
    )
    assert (
        gl_balance(session, "1110"),
        gl_balance(session, "1120"),
        gl_balance(session, "1130"),
    ) == (0, 0, 0)
    assert invoice.status == InvoiceStatus.PAID and account_receivable(session, account.id) == 0
