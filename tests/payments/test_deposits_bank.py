"""A drawer's close-out posts its over or short; closed drawers go to the bank in a deposit,
once, with a slip that lists what the bank receives; the bank's confirmation moves it to 1000.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import current_app
from pypdf import PdfReader
from sqlalchemy.orm import Session

from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import gl_balance, trial_balance
from ledger.models import JournalEntry, JournalLine
from ledger.verify import verify_chain
from notices.deposit_slip import deposit_slip, render_slip
from payments.bank_deposits import confirm_at_bank, deposit_drawers, undeposited_drawers
from payments.counter import (
    approve_over_short,
    close_drawer,
    open_drawer,
    take_counter_payment,
)
from payments.models import BankDeposit, BankDepositStatus, CashDrawer, Tender
from payments.services import PaymentRefused
from tests.payments.test_counter_refunds import CLERK, DAY, SUPERVISOR, _billed

FLOAT = 5000
LIMIT = 2000
OTHER_CLERK = Actor("user", "4", "second.clerk@example.org", "127.0.0.1")


def _balances_hold(session) -> None:
    """The trial balance balances and the hash chain is whole."""
    trial = trial_balance(session)
    assert trial.total_debit_cents == trial.total_credit_cents
    assert verify_chain(session).ok


def _drawer_with_cash_and_checks(session, account, clerk=CLERK):
    """A drawer with a $50 float, $20 cash, checks 1042 ($30) and 1043 ($12.34), MO-77 ($10)."""
    drawer = open_drawer(session, clerk, opening_float_cents=FLOAT)
    for cents, tender, reference in [
        (2000, Tender.CASH, None),
        (3000, Tender.CHECK, "1042"),
        (1234, Tender.CHECK, "1043"),
        (1000, Tender.MONEY_ORDER, "MO-77"),
    ]:
        _take_as(session, clerk, drawer, account, cents, tender, reference)
    return drawer


def _take_as(session, clerk, drawer, account, cents, tender, reference):
    """A counter payment taken by `clerk` into their drawer."""
    return take_counter_payment(
        session,
        clerk,
        drawer=drawer,
        account=account,
        amount_cents=cents,
        tender=tender,
        reference=reference,
        invoice_numbers=[],
        on=DAY,
    )


def _close(session, drawer, cash, checks=4234, money_orders=1000, coin=None, clerk=CLERK):
    return close_drawer(
        session,
        clerk,
        drawer,
        counted_cents={"cash": cash, "check": checks, "money_order": money_orders},
        on=DAY,
        approval_limit_cents=LIMIT,
        coin_cents=coin,
    )


def _over_short_entries(session, drawer) -> list[JournalEntry]:
    return list(
        session.scalars(
            sa.select(JournalEntry).where(
                JournalEntry.source_type == "drawer_over_short",
                JournalEntry.source_id == str(drawer.id),
            )
        )
    )


def test_a_drawer_short_by_a_dollar_posts_the_dollar_to_over_and_short(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    assert gl_balance(session, chart.CASH_DRAWER) == 7234
    report = _close(session, drawer, cash=FLOAT + 2000 - 100)
    assert report["difference_cents"] == {"cash": -100, "check": 0, "money_order": 0}
    assert gl_balance(session, chart.CASH_OVER_SHORT) == 100  # an expense: short is a debit
    assert gl_balance(session, chart.CASH_DRAWER) == 7234 - 100
    (entry,) = _over_short_entries(session, drawer)
    lines = {(line.gl_account.code, line.debit_cents, line.credit_cents) for line in entry.lines}
    assert lines == {(chart.CASH_OVER_SHORT, 100, 0), (chart.CASH_DRAWER, 0, 100)}
    assert entry.entry_date == DAY and "short by $1.00" in entry.memo
    assert (
        session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "drawer.over_short", AuditEvent.object_id == str(drawer.id)
            )
        ).summary["over_short_cents"]
        == -100
    )
    _balances_hold(session)


def test_a_drawer_over_by_a_dollar_credits_over_and_short(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000 + 100)
    assert gl_balance(session, chart.CASH_OVER_SHORT) == -100  # a credit on an expense account
    assert gl_balance(session, chart.CASH_DRAWER) == 7234 + 100
    (entry,) = _over_short_entries(session, drawer)
    lines = {(line.gl_account.code, line.debit_cents, line.credit_cents) for line in entry.lines}
    assert lines == {(chart.CASH_DRAWER, 100, 0), (chart.CASH_OVER_SHORT, 0, 100)}
    _balances_hold(session)


def test_a_drawer_that_counts_right_posts_nothing_to_over_and_short(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000)
    assert drawer.over_short_cents == 0 and _over_short_entries(session, drawer) == []
    assert drawer.deposit_cents == 7234


def test_an_over_or_short_above_the_limit_waits_for_another_persons_approval(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000 - 1500, checks=4234 - 1000)
    assert drawer.awaiting_approval and _over_short_entries(session, drawer) == []
    assert gl_balance(session, chart.CASH_OVER_SHORT) == 0
    with pytest.raises(PaymentRefused, match="waits for a supervisor"):
        deposit_drawers(session, CLERK, [drawer], on=DAY)
    with pytest.raises(PaymentRefused, match="another person"):
        approve_over_short(session, CLERK, drawer, on=DAY)
    approve_over_short(session, SUPERVISOR, drawer, on=DAY)
    assert drawer.over_short_approved_by == SUPERVISOR.label
    assert gl_balance(session, chart.CASH_OVER_SHORT) == 2500
    with pytest.raises(PaymentRefused, match="no over or short awaiting"):
        approve_over_short(session, SUPERVISOR, drawer, on=DAY)
    deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
    assert deposit.amount_cents == 7234 - 2500
    assert gl_balance(session, chart.CASH_DRAWER) == 0
    _balances_hold(session)


def test_a_deposit_moves_the_counted_money_to_transit_and_the_cash_account_back_to_before(
    session,
):
    account = _billed(session)
    before = gl_balance(session, chart.CASH_DRAWER)
    first = _drawer_with_cash_and_checks(session, account)
    _close(session, first, cash=FLOAT + 2000 - 100)
    second = open_drawer(session, OTHER_CLERK, opening_float_cents=FLOAT)
    _take_as(session, OTHER_CLERK, second, account, 500, Tender.CASH, None)
    _close(session, second, cash=FLOAT + 500, checks=0, money_orders=0, clerk=OTHER_CLERK)
    assert {d.id for d in undeposited_drawers(session)} == {first.id, second.id}
    deposit = deposit_drawers(session, CLERK, [first, second], on=DAY)
    assert deposit.number == f"BD-{DAY.year}-000001"
    assert deposit.amount_cents == (7234 - 100) + 500
    # NOTE: the floats stay in the drawers, never posted: 1010 is back where it stood.
    assert gl_balance(session, chart.CASH_DRAWER) == before
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == deposit.amount_cents
    assert undeposited_drawers(session) == []
    assert {first.bank_deposit_id, second.bank_deposit_id} == {deposit.id}
    _balances_hold(session)


def test_a_drawer_is_deposited_once(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000)
    deposit_drawers(session, CLERK, [drawer], on=DAY)
    with pytest.raises(PaymentRefused, match="already in a deposit"):
        deposit_drawers(session, CLERK, [drawer], on=DAY)
    with pytest.raises(PaymentRefused, match="named twice"):
        deposit_drawers(session, CLERK, [drawer, drawer], on=DAY)
    still_open = open_drawer(session, CLERK)
    with pytest.raises(PaymentRefused, match="still open"):
        deposit_drawers(session, CLERK, [still_open], on=DAY)
    assert session.scalar(sa.select(sa.func.count()).select_from(BankDeposit)) == 1
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 7234


def test_marking_the_deposit_at_the_bank_moves_transit_to_the_bank_once(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000)
    deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
    bank_before = gl_balance(session, chart.BANK)
    with pytest.raises(PaymentRefused, match="on or after"):
        confirm_at_bank(session, CLERK, deposit, reached_on=date(2026, 11, 9))
    confirm_at_bank(session, CLERK, deposit, reached_on=date(2026, 11, 11))
    assert deposit.status == BankDepositStatus.AT_BANK
    assert deposit.reached_bank_on == date(2026, 11, 11)
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 0
    assert gl_balance(session, chart.BANK) == bank_before + 7234
    with pytest.raises(PaymentRefused, match="already at the bank"):
        confirm_at_bank(session, CLERK, deposit, reached_on=date(2026, 11, 11))
    assert gl_balance(session, chart.BANK) == bank_before + 7234
    _balances_hold(session)


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def test_the_deposit_slip_lists_every_check_and_the_total_the_ledger_moved(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000 - 100, coin=175)
    deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
    # NOTE: made at 01:30 UTC on November 11 is still November 10 in Chicago.
    deposit.made_at = datetime(2026, 11, 11, 1, 30, tzinfo=UTC)
    text = _pdf_text(render_slip(deposit_slip(session, current_app.config, deposit)))
    moved = session.scalar(
        sa.select(JournalLine.debit_cents)
        .join(JournalEntry)
        .where(JournalEntry.source_type == "bank_deposit", JournalEntry.source_id == deposit.number)
        .where(JournalLine.debit_cents > 0)
    )
    assert moved == deposit.amount_cents == 7134
    for words, cents in [
        ("Check 1042", 3000),
        ("Check 1043", 1234),
        ("Money order MO-77", 1000),
        ("Currency", 2000 - 100 - 175),
        ("Coin", 175),
    ]:
        assert re.search(rf"{re.escape(words)}\s*{re.escape(_dollars(cents))}", text), words
    assert re.search(rf"Total deposit\s*{re.escape(_dollars(moved))}", text)
    assert "Date: November 10, 2026" in text
    assert f"clerk {CLERK.label}" in text and f"Drawer {drawer.id}" in text
    assert deposit.number in text


def test_a_check_missing_at_close_out_shows_on_the_slip_so_its_lines_add_up(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT + 2000, checks=3000)  # check 1043 not found
    assert gl_balance(session, chart.CASH_OVER_SHORT) == 1234
    deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
    text = _pdf_text(render_slip(deposit_slip(session, current_app.config, deposit)))
    assert re.search(r"Checks counted differ from those listed by\s*-\$12\.34", text)
    assert re.search(rf"Total deposit\s*{re.escape(_dollars(7234 - 1234))}", text)


def test_coin_beyond_the_cash_deposited_is_refused_and_the_drawer_stays_open(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    with pytest.raises(PaymentRefused, match="coin"):
        _close(session, drawer, cash=FLOAT + 2000, coin=2001)
    assert drawer.closed_at is None and _over_short_entries(session, drawer) == []


def test_a_drawer_short_of_its_float_sends_no_cash_and_1010_keeps_the_float_short(session):
    account = _billed(session)
    drawer = _drawer_with_cash_and_checks(session, account)
    _close(session, drawer, cash=FLOAT - 300)
    assert drawer.close_out["deposit"]["float_short_cents"] == 300
    approve_over_short(session, SUPERVISOR, drawer, on=DAY)  # $23.00 short: above the limit
    assert gl_balance(session, chart.CASH_OVER_SHORT) == 2300
    deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
    assert deposit.amount_cents == 4234 + 1000  # the checks and the money order alone
    assert gl_balance(session, chart.CASH_DRAWER) == -300
    _balances_hold(session)


def _deposit_in_thread(
    engine, drawer_id: int, results: dict, key: str, barrier
) -> threading.Thread:
    """Deposit a drawer on a connection of its own; its deposit number (or error) in results."""

    def run() -> None:
        with Session(engine) as session:
            try:
                drawer = session.get(CashDrawer, drawer_id)
                barrier.wait()
                deposit = deposit_drawers(session, CLERK, [drawer], on=DAY)
                session.commit()
                results[key] = deposit.number
            except Exception as error:  # noqa: BLE001 - the test reads it
                session.rollback()
                results[key] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_clerks_depositing_one_drawer_at_once_deposit_it_once(app):
    with app.app_context():
        session = db.session
        account = _billed(session)
        drawer = _drawer_with_cash_and_checks(session, account)
        _close(session, drawer, cash=FLOAT + 2000)
        session.commit()
        results: dict = {}
        both = threading.Barrier(2, timeout=30)
        threads = [
            _deposit_in_thread(db.engine, drawer.id, results, key, both) for key in ("a", "b")
        ]
        for thread in threads:
            thread.join(60)
        refused = [r for r in results.values() if isinstance(r, PaymentRefused)]
        made = [r for r in results.values() if isinstance(r, str)]
        assert len(made) == 1 and len(refused) == 1, results
        assert "already in a deposit" in refused[0].message
        session.expire_all()
        assert session.scalar(sa.select(sa.func.count()).select_from(BankDeposit)) == 1
        assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 7234
        assert gl_balance(session, chart.CASH_DRAWER) == 0
        _balances_hold(session)


def _close_in_thread(engine, drawer_id: int, results: dict, key: str, barrier) -> threading.Thread:
    """Close a drawer $1 short on a connection of its own; "closed" (or the error) in results."""

    def run() -> None:
        with Session(engine) as session:
            try:
                drawer = session.get(CashDrawer, drawer_id)
                barrier.wait()
                _close(session, drawer, cash=FLOAT + 2000 - 100)
                session.commit()
                results[key] = "closed"
            except Exception as error:  # noqa: BLE001 - the test reads it
                session.rollback()
                results[key] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_clerks_closing_one_drawer_at_once_post_its_short_once(app):
    with app.app_context():
        session = db.session
        account = _billed(session)
        drawer = _drawer_with_cash_and_checks(session, account)
        session.commit()
        results: dict = {}
        both = threading.Barrier(2, timeout=30)
        threads = [_close_in_thread(db.engine, drawer.id, results, k, both) for k in ("a", "b")]
        for thread in threads:
            thread.join(60)
        refused = [r for r in results.values() if isinstance(r, PaymentRefused)]
        assert sorted(map(str, results.values())).count("closed") == 1 and len(refused) == 1
        assert "already closed" in refused[0].message
        session.expire_all()
        assert len(_over_short_entries(session, drawer)) == 1
        assert gl_balance(session, chart.CASH_OVER_SHORT) == 100
        _balances_hold(session)
