"""Deposits held as a liability: held, credited with interest, applied to a final bill, refunded;
the register ties to the deposits-held GL account, and a held deposit is never a payment."""

from datetime import date

import pytest
import sqlalchemy as sa

from billing.deposit_checks import (
    deposit_requirement,
    due_for_refund,
    last_bills,
    late_payments,
    load_deposit_rules,
)
from billing.deposits import (
    DepositError,
    apply_to_final_bill,
    credit_interest,
    hold_deposit,
    refund_deposit,
)
from billing.models import (
    Deposit,
    DepositStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    OwedDeposit,
)
from billing.position import account_position
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.deposit_register import register_tie
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from tests.billing.billing_fixtures import household, load_rules

JOB = Actor.job("test")
CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
#: The October 2026 bill of the fixture household: $107.84, issued Nov 2, due Nov 23.
BILL = 10784


def _rules(session, *, method="credit", interest="1.25", months=12):
    version = {
        "effective": "2020-01-01",
        "who": {"renters": True, "late_payments": {"count": 1, "months": 12}},
        "amount": {"fixed": "150.00"},
        "collect": "before_service",
        "refund": {"after_months": months, "method": method},
    }
    if interest:
        version["interest"] = {"annual_percent": interest, "ordinance": "Town Code 14-3"}
    load_deposit_rules(session, JOB, {"versions": [version]})


def _billed(session):
    plans = load_rules(session)
    account = household(session, plans, "olson", [1000, 5000, 9000, 13000, 18400])
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, JOB, RunOptions())
    invoice = session.scalar(sa.select(Invoice))
    assert invoice.total_cents == BILL
    return account, invoice


def _hold(session, account, cents=15000, since=date(2026, 1, 1), gl=chart.CASH_DRAWER):
    return hold_deposit(
        session,
        CLERK,
        account_id=account.id,
        amount_cents=cents,
        held_since=since,
        offset_gl_code=gl,
        source="counter",
        reference="R-1001",
    )


def test_a_deposit_held_is_a_liability_that_ties_to_the_register(session):
    account, _invoice = _billed(session)
    deposit = _hold(session, account)
    assert (deposit.status, deposit.held_cents) == (DepositStatus.HELD, 15000)
    assert gl_balance(session, chart.DEPOSITS_HELD) == 15000
    assert gl_balance(session, chart.CASH_DRAWER) == 15000
    rows = {row.code: row for row in trial_balance(session).rows}
    assert rows[chart.DEPOSITS_HELD].balance_cents == 15000
    tie = register_tie(session)
    assert (tie.register_cents, tie.ledger_cents, tie.deposits, tie.ties) == (15000, 15000, 1, True)
    assert verify_chain(session).ok


def test_a_held_deposit_is_not_a_payment_toward_the_bill(session):
    account, _invoice = _billed(session)
    _hold(session, account)
    position = account_position(session, account.id, date(2026, 12, 1))
    assert position.owed_cents() == BILL
    assert position.credit_cents == 0
    assert account_receivable(session, account.id) == BILL
    assert account_credit(session, account.id) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -500}, "amount_cents"),
        ({"account_id": 999999}, "account_id"),
        ({"offset_gl_code": "9999"}, "offset_gl_code"),
        ({"offset_gl_code": chart.DEPOSITS_HELD}, "offset_gl_code"),
        ({"source": "gift"}, "source"),
    ],
)
def test_a_wrong_deposit_is_refused_naming_the_field_and_posts_nothing(session, changes, field):
    account, _invoice = _billed(session)
    entries = session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    arguments = {
        "account_id": account.id,
        "amount_cents": 15000,
        "held_since": date(2026, 1, 1),
        "offset_gl_code": chart.CASH_DRAWER,
        "source": "counter",
        **changes,
    }
    with pytest.raises(DepositError) as refused:
        hold_deposit(session, CLERK, **arguments)
    assert refused.value.field == field
    assert session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == entries
    assert session.scalar(sa.select(sa.func.count()).select_from(Deposit)) == 0


def test_the_final_bill_takes_the_deposit_with_interest_and_the_rest_becomes_credit(session):
    account, invoice = _billed(session)
    _rules(session)
    deposit = _hold(session, account)
    applied = apply_to_final_bill(session, CLERK, invoice.id, rounding="half_up")
    # Interest Jan 1 to Nov 2, 2026: 305 days; 15000 * 1.25% * 305 / 365 = 156.68 -> 157 cents.
    assert deposit.interest_cents == 157
    assert applied == BILL
    assert (invoice.balance_cents, invoice.status) == (0, InvoiceStatus.PAID)
    assert (deposit.held_cents, deposit.status, deposit.closed_on) == (
        0,
        DepositStatus.APPLIED,
        date(2026, 11, 2),
    )
    assert account_receivable(session, account.id) == 0
    assert account_credit(session, account.id) == 15000 + 157 - BILL
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0
    assert gl_balance(session, chart.INTEREST_ON_DEPOSITS) == 157
    assert register_tie(session).ties
    assert [m.kind.value for m in deposit.movements] == ["held", "interest", "applied", "refunded"]
    position = account_position(session, account.id, date(2026, 11, 2))
    assert (position.owed_cents(), position.credit_cents) == (0, 15000 + 157 - BILL)


def test_a_smaller_deposit_leaves_the_rest_of_the_final_bill_owed(session):
    account, invoice = _billed(session)
    deposit = _hold(session, account, cents=5000)
    assert apply_to_final_bill(session, CLERK, invoice.id) == 5000
    assert (invoice.balance_cents, invoice.status) == (BILL - 5000, InvoiceStatus.PARTIALLY_PAID)
    assert (deposit.held_cents, deposit.interest_cents) == (0, 0)  # no rules: no interest
    assert account_receivable(session, account.id) == BILL - 5000
    assert account_position(session, account.id, date(2026, 11, 2)).owed_cents() == BILL - 5000
    assert register_tie(session).ties
    assert apply_to_final_bill(session, CLERK, invoice.id) == 0  # nothing held any more


def test_the_excess_goes_out_by_check_request_when_the_rule_says_so(session):
    account, invoice = _billed(session)
    _rules(session, method="check", interest=None)
    _hold(session, account, cents=20000)
    assert apply_to_final_bill(session, CLERK, invoice.id) == BILL
    assert gl_balance(session, chart.REFUNDS_PAYABLE) == 20000 - BILL
    assert account_credit(session, account.id) == 0
    assert register_tie(session).ties


def test_interest_is_credited_once_a_year_from_the_day_held(session):
    account, _invoice = _billed(session)
    _rules(session)
    deposit = _hold(session, account, since=date(2026, 7, 1))
    rule = __import__("billing.deposit_checks").deposit_checks.deposit_rule_on(
        session, date(2026, 12, 31)
    )
    first = credit_interest(
        session,
        JOB,
        deposit,
        rule,
        through=date(2026, 12, 31),
        reference="2026",
        rounding="half_up",
    )
    again = credit_interest(
        session,
        JOB,
        deposit,
        rule,
        through=date(2026, 12, 31),
        reference="2026",
        rounding="half_up",
    )
    year = credit_interest(
        session,
        JOB,
        deposit,
        rule,
        through=date(2027, 12, 31),
        reference="2027",
        rounding="half_up",
    )
    # 183 days: 94.006 -> 94 cents; then a whole year: 187.5 -> 188 cents
    assert (first, again, year) == (94, 0, 188)
    assert (deposit.held_cents, deposit.interest_cents) == (15000 + 94 + 188, 282)
    assert gl_balance(session, chart.DEPOSITS_HELD) == 15282
    assert register_tie(session).ties


def test_a_late_payment_delays_the_refund_and_good_history_earns_it(session):
    account, _invoice = _billed(session)
    _rules(session, months=12)
    _hold(session, account, since=date(2025, 10, 1))
    # the Nov 23 bill is unpaid: one late payment within the year
    assert late_payments(session, account.id, date(2026, 12, 1), 12) == 1
    assert due_for_refund(session, date(2026, 12, 1)) == []
    # twelve months after that due date, the late payment has aged out of the window
    assert late_payments(session, account.id, date(2027, 11, 24), 12) == 0
    (deposit,) = due_for_refund(session, date(2027, 11, 24))
    assert (
        refund_deposit(
            session,
            CLERK,
            deposit,
            method="credit",
            on=date(2027, 11, 24),
            reason="twelve months of good history",
        )
        == 15000
    )
    assert deposit.status == DepositStatus.REFUNDED
    assert account_credit(session, account.id) == 15000
    assert register_tie(session).ties


def test_a_renter_is_asked_for_the_deposit_less_what_is_already_held(session):
    account, _invoice = _billed(session)
    _rules(session)
    assert not deposit_requirement(session, account.id, date(2026, 11, 3), "half_up").required
    account.flags = ["renter"]
    session.flush()
    need = deposit_requirement(session, account.id, date(2026, 11, 3), "half_up")
    assert (need.reasons, need.amount_cents, need.collect) == (("renter",), 15000, "before_service")
    _hold(session, account, cents=10000)
    assert (
        deposit_requirement(session, account.id, date(2026, 11, 3), "half_up").amount_cents == 5000
    )
    # after the unpaid bill's due date a late payment is a reason too
    late = deposit_requirement(session, account.id, date(2026, 12, 1), "half_up")
    assert late.reasons == ("renter", "late_payments")


def test_a_refund_is_refused_naming_the_field(session):
    account, _invoice = _billed(session)
    deposit = _hold(session, account)
    with pytest.raises(DepositError) as refused:
        refund_deposit(
            session, CLERK, deposit, method="cash", on=date(2027, 1, 1), reason="moving away"
        )
    assert refused.value.field == "method"
    with pytest.raises(DepositError) as refused:
        refund_deposit(session, CLERK, deposit, method="check", on=date(2027, 1, 1), reason="x")
    assert refused.value.field == "reason"
    with pytest.raises(DepositError) as refused:
        refund_deposit(
            session,
            CLERK,
            deposit,
            method="check",
            on=date(2027, 1, 1),
            reason="moving away",
            cents=15001,
        )
    assert refused.value.field == "cents"
    assert deposit.held_cents == 15000


def test_a_deposit_billed_is_owed_on_a_bill_and_held_as_a_liability_never_revenue(session):
    plans = load_rules(session)
    account = household(session, plans, "olson", [1000, 5000, 9000, 13000, 18400])
    _rules(session)
    session.add(
        OwedDeposit(
            account_id=account.id,
            amount_cents=15000,
            reasons="renter",
            collect="first_bill",
            owed_since=date(2026, 10, 1),
            recorded_by=CLERK.label,
        )
    )
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, JOB, RunOptions())
    invoice = session.scalar(sa.select(Invoice))
    deposit = session.scalar(sa.select(Deposit))
    (line,) = [line for line in invoice.lines if line.source.startswith("deposit:")]
    assert (invoice.total_cents, line.amount_cents) == (BILL + 15000, 15000)
    assert (deposit.source, deposit.reference, deposit.held_since, deposit.held_cents) == (
        "first_bill",
        invoice.number,
        date(2026, 11, 2),
        15000,
    )
    assert gl_balance(session, chart.DEPOSITS_HELD) == 15000
    assert (
        gl_balance(session, "4010") + gl_balance(session, "4020") + gl_balance(session, "4030")
        == BILL
    )  # the deposit is no revenue
    assert account_receivable(session, account.id) == BILL + 15000
    assert register_tie(session).ties
    # the deposit billed does not count as a bill for service when the rules size a deposit,
    # and the deposit held is subtracted from what the rules ask
    assert deposit_requirement(session, account.id, date(2026, 11, 3), "half_up").amount_cents == 0
    assert last_bills(session, sa.select(sa.literal(account.id)), date(2026, 11, 3), 12) == {
        account.id: [BILL]
    }
    # at the final bill it is applied like any deposit: the register and GL 2020 go to zero
    assert apply_to_final_bill(session, CLERK, invoice.id, rounding="half_up") == 15000
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0
    assert register_tie(session).ties


def test_a_converted_deposit_is_booked_on_the_conversion_day_with_its_old_date_kept(session):
    account, _invoice = _billed(session)
    _rules(session)
    deposit = hold_deposit(
        session,
        CLERK,
        account_id=account.id,
        amount_cents=15000,
        held_since=date(2019, 5, 1),
        offset_gl_code=chart.CASH_DRAWER,
        source="conversion",
        reference="OLD-4411",
        on=date(2026, 10, 1),
        interest_through=date(2026, 9, 30),
    )
    (entry,) = session.scalars(sa.select(JournalEntry).where(JournalEntry.source_type == "deposit"))
    assert (deposit.held_since, entry.entry_date) == (date(2019, 5, 1), date(2026, 10, 1))
    assert register_tie(session, date(2026, 9, 30)).register_cents == 0
    assert register_tie(session, date(2026, 10, 1)).ties
    rule = __import__("billing.deposit_checks").deposit_checks.deposit_rule_on(
        session, date(2026, 12, 31)
    )
    # only the days since the old system's last credit earn interest here: 92 days -> 47 cents
    assert (
        credit_interest(
            session,
            JOB,
            deposit,
            rule,
            through=date(2026, 12, 31),
            reference="2026",
            rounding="half_up",
        )
        == 47
    )
    with pytest.raises(DepositError) as refused:
        hold_deposit(
            session,
            CLERK,
            account_id=account.id,
            amount_cents=100,
            held_since=date(2026, 10, 2),
            offset_gl_code=chart.CASH_DRAWER,
            source="conversion",
            on=date(2026, 10, 1),
        )
    assert refused.value.field == "on"
