"""Checkpoints of the hash chain: a verify signs what it verified into the chain, and the next
verify starts from there (docs/ledger.md, "Checkpoints")."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import trial_balance
from ledger.chain import CheckpointFacts, checkpoint_hash, checkpoint_memo
from ledger.export_verify import verify_export
from ledger.exports import ExportRequest, write_export
from ledger.models import JournalEntry, JournalLine, LedgerCheckpoint
from ledger.posting import credit, debit, post_entry
from ledger.verify import verify_chain

ROOT = Path(__file__).resolve().parents[2]
CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
DAY = date(2026, 11, 2)


def _post(session, count=1, cents=5000):
    """Counter payments; returns the last entry."""
    for _ in range(count):
        entry = post_entry(
            session,
            [debit(chart.CASH_DRAWER, cents), credit("1110", cents)],
            entry_date=DAY,
            source_type="payment",
            source_id="P-1",
            actor=CLERK,
            memo="counter payment",
        )
    session.commit()
    return entry


def _checkpoints(session) -> list[LedgerCheckpoint]:
    session.expire_all()
    return session.scalars(sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).all()


def _verify(runner, *args):
    return runner.invoke(args=["ledger", "verify", *args])


def test_a_full_verify_signs_a_checkpoint_into_the_chain_that_moves_no_money(session, runner):
    _post(session, 3)
    before = trial_balance(session, None)
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 3 entries")
    (point,) = _checkpoints(session)
    assert (point.verified_seq, point.from_seq, point.entries, point.mode) == (3, 1, 3, "full")
    assert point.actor_label == "munibill ledger verify"
    entry = session.scalar(sa.select(JournalEntry).where(JournalEntry.id == point.entry_id))
    assert (entry.seq, entry.source_type, entry.source_id) == (
        4,
        "ledger_checkpoint",
        str(point.id),
    )
    assert entry.prev_hash == point.verified_hash
    assert json.loads(entry.memo)["hash"] == point.hash
    assert session.scalar(sa.select(sa.func.count()).where(JournalLine.entry_id == entry.id)) == 0
    assert f"Checkpoint {point.id}: verified through entry 3" in result.output
    after = trial_balance(session, None)
    assert (after.total_debit_cents, after.total_credit_cents) == (
        before.total_debit_cents,
        before.total_credit_cents,
    )
    assert verify_chain(session).length == 4


def test_an_incremental_verify_walks_only_the_entries_after_the_checkpoint(session, runner):
    _post(session, 3)
    assert _verify(runner).exit_code == 0
    _post(session, 2)
    result = _verify(runner, "--since-checkpoint")
    assert result.exit_code == 0, result.output
    # The first checkpoint's own entry (4) and the two payments (5, 6).
    assert "OK: 3 entries after the checkpoint at entry 3 (entries 4-6)" in result.output
    first, second = _checkpoints(session)
    assert (second.verified_seq, second.from_seq, second.entries) == (6, 4, 3)
    assert second.mode == "incremental"


def test_verifying_again_with_nothing_posted_adds_no_checkpoint(session, runner):
    _post(session, 2)
    assert _verify(runner).exit_code == 0
    for args in (["--incremental"], []):
        result = _verify(runner, *args)
        assert result.exit_code == 0, result.output
    assert len(_checkpoints(session)) == 1


def test_an_incremental_verify_without_a_checkpoint_walks_the_whole_chain(session, runner):
    _post(session, 2)
    result = _verify(runner, "--incremental")
    assert result.exit_code == 0
    assert "No checkpoint yet" in result.output
    (point,) = _checkpoints(session)
    assert (point.verified_seq, point.mode) == (2, "full")


def test_no_checkpoint_verifies_and_writes_nothing(session, runner):
    _post(session, 2)
    result = _verify(runner, "--no-checkpoint")
    assert result.exit_code == 0
    assert result.output.startswith("OK: 2 entries")
    assert _checkpoints(session) == []
    assert verify_chain(session).length == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_line SET debit_cents = 5001 WHERE entry_id = :id AND position = 1",
        "UPDATE journal_entry SET memo = 'changed' WHERE id = :id",
    ],
)
def test_a_change_after_the_checkpoint_is_found_by_the_incremental_verify(
    session, runner, statement
):
    _post(session, 2)
    assert _verify(runner).exit_code == 0
    changed = _post(session, 2)
    session.execute(sa.text(statement), {"id": changed.id})
    session.commit()
    result = _verify(runner, "--incremental")
    assert result.exit_code == 1
    assert f"entry {changed.seq} (id {changed.id}" in result.output
    assert len(_checkpoints(session)) == 1


def test_a_change_before_the_checkpoint_is_found_by_the_full_verify(session, runner):
    first = _post(session)
    _post(session)
    assert _verify(runner).exit_code == 0
    _post(session)
    session.execute(sa.text("UPDATE journal_entry SET memo = 'x' WHERE id = :id"), {"id": first.id})
    session.commit()
    # NOTE: the incremental verify does not walk entry 1: the weekly full verify does.
    assert _verify(runner, "--incremental").exit_code == 0
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"entry 1 (id {first.id}" in result.output


def _rehashed(point: LedgerCheckpoint, **changes) -> str:
    """The hash of a checkpoint's facts with some changed, as a forger would compute it."""
    facts = CheckpointFacts(
        verified_seq=changes.get("verified_seq", point.verified_seq),
        verified_hash=point.verified_hash,
        from_seq=point.from_seq,
        entries=changes.get("entries", point.entries),
        mode=point.mode,
        verified_at=point.verified_at,
        by=point.actor_label,
    )
    return checkpoint_hash(facts)


@pytest.mark.parametrize("forged", ["facts only", "facts and hash", "facts, hash and memo"])
def test_a_changed_checkpoint_is_found(session, runner, forged):
    _post(session, 3)
    assert _verify(runner).exit_code == 0
    _post(session)
    (point,) = _checkpoints(session)
    changes = {"entries": point.entries + 1}
    values = {"id": point.id, "entries": changes["entries"], "hash": _rehashed(point, **changes)}
    if forged == "facts only":
        values["hash"] = point.hash
    session.execute(
        sa.text("UPDATE ledger_checkpoint SET entries = :entries, hash = :hash WHERE id = :id"),
        values,
    )
    if forged == "facts, hash and memo":
        session.expire_all()
        point = session.get(LedgerCheckpoint, point.id)
        facts = CheckpointFacts(
            point.verified_seq,
            point.verified_hash,
            point.from_seq,
            point.entries,
            point.mode,
            point.verified_at,
            point.actor_label,
        )
        session.execute(
            sa.text("UPDATE journal_entry SET memo = :memo WHERE id = :id"),
            {"memo": checkpoint_memo(point.id, facts), "id": point.entry_id},
        )
    session.commit()
    incremental = _verify(runner, "--incremental")
    assert incremental.exit_code == 1
    assert "entry 4" in incremental.output or f"checkpoint {point.id}" in incremental.output
    assert _verify(runner).exit_code == 1
    assert len(_checkpoints(session)) == 1


def test_a_checkpoint_naming_another_entry_is_found(session, runner):
    _post(session, 3)
    assert _verify(runner).exit_code == 0
    (point,) = _checkpoints(session)
    session.execute(
        sa.text("UPDATE ledger_checkpoint SET verified_seq = 2, hash = :hash WHERE id = :id"),
        {"id": point.id, "hash": _rehashed(point, verified_seq=2)},
    )
    session.commit()
    result = _verify(runner, "--incremental")
    assert result.exit_code == 1
    assert f"checkpoint {point.id}" in result.output


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_an_export_with_checkpoints_verifies_with_the_standalone_checker(
    app, session, runner, tmp_path, file_format
):
    _post(session, 2)
    assert _verify(runner).exit_code == 0
    _post(session, 2)
    assert _verify(runner, "--incremental").exit_code == 0
    path = tmp_path / f"ledger.{file_format}"
    write_export(db.engine, ExportRequest("ledger", file_format), path, timezone="America/Chicago")
    report = verify_export(path)
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints, report.last_seq) == (6, 2, 6)
    # The auditor's copy of the checker, run on its own.
    alone = subprocess.run(
        [sys.executable, str(ROOT / "ledger" / "export_verify.py"), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert alone.returncode == 0, alone.stderr
    assert "2 checkpoints checked" in alone.stdout


def test_an_export_whose_checkpoint_states_other_facts_is_refused(app, session, runner, tmp_path):
    _post(session, 2)
    assert _verify(runner).exit_code == 0
    path = tmp_path / "ledger.jsonl"
    write_export(db.engine, ExportRequest("ledger", "jsonl"), path, timezone="America/Chicago")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    checkpoint = rows[-1]
    assert checkpoint["source_type"] == "ledger_checkpoint" and checkpoint["line"] is None
    memo = json.loads(checkpoint["memo"])
    memo["entries"] += 1
    checkpoint["memo"] = json.dumps(memo, sort_keys=True, separators=(",", ":"))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = verify_export(path)
    assert not report.ok
    assert "entry 3" in report.problem


def test_a_money_entry_without_lines_in_an_export_is_refused(app, session, tmp_path):
    _post(session, 1)
    path = tmp_path / "ledger.jsonl"
    write_export(db.engine, ExportRequest("ledger", "jsonl"), path, timezone="America/Chicago")
    row = json.loads(path.read_text().splitlines()[0])
    row.update(line=None, gl_code=None, debit_cents=None, credit_cents=None)
    path.write_text(json.dumps(row) + "\n")
    (tmp_path / "ledger.jsonl.manifest.json").unlink()
    report = verify_export(path)
    assert report.problem == "row 1: line is empty"


def test_the_jobs_verify_nightly_from_the_checkpoint_and_weekly_in_full(session, runner):
    _post(session, 2)
    nightly = runner.invoke(args=["jobs", "run", "verify_ledger", "--as-of", "2026-11-03"])
    assert nightly.exit_code == 0, nightly.output
    (point,) = _checkpoints(session)
    assert (point.mode, point.actor_label) == ("full", "job:verify_ledger")
    _post(session, 1)
    weekly = runner.invoke(args=["jobs", "run", "verify_ledger_full", "--as-of", "2026-11-08"])
    assert weekly.exit_code == 0, weekly.output
    assert [p.mode for p in _checkpoints(session)] == ["full", "full"]
    _post(session, 1)
    again = runner.invoke(args=["jobs", "run", "verify_ledger", "--as-of", "2026-11-09"])
    assert again.exit_code == 0, again.output
    assert [p.mode for p in _checkpoints(session)] == ["full", "full", "incremental"]


def test_the_auditors_recipe_checks_an_export_with_checkpoints(app, session, runner, tmp_path):
    from tests.ledger.test_exports import _recipes

    _post(session, 2)
    assert _verify(runner).exit_code == 0
    _post(session, 1)
    assert _verify(runner, "--incremental").exit_code == 0
    (tmp_path / "check_ledger.py").write_text(_recipes()["check_ledger.py"])
    path = tmp_path / "ledger.csv"
    write_export(db.engine, ExportRequest("ledger", "csv"), path, timezone="America/Chicago")

    def check():
        return subprocess.run(
            [sys.executable, "check_ledger.py", "ledger.csv"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: chain intact through entry 5" in done.stdout
    # A checkpoint's memo made to claim more entries: its hash is the forger's too, but the
    # entry's hash (over the memo) no longer matches.
    text = path.read_text()
    assert '""entries"":2' in text  # CSV doubles the memo's quotes
    path.write_text(text.replace('""entries"":2', '""entries"":3', 1))
    done = check()
    assert done.returncode == 1 and "entry 3" in done.stdout + done.stderr
