"""The general ledger: balanced entries only, a hash chain that exposes any change."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.audit import Actor
from core.db import AppendOnlyViolation
from core.extensions import db
from ledger import chart
from ledger.balances import account_receivable, gl_balance, trial_balance
from ledger.models import JournalEntry, JournalLine
from ledger.posting import LedgerError, credit, debit, post_entry, reverse_entry
from ledger.verify import verify_chain

CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
DAY = date(2026, 11, 2)


def _post(session, cents=5000, account_id=None, memo="counter payment"):
    """Cash in, receivable down: a typical counter payment."""
    return post_entry(
        session,
        [debit(chart.CASH_DRAWER, cents), credit("1110", cents, account_id)],
        entry_date=DAY,
        source_type="payment",
        source_id="P-1",
        actor=CLERK,
        memo=memo,
    )


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        ([debit("1010", 5000), credit("4010", 4999)], "does not balance"),
        ([debit("1010", 5000)], "at least two lines"),
        ([debit("1010", 0), credit("4010", 0)], "either a debit or a credit"),
        ([debit("1010", -5), credit("4010", -5)], "must not be negative"),
        ([debit("1010", 50.0), credit("4010", 50.0)], "whole cents"),
        ([debit("9999", 100), credit("4010", 100)], "9999 does not exist"),
    ],
)
def test_an_unbalanced_or_malformed_entry_is_refused_and_nothing_is_written(
    session, postings, message
):
    with pytest.raises(LedgerError, match=message):
        post_entry(
            session, postings, entry_date=DAY, source_type="adjustment", source_id=None, actor=CLERK
        )
    session.commit()
    assert _count(session, JournalEntry) == 0
    assert _count(session, JournalLine) == 0
    assert verify_chain(session).length == 0


def test_entries_chain_and_verify(session):
    for cents in (100, 250, 999):
        _post(session, cents)
    session.commit()
    report = verify_chain(session)
    assert report.ok and report.length == 3
    entries = session.scalars(sa.select(JournalEntry).order_by(JournalEntry.seq)).all()
    assert entries[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert report.head_hash == entries[-1].hash


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            "UPDATE journal_line SET debit_cents = debit_cents + 1 WHERE entry_id = {e2} AND debit_cents > 0",
            2,
        ),
        ("UPDATE journal_line SET credit_cents = 1 WHERE entry_id = {e2} AND credit_cents > 0", 2),
        ("UPDATE journal_entry SET memo = 'nothing to see' WHERE id = {e3}", 3),
        ("UPDATE journal_entry SET entry_date = '2020-01-01' WHERE id = {e1}", 1),
        (
            "UPDATE journal_line SET gl_account_id = (SELECT id FROM gl_account WHERE code = '5100') "
            "WHERE entry_id = {e3} AND debit_cents > 0",
            3,
        ),
    ],
)
def test_editing_a_stored_entry_with_raw_sql_makes_verify_name_it(
    app, session, runner, statement, named
):
    ids = [_post(session, cents).id for cents in (100, 200, 300, 400)]
    session.commit()
    session.execute(sa.text(statement.format(e1=ids[0], e2=ids[1], e3=ids[2])))
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"entry {named} (id {ids[named - 1]}" in result.output
    assert verify_chain(session).bad_seq == named


def test_removing_an_entry_is_found(session, runner):
    ids = [_post(session, cents).id for cents in (100, 200, 300)]
    session.commit()
    session.execute(sa.text("DELETE FROM journal_line WHERE entry_id = :id"), {"id": ids[1]})
    session.execute(sa.text("DELETE FROM journal_entry WHERE id = :id"), {"id": ids[1]})
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "entry 2 is missing" in result.output


def test_removing_the_last_entry_is_found(session, runner):
    ids = [_post(session, cents).id for cents in (100, 200)]
    session.commit()
    session.execute(sa.text("DELETE FROM journal_line WHERE entry_id = :id"), {"id": ids[-1]})
    session.execute(sa.text("DELETE FROM journal_entry WHERE id = :id"), {"id": ids[-1]})
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "entries after 1 were removed" in result.output


def test_verify_passes_on_an_intact_ledger(session, runner):
    _post(session)
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0
    assert result.output.startswith("OK: 1 entries")


def test_the_code_refuses_to_change_or_delete_a_journal_entry(session):
    entry = _post(session)
    session.commit()
    entry.memo = "edited"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    session.delete(session.get(JournalEntry, entry.id))
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    assert verify_chain(session).ok


def test_a_correction_is_a_reversing_entry_and_only_one(session):
    entry = _post(session, 12345)
    session.commit()
    reversal = reverse_entry(session, entry, actor=CLERK, entry_date=DAY, memo="keyed twice")
    session.commit()
    assert reversal.reverses_id == entry.id
    assert gl_balance(session, chart.CASH_DRAWER) == 0
    with pytest.raises(LedgerError, match="already been reversed"):
        reverse_entry(session, entry, actor=CLERK, entry_date=DAY, memo="again")
    assert verify_chain(session).ok


def test_balances_follow_each_accounts_normal_side(session, session_account):
    from accounts.services import find_account

    account = find_account(session, session_account)
    post_entry(
        session,
        [debit("1110", 8000, account.id), credit("4010", 8000)],
        entry_date=DAY,
        source_type="invoice",
        source_id="2026-000001",
        actor=CLERK,
    )
    _post(session, 3000, account.id)
    session.commit()
    assert account_receivable(session, account.id) == 5000
    assert gl_balance(session, "4010") == 8000  # revenue: a credit balance, shown positive
    assert gl_balance(session, chart.CASH_DRAWER) == 3000
    assert account_receivable(session, account.id, as_of=date(2026, 11, 1)) == 0


def test_the_trial_balance_balances_as_of_any_date(session):
    post_entry(
        session,
        [debit("1110", 8000), credit("4010", 8000)],
        entry_date=date(2026, 10, 1),
        source_type="invoice",
        source_id="A",
        actor=CLERK,
    )
    _post(session, 3000)
    session.commit()
    for as_of in (None, date(2026, 10, 15), DAY):
        report = trial_balance(session, as_of)
        assert report.total_debit_cents == report.total_credit_cents
    assert [r.code for r in trial_balance(session, date(2026, 10, 15)).rows] == ["1110", "4010"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1000", "1010", "1020", "1110", "2000"]),
            st.sampled_from(["4010", "4020", "2010", "4500"]),
            st.integers(min_value=1, max_value=10**9),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_postings_keeps_the_ledger_balanced_and_verified(session, postings):
    for debit_code, credit_code, cents in postings:
        post_entry(
            session,
            [debit(debit_code, cents), credit(credit_code, cents)],
            entry_date=DAY,
            source_type="adjustment",
            source_id=None,
            actor=CLERK,
        )
    session.commit()
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents
    assert verify_chain(session).ok


@pytest.mark.postgres
def test_concurrent_posting_from_two_connections_keeps_the_chain_valid(app):
    per_thread = 40
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(label: str) -> None:
        try:
            with app.app_context(), Session(db.engine) as own:
                barrier.wait()
                for n in range(per_thread):
                    post_entry(
                        own,
                        [debit("1010", n + 1), credit("4010", n + 1)],
                        entry_date=DAY,
                        source_type="payment",
                        source_id=f"{label}-{n}",
                        actor=CLERK,
                    )
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
        report = verify_chain(db.session)
        assert report.ok and report.length == 2 * per_thread
        seqs = db.session.scalars(sa.select(JournalEntry.seq).order_by(JournalEntry.seq)).all()
        assert seqs == list(range(1, 2 * per_thread + 1))
        sources = db.session.scalars(sa.select(JournalEntry.source_id)).all()
        assert {s[0] for s in sources} == {"a", "b"}
