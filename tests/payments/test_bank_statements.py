"""A bank statement clears what the books expect (deposits by number or by amount and date,
Stripe payouts by id or amount and arrival), posts the fees the rule takes, and queues the
rest for the clerks; a file that does not hold, or comes twice, is refused whole."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.audit import Actor
from core.models import AuditEvent
from ledger import chart
from ledger.balances import gl_balance, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.bank_deposits import deposit_drawers
from payments.bank_statements import import_statement
from payments.counter import open_drawer
from payments.models import (
    BankDeposit,
    BankDepositStatus,
    ReconciliationItem,
    ReconciliationKind,
    Tender,
)
from payments.statement_files import StatementRefused
from payments.statement_matching import FeeRule
from payments.statement_models import BankStatement, BankStatementLine, LineStatus
from payments.webhooks import post_payout
from tests.payments.bank_files import (
    CREDIT_CODE,
    DEBIT_CODE,
    FEE_CODE,
    bai2_statement,
    csv_statement,
)
from tests.payments.test_counter_refunds import CLERK, DAY, _billed
from tests.payments.test_deposits_bank import _close, _take_as

RULE = FeeRule(type_codes=frozenset({FEE_CODE}), patterns=(r"SERVICE CHARGE",), max_cents=5000)
BANK_DAY = DAY + timedelta(days=1)
STRIPE = Actor.system("stripe webhook")


def deposit_of(session, account, cents: int, clerk: Actor = CLERK) -> BankDeposit:
    """A drawer that took `cents` in cash, closed and deposited on DAY."""
    drawer = open_drawer(session, clerk, opening_float_cents=0)
    _take_as(session, clerk, drawer, account, cents, Tender.CASH, None)
    _close(session, drawer, cash=cents, checks=0, money_orders=0, clerk=clerk)
    return deposit_drawers(session, clerk, [drawer], on=DAY)


def imported(session, lines, *, day=BANK_DAY, **kwargs):
    """Import a BAI2 statement of these lines."""
    data = bai2_statement(lines, day=day, **kwargs)
    return import_statement(session, CLERK, data, filename="stmt.bai", fee_rule=RULE)


def _lines(session, statement) -> list[BankStatementLine]:
    return list(
        session.scalars(
            sa.select(BankStatementLine)
            .where(BankStatementLine.statement_id == statement.id)
            .order_by(BankStatementLine.number)
        )
    )


def _books_hold(session) -> None:
    trial = trial_balance(session)
    assert trial.total_debit_cents == trial.total_credit_cents
    assert verify_chain(session).ok


def test_a_credit_naming_the_deposit_confirms_it_at_the_bank_on_the_statement_day(session):
    account = _billed(session)
    deposit = deposit_of(session, account, 2500)
    report = imported(session, [(2500, CREDIT_CODE, deposit.number, "DEPOSIT")])
    (line,) = _lines(session, report.statement)
    assert (line.status, line.matched_kind, line.matched_ref, line.rule) == (
        LineStatus.MATCHED,
        "bank_deposit",
        deposit.number,
        "reference",
    )
    session.refresh(deposit)
    assert deposit.status == BankDepositStatus.AT_BANK and deposit.reached_bank_on == BANK_DAY
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 0
    assert gl_balance(session, chart.BANK) == 2500
    entry = session.scalar(
        sa.select(JournalEntry)
        .where(JournalEntry.source_type == "bank_deposit", JournalEntry.source_id == deposit.number)
        .order_by(JournalEntry.seq.desc())
    )
    assert entry.entry_date == BANK_DAY and "reached the bank" in entry.memo
    _books_hold(session)


def test_a_credit_of_a_deposits_amount_within_days_matches_it_when_it_is_the_only_one(session):
    account = _billed(session)
    deposit = deposit_of(session, account, 1800)
    report = imported(session, [(1800, CREDIT_CODE, "", "COUNTER DEPOSIT")], day=DAY + timedelta(3))
    (line,) = _lines(session, report.statement)
    assert (line.matched_ref, line.rule) == (deposit.number, "amount_and_date")
    too_late = deposit_of(session, account, 1900, Actor("user", "9", "b@example.org", None))
    report = imported(session, [(1900, CREDIT_CODE, "", "DEPOSIT")], day=DAY + timedelta(9))
    (line,) = _lines(session, report.statement)
    assert line.status == LineStatus.QUEUED
    assert session.get(BankDeposit, too_late.id).status == BankDepositStatus.IN_TRANSIT


def test_two_deposits_of_one_amount_are_not_guessed_between(session):
    account = _billed(session)
    first = deposit_of(session, account, 1500)
    second = deposit_of(session, account, 1500, Actor("user", "9", "b@example.org", None))
    report = imported(session, [(1500, CREDIT_CODE, "", "DEPOSIT")])
    (line,) = _lines(session, report.statement)
    assert line.status == LineStatus.QUEUED
    item = session.scalar(sa.select(ReconciliationItem))
    assert item.kind == ReconciliationKind.BANK_CREDIT_UNMATCHED
    assert "2 book items of this amount" in item.suggestion
    for deposit in (first, second):
        assert session.get(BankDeposit, deposit.id).status == BankDepositStatus.IN_TRANSIT


def test_a_payout_matches_by_amount_and_arrival_and_a_second_statement_cannot_take_it(session):
    post_payout(session, STRIPE, "po_1AbCdEfGh", 43210, BANK_DAY)
    report = imported(session, [(43210, "165", "", "STRIPE TRANSFER")])
    (line,) = _lines(session, report.statement)
    assert (line.matched_kind, line.matched_ref, line.rule) == (
        "payout",
        "po_1AbCdEfGh",
        "amount_and_date",
    )
    again = imported(
        session, [(43210, "165", "po_1AbCdEfGh", "STRIPE")], opening=43210, file_id="2"
    )
    (second,) = _lines(session, again.statement)
    assert second.status == LineStatus.QUEUED
    assert gl_balance(session, chart.BANK) == 43210  # the payout posted once, by Stripe's event


def test_a_payout_named_in_the_reference_matches_even_a_day_late(session):
    post_payout(session, STRIPE, "po_9ZyXwVuTs", 1000, BANK_DAY)
    post_payout(session, STRIPE, "po_8ZyXwVuTs", 1000, BANK_DAY)
    report = imported(
        session, [(1000, "165", "po_8ZyXwVuTs", "STRIPE")], day=BANK_DAY + timedelta(1)
    )
    (line,) = _lines(session, report.statement)
    assert (line.matched_ref, line.rule) == ("po_8ZyXwVuTs", "reference")


def test_a_credit_naming_a_deposit_of_another_amount_is_queued_not_matched(session):
    account = _billed(session)
    deposit = deposit_of(session, account, 2500)
    report = imported(session, [(2400, CREDIT_CODE, deposit.number, "DEPOSIT")])
    assert [line.status for line in _lines(session, report.statement)] == [LineStatus.QUEUED]
    assert session.get(BankDeposit, deposit.id).status == BankDepositStatus.IN_TRANSIT
    assert "but the bank credited 2400" in session.scalar(sa.select(ReconciliationItem)).suggestion


def test_a_fee_the_rule_takes_is_posted_and_a_larger_or_unknown_debit_is_queued(session):
    report = imported(
        session,
        [
            (-1500, FEE_CODE, "", "MONTHLY SERVICE CHARGE"),
            (-9000, FEE_CODE, "", "WIRE INVESTIGATION FEE"),
            (-700, DEBIT_CODE, "", "RETURNED ITEM"),
        ],
        opening=20000,
    )
    fee, large, returned = _lines(session, report.statement)
    assert (fee.status, fee.matched_kind) == (LineStatus.FEE_POSTED, "bank_fee")
    assert large.status == returned.status == LineStatus.QUEUED
    assert gl_balance(session, chart.BANK_FEES) == 1500
    assert gl_balance(session, chart.BANK) == -1500
    entry = session.scalar(sa.select(JournalEntry).where(JournalEntry.source_type == "bank_fee"))
    assert entry.source_id == fee.matched_ref and "MONTHLY SERVICE CHARGE" in entry.memo
    kinds = session.scalars(sa.select(ReconciliationItem.kind)).all()
    assert kinds == [ReconciliationKind.BANK_DEBIT_UNMATCHED] * 2
    assert (report.matched, report.fees, len(report.queued)) == (0, 1, 2)
    _books_hold(session)


def test_the_import_is_audited_with_its_counts(session):
    imported(session, [(500, CREDIT_CODE, "", "UNKNOWN WIRE")])
    event = session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "bank_statement.import")
    )
    assert event.summary["queued"] == 1 and event.summary["lines"] == 1


def _nothing_taken(session) -> None:
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatement)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatementLine)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ReconciliationItem)) == 0


GOOD = [(2500, CREDIT_CODE, "", "DEPOSIT"), (-300, FEE_CODE, "", "SERVICE CHARGE")]


def _spoil(data: bytes, record: str, total: int) -> bytes:
    """Change the control total of one trailer (49, 98 or 99) by a cent."""
    lines = data.decode().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(record + ","):
            fields = line.split(",")
            fields[1] = str(total + 1)
            lines[i] = ",".join(fields)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("49", "account trailer's control total"),
        ("98", "group trailer's control total"),
        ("99", "file trailer's control total"),
    ],
)
def test_a_bai2_file_whose_trailer_disagrees_is_refused_naming_it(session, record, words):
    data = bai2_statement(GOOD, day=BANK_DAY, opening=1000)
    total = 1000 + 3200 + 2500 + 300
    with pytest.raises(StatementRefused, match=words):
        import_statement(
            session, CLERK, _spoil(data, record, total), filename="x.bai", fee_rule=RULE
        )
    _nothing_taken(session)


def test_a_truncated_bai2_file_is_refused(session):
    data = bai2_statement(GOOD, day=BANK_DAY)
    cut = data[: data.index(b"\n98,")]
    with pytest.raises(StatementRefused, match="truncated"):
        import_statement(session, CLERK, cut, filename="x.bai", fee_rule=RULE)
    _nothing_taken(session)


def test_balances_that_do_not_add_up_are_refused(session):
    data = bai2_statement(GOOD, day=BANK_DAY, opening=1000, closing=1000)
    with pytest.raises(StatementRefused, match="is not the closing balance"):
        import_statement(session, CLERK, data, filename="x.bai", fee_rule=RULE)
    _nothing_taken(session)


def test_the_same_file_twice_is_refused_and_nothing_is_matched_twice(session):
    account = _billed(session)
    deposit = deposit_of(session, account, 2500)
    data = bai2_statement([(2500, CREDIT_CODE, deposit.number, "DEPOSIT")], day=BANK_DAY)
    import_statement(session, CLERK, data, filename="a.bai", fee_rule=RULE)
    with pytest.raises(StatementRefused, match="imported already"):
        import_statement(session, CLERK, data, filename="copy.bai", fee_rule=RULE)
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatementLine)) == 1
    assert gl_balance(session, chart.BANK) == 2500


def test_another_file_of_the_same_account_day_and_number_is_refused(session):
    imported(session, [(2500, CREDIT_CODE, "", "DEPOSIT")])
    other = bai2_statement([(2600, CREDIT_CODE, "", "DEPOSIT")], day=BANK_DAY)
    with pytest.raises(StatementRefused, match=r"4417001234 for .* \(number 1\) was imported"):
        import_statement(session, CLERK, other, filename="b.bai", fee_rule=RULE)
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatement)) == 1


def test_the_next_days_statement_comes_as_csv_and_is_taken(session):
    first = imported(session, [(2500, CREDIT_CODE, "", "WIRE")], opening=0)
    data = csv_statement(
        [(100, "CR", "", "INTEREST"), (-250, "FEE", "", "MAINTENANCE")],
        day=BANK_DAY + timedelta(days=1),
        opening=2500,
    )
    second = import_statement(
        session, CLERK, data, filename="d.csv", layout="csv-signed", fee_rule=RULE
    )
    assert second.statement.id != first.statement.id
    assert (second.statement.format, second.statement.sequence) == ("csv", "")
    assert (second.matched, second.fees, len(second.queued)) == (0, 1, 1)
    assert gl_balance(session, chart.BANK_FEES) == 250
