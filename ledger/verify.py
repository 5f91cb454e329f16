"""Walking the hash chain: every entry links to the one before it, matches its content and balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ledger.chain import (
    CHECKPOINT_SOURCE,
    GENESIS,
    EntryFacts,
    LineFacts,
    checkpoint_entry_problem,
    entry_hash,
    is_balanced,
)
from ledger.models import (
    GLAccount,
    JournalEntry,
    JournalLine,
    LedgerHead,
    subledger_account,
)


@dataclass
class VerifyReport:
    """The result of walking the chain."""

    #: The last entry verified and its hash (where the walk started, if it checked none).
    length: int = 0
    head_hash: str = GENESIS
    #: How many entries this walk checked (all of them for a full verify).
    checked: int = 0
    #: None when the chain is intact; else what is wrong, naming the entry.
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when every entry matched."""
        return self.problem is None


_ENTRY_COLUMNS = (
    JournalEntry.id,
    JournalEntry.seq,
    JournalEntry.prev_hash,
    JournalEntry.hash,
    JournalEntry.entry_date,
    JournalEntry.posted_at,
    JournalEntry.source_type,
    JournalEntry.source_id,
    JournalEntry.memo,
    JournalEntry.actor_label,
)


def _entries_in_order(
    session: Session, batch: int, after_seq: int = 0
) -> Iterator[tuple[sa.Row, EntryFacts]]:
    """Yield each stored entry row after after_seq with the facts rebuilt from its content, by seq."""
    reversed_entry = aliased(JournalEntry)
    last_seq = after_seq
    while True:
        entries = session.execute(
            sa.select(*_ENTRY_COLUMNS, reversed_entry.seq.label("reverses_seq"))
            .outerjoin(reversed_entry, reversed_entry.id == JournalEntry.reverses_id)
            .where(JournalEntry.seq > last_seq)
            .order_by(JournalEntry.seq)
            .limit(batch)
        ).all()
        if not entries:
            return
        lines: dict[int, list[LineFacts]] = defaultdict(list)
        rows = session.execute(
            sa.select(
                JournalLine.entry_id,
                GLAccount.code,
                subledger_account.c.number,
                JournalLine.debit_cents,
                JournalLine.credit_cents,
            )
            .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
            .outerjoin(subledger_account, subledger_account.c.id == JournalLine.account_id)
            .where(JournalLine.entry_id.in_([e.id for e in entries]))
            .order_by(JournalLine.entry_id, JournalLine.position)
        ).all()
        for entry_id, *line in rows:
            lines[entry_id].append(LineFacts(*line))
        for entry in entries:
            yield (
                entry,
                EntryFacts(
                    seq=entry.seq,
                    prev_hash=entry.prev_hash,
                    entry_date=entry.entry_date,
                    posted_at=entry.posted_at,
                    source_type=entry.source_type,
                    source_id=entry.source_id,
                    memo=entry.memo,
                    actor=entry.actor_label,
                    reverses_seq=entry.reverses_seq,
                    lines=tuple(lines[entry.id]),
                ),
            )
        last_seq = entries[-1].seq


def _describe(entry: sa.Row) -> str:
    """Name an entry so a person can find it."""
    source = f"{entry.source_type} {entry.source_id}" if entry.source_id else entry.source_type
    return f"entry {entry.seq} (id {entry.id}, {entry.entry_date.isoformat()}, {source})"


def entry_problem(facts: EntryFacts, stored_hash: str) -> str | None:
    """What is wrong with one entry on its own (its hash, its lines), or None."""
    if entry_hash(facts) != stored_hash:
        return "hash does not match its content (it was altered)"
    if facts.source_type == CHECKPOINT_SOURCE:
        return checkpoint_entry_problem(facts)
    if not is_balanced(facts.lines):
        return "does not balance"
    return None


def verify_chain(
    session: Session,
    batch: int = 2000,
    *,
    after: tuple[int, str] = (0, GENESIS),
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk the chain from the entry after `after` (seq, hash: the start by default) to the head.

    Stops at the first entry that does not match; progress, when given, is told how many
    entries each batch checked.
    """
    report = VerifyReport(length=after[0], head_hash=after[1])
    done = 0
    while True:
        walked = report.checked
        for entry, facts in _entries_in_order(session, batch, report.length):
            expected_seq = report.length + 1
            if entry.seq != expected_seq:
                report.problem = (
                    f"entry {expected_seq} is missing (the next entry found is {_describe(entry)})"
                )
                report.bad_seq = expected_seq
                return report
            if entry.prev_hash != report.head_hash:
                problem = "does not link to the entry before it"
            else:
                problem = entry_problem(facts, entry.hash)
            if problem:
                report.problem = f"{_describe(entry)} {problem}"
                report.bad_seq = entry.seq
                return report
            report.length = entry.seq
            report.head_hash = entry.hash
            report.checked += 1
            if progress is not None and report.checked - done == batch:
                progress(batch)
                done = report.checked
        head = session.execute(sa.select(LedgerHead.length, LedgerHead.head_hash)).one()
        # NOTE: entries posted while the walk read its last batch are walked too.
        if head.length <= report.length or report.checked == walked:
            break
    if progress is not None and report.checked > done:
        progress(report.checked - done)
    if (head.length, head.head_hash) != (report.length, report.head_hash):
        report.problem = (
            f"the chain ends at entry {report.length} but the ledger head records entry "
            f"{head.length}: entries after {report.length} were removed"
        )
        report.bad_seq = report.length + 1
    return report
