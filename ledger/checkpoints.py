"""Checkpoints of the hash chain: a full verify, or an incremental one from the last checkpoint.

A successful verify stores a checkpoint: the last entry it verified and that entry's hash,
where it started, how many entries it walked, when and by whom, and the checkpoint's own
hash over those facts (ledger.chain.checkpoint_hash). The same facts are the memo of a
journal entry without lines posted right after the verified entry, so the chain itself
covers the checkpoint: altering the row no longer matches its entry, and altering the
entry breaks the chain (docs/ledger.md, "Checkpoints").

An incremental verify re-checks the latest checkpoint (its hash, its entry, and the entry
it names) and then walks only the entries after it. Entries before the checkpoint are
re-walked by the full verify (the weekly job, scheduler.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor
from core.db import utcnow
from core.numbering import reserve_ids
from ledger.chain import CHECKPOINT_SOURCE, CheckpointFacts, checkpoint_hash, checkpoint_memo
from ledger.models import JournalEntry, LedgerCheckpoint, LedgerHead
from ledger.posting import post_checkpoint_entry
from ledger.verify import VerifyReport, verify_chain

FULL = "full"
INCREMENTAL = "incremental"


@dataclass
class CheckedChain:
    """A verify's result: the walk, where it started, and the checkpoint it stored."""

    mode: str
    report: VerifyReport
    #: The seq of the entry the walk started after (0 for a full verify).
    after_seq: int = 0
    checkpoint: LedgerCheckpoint | None = None
    #: An incremental verify asked for, without a checkpoint to start from: it went full.
    no_checkpoint: bool = False

    @property
    def ok(self) -> bool:
        """True when everything walked matched."""
        return self.report.ok


def _facts(row: LedgerCheckpoint) -> CheckpointFacts:
    """A stored checkpoint's facts, as hashed."""
    return CheckpointFacts(
        verified_seq=row.verified_seq,
        verified_hash=row.verified_hash,
        from_seq=row.from_seq,
        entries=row.entries,
        mode=row.mode,
        verified_at=row.verified_at,
        by=row.actor_label,
    )


def latest_checkpoint(session: Session) -> LedgerCheckpoint | None:
    """The checkpoint that verified the furthest, or None."""
    return session.scalars(
        sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.verified_seq.desc()).limit(1)
    ).first()


def checkpoint_problem(session: Session, row: LedgerCheckpoint) -> str | None:
    """What is wrong with a stored checkpoint, or None.

    Its hash must be that of its facts, its journal entry must state the same facts, sit
    just after the entry it names and link to it, and that entry must still have that hash.
    The entries' own hashes are rechecked by the walk that follows.
    """
    name = f"checkpoint {row.id} (through entry {row.verified_seq})"
    facts = _facts(row)
    if checkpoint_hash(facts) != row.hash:
        return f"{name}: its hash does not match its facts (it was altered)"
    entry = session.get(JournalEntry, row.entry_id)
    if (
        entry is None
        or entry.source_type != CHECKPOINT_SOURCE
        or entry.source_id != str(row.id)
        or entry.actor_label != row.actor_label
        or entry.memo != checkpoint_memo(row.id, facts)
    ):
        return f"{name}: its journal entry does not state the same facts (it was altered)"
    if entry.seq != row.verified_seq + 1 or entry.prev_hash != row.verified_hash:
        return f"{name}: its journal entry does not follow the entry it names"
    verified = session.scalar(
        sa.select(JournalEntry.hash).where(JournalEntry.seq == row.verified_seq)
    )
    if row.verified_seq and verified != row.verified_hash:
        return f"{name}: entry {row.verified_seq} no longer has the hash it verified"
    return None


def _store(
    session: Session, checked: CheckedChain, actor: Actor, entry_date: date, batch: int
) -> None:
    """Sign the verify into the chain: lock the head, walk what was posted meanwhile, post."""
    report = checked.report
    head = LedgerHead.__table__
    # NOTE: an UPDATE first, as posting does, so no entry is posted between the walk's
    # end and the checkpoint's entry, which must follow the entry it names.
    length, _head_hash = session.execute(
        head.update()
        .where(head.c.id == 1)
        .values(length=head.c.length)
        .returning(head.c.length, head.c.head_hash)
    ).one()
    if length != report.length:
        tail = verify_chain(session, batch, after=(report.length, report.head_hash))
        report.length, report.head_hash = tail.length, tail.head_hash
        report.checked += tail.checked
        if not tail.ok:
            report.problem, report.bad_seq = tail.problem, tail.bad_seq
            return
    last_source = session.scalar(
        sa.select(JournalEntry.source_type).where(JournalEntry.seq == report.length)
    )
    if last_source is None or last_source == CHECKPOINT_SOURCE:
        # NOTE: nothing to sign: an empty ledger, or nothing posted since the last
        # checkpoint (so a job run again adds nothing).
        return
    checkpoint_id = reserve_ids(session, LedgerCheckpoint.__table__, 1)[0]
    facts = CheckpointFacts(
        verified_seq=report.length,
        verified_hash=report.head_hash,
        from_seq=checked.after_seq + 1,
        entries=report.checked,
        mode=checked.mode,
        verified_at=utcnow(),
        by=actor.label,
    )
    entry = post_checkpoint_entry(
        session,
        checkpoint_id=checkpoint_id,
        memo=checkpoint_memo(checkpoint_id, facts),
        entry_date=entry_date,
        actor=actor,
    )
    checked.checkpoint = LedgerCheckpoint(
        id=checkpoint_id,
        entry_id=entry.id,
        verified_seq=facts.verified_seq,
        verified_hash=facts.verified_hash,
        from_seq=facts.from_seq,
        entries=facts.entries,
        mode=facts.mode,
        verified_at=facts.verified_at,
        actor_label=facts.by,
        hash=checkpoint_hash(facts),
    )
    session.add(checked.checkpoint)
    session.flush()


def verify_full(
    session: Session,
    actor: Actor,
    entry_date: date,
    *,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> CheckedChain:
    """Walk the whole chain and every stored checkpoint; on success store a checkpoint."""
    checked = CheckedChain(FULL, verify_chain(session, batch, progress=progress))
    if not checked.ok:
        return checked
    for row in session.scalars(sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)):
        if problem := checkpoint_problem(session, row):
            checked.report.problem = problem
            return checked
    _store(session, checked, actor, entry_date, batch)
    return checked


def verify_incremental(
    session: Session,
    actor: Actor,
    entry_date: date,
    *,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> CheckedChain:
    """Re-check the latest checkpoint, walk the entries after it; on success store a checkpoint.

    Without a checkpoint yet, a full verify.
    """
    row = latest_checkpoint(session)
    if row is None:
        checked = verify_full(session, actor, entry_date, batch=batch, progress=progress)
        checked.no_checkpoint = True
        return checked
    problem = checkpoint_problem(session, row)
    if problem:
        report = VerifyReport(problem=problem, bad_seq=row.verified_seq + 1)
        return CheckedChain(INCREMENTAL, report, row.verified_seq)
    report = verify_chain(
        session, batch, after=(row.verified_seq, row.verified_hash), progress=progress
    )
    checked = CheckedChain(INCREMENTAL, report, row.verified_seq)
    if checked.ok:
        _store(session, checked, actor, entry_date, batch)
    return checked


def entries_after(session: Session, seq: int) -> int:
    """How many entries the ledger holds after seq (a progress bar's length)."""
    length = session.scalar(sa.select(LedgerHead.length)) or 0
    return max(length - seq, 0)
