"""Period balances: the day rows posting keeps equal a full recomputation from journal lines,
and the trial balance and GL balances read from them equal the sums of every line."""

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, aliased

from core.audit import Actor
from core.extensions import db
from ledger import day_balances
from ledger.balances import _signed, gl_balance, trial_balance
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.posting import EntrySpec, credit, debit, post_entries, post_entry, reverse_entry

CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
START = date(2025, 12, 20)
DEBITS = ["1000", "1010", "1020", "1110", "2000"]
CREDITS = ["4010", "4020", "2010", "4500"]


def _trial_balance_from_lines(session, as_of: date | None) -> dict[str, tuple[int, int]]:
    """The oracle: every journal line up to as_of summed per GL code (the old computation)."""
    query = (
        sa.select(
            GLAccount.code,
            sa.func.sum(JournalLine.debit_cents),
            sa.func.sum(JournalLine.credit_cents),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .group_by(GLAccount.code)
    )
    if as_of is not None:
        query = query.where(JournalEntry.entry_date <= as_of)
    return {code: (int(dr), int(cr)) for code, dr, cr in session.execute(query)}


def _assert_equal_to_the_journal(session, as_of_dates) -> None:
    assert day_balances.differences(session) == []
    for as_of in [None, *as_of_dates]:
        oracle = _trial_balance_from_lines(session, as_of)
        report = trial_balance(session, as_of)
        assert {r.code: (r.debit_cents, r.credit_cents) for r in report.rows} == oracle
        assert report.total_debit_cents == report.total_credit_cents
        for row in report.rows:
            assert gl_balance(session, row.code, as_of) == _signed(row.type, *oracle[row.code])


_entry = st.tuples(
    st.sampled_from(DEBITS),
    st.sampled_from(CREDITS),
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=60),
)
_step = st.one_of(
    st.tuples(st.just("one"), _entry),
    st.tuples(st.just("bulk"), st.lists(_entry, min_size=1, max_size=4)),
    # Reverse the n-th entry posted so far (modulo), on a day that may be before or after it.
    st.tuples(st.just("reverse"), st.tuples(st.integers(0, 50), st.integers(0, 60))),
)


def _apply(session, step) -> None:
    """Post one, several at once, or reverse one, on the step's dates."""
    kind, what = step
    if kind == "one":
        dr, cr, cents, day = what
        post_entry(
            session,
            [debit(dr, cents), credit(cr, cents)],
            entry_date=START + timedelta(days=day),
            source_type="adjustment",
            source_id=None,
            actor=CLERK,
        )
    elif kind == "bulk":
        specs = [
            EntrySpec(
                [debit(dr, cents), credit(cr, cents)],
                START + timedelta(days=day),
                "invoice",
                None,
            )
            for dr, cr, cents, day in what
        ]
        post_entries(session, specs, actor=CLERK)
    else:
        index, day = what
        reversal = aliased(JournalEntry)
        open_entries = session.scalars(
            sa.select(JournalEntry)
            .where(
                JournalEntry.reverses_id.is_(None),
                ~sa.exists().where(reversal.reverses_id == JournalEntry.id),
            )
            .order_by(JournalEntry.seq)
        ).all()
        if open_entries:
            reverse_entry(
                session,
                open_entries[index % len(open_entries)],
                actor=CLERK,
                entry_date=START + timedelta(days=day),
                memo="",
            )


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(_step, min_size=1, max_size=8),
    as_of_days=st.lists(st.integers(min_value=-5, max_value=70), min_size=1, max_size=4),
)
def test_period_balances_equal_the_journal_after_any_postings_and_reversals(
    session, steps, as_of_days
):
    for step in steps:
        _apply(session, step)
    session.commit()
    _assert_equal_to_the_journal(session, [START + timedelta(days=d) for d in as_of_days])


def test_a_posting_rolled_back_leaves_the_period_balances_as_they_were(session):
    _apply(session, ("one", ("1010", "4010", 700, 3)))
    session.commit()
    _apply(session, ("bulk", [("1010", "4010", 500, 3), ("1020", "4500", 9, 4)]))
    session.rollback()
    _assert_equal_to_the_journal(session, [START + timedelta(days=3)])
    assert gl_balance(session, "1010") == 700


def test_rebuild_puts_back_what_the_journal_says(session, runner):
    _apply(session, ("bulk", [("1010", "4010", 500, 3), ("1020", "4500", 9, 4)]))
    session.commit()
    session.execute(sa.text("UPDATE gl_day_balance SET debit_cents = debit_cents + 1"))
    session.execute(sa.text("DELETE FROM gl_day_balance WHERE credit_cents > 0"))
    session.commit()
    assert len(day_balances.differences(session)) == 4

    checked = runner.invoke(args=["ledger", "check-balances"])
    assert checked.exit_code == 1
    assert "FAILED: 4 GL account days differ" in checked.output

    rebuilt = runner.invoke(args=["ledger", "check-balances", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "OK: the period balances equal the journal's lines" in rebuilt.output
    session.expire_all()
    _assert_equal_to_the_journal(session, [START + timedelta(days=3)])


@pytest.mark.postgres
def test_concurrent_posting_on_the_same_days_adds_every_line(app):
    per_thread = 30
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(label: str) -> None:
        try:
            with app.app_context(), Session(db.engine) as own:
                barrier.wait()
                for n in range(per_thread):
                    day = START + timedelta(days=n % 3)
                    if n % 2:
                        post_entry(
                            own,
                            [debit("1010", n + 1), credit("4010", n + 1)],
                            entry_date=day,
                            source_type="payment",
                            source_id=f"{label}-{n}",
                            actor=CLERK,
                        )
                    else:
                        spec = EntrySpec(
                            [debit("1010", n + 1), credit("4010", n + 1)], day, "x", None
                        )
                        post_entries(own, [spec, spec], actor=CLERK)
                    own.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with app.app_context():
        _assert_equal_to_the_journal(db.session, [START, START + timedelta(days=1)])
