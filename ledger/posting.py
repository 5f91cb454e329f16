"""Posting balanced journal entries to the general ledger, one or many at a time, and reversing them.

Each entry takes the next place in the hash chain (ledger/chain.py) and adds its lines to the
period balances in the same transaction (ledger/day_balances.py); ledger/verify.py walks the
chain and ledger/balances.py reads what the entries add up to.

There is deliberately no function that updates or deletes a journal entry;
journal models are AppendOnly, so the session refuses such a flush as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor
from core.db import bulk_insert, utcnow
from core.numbering import reserve_ids
from ledger.chain import (
    CHECKPOINT_SOURCE,
    EntryFacts,
    LineFacts,
    checkpoint_entry_problem,
    entry_hash,
)
from ledger.chart import gl_codes
from ledger.day_balances import add_to_day_balances, day_sums
from ledger.models import (
    GLAccount,
    JournalEntry,
    JournalLine,
    LedgerHead,
    subledger_account,
)

#: The longest memo an entry keeps (the column's size); a longer one ends with "…".
MEMO_LENGTH = 500


def _memo(text: str) -> str:
    """A memo as the entry keeps it: cut to MEMO_LENGTH with an ellipsis (before hashing)."""
    return text if len(text) <= MEMO_LENGTH else text[: MEMO_LENGTH - 1] + "…"


class LedgerError(ValueError):
    """A journal entry that cannot be posted; nothing was written."""


@dataclass(frozen=True)
class Posting:
    """One side of a journal line: a debit or a credit to a GL account."""

    gl_code: str
    debit_cents: int = 0
    credit_cents: int = 0
    #: The billing account, for receivable and credit lines.
    account_id: int | None = None


def debit(gl_code: str, cents: int, account_id: int | None = None) -> Posting:
    """A debit of cents to gl_code."""
    return Posting(gl_code, debit_cents=cents, account_id=account_id)


def credit(gl_code: str, cents: int, account_id: int | None = None) -> Posting:
    """A credit of cents to gl_code."""
    return Posting(gl_code, credit_cents=cents, account_id=account_id)


def _validate(postings: Sequence[Posting]) -> None:
    """Refuse an entry that is not a set of positive, one-sided, balanced lines."""
    if len(postings) < 2:
        raise LedgerError("a journal entry needs at least two lines")
    for number, posting in enumerate(postings, start=1):
        for name in ("debit_cents", "credit_cents"):
            value = getattr(posting, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise LedgerError(f"line {number}: {name} must be whole cents, not {value!r}")
            if value < 0:
                raise LedgerError(f"line {number}: {name} must not be negative")
        if (posting.debit_cents == 0) == (posting.credit_cents == 0):
            raise LedgerError(f"line {number}: a line is either a debit or a credit")
    debits = sum(p.debit_cents for p in postings)
    credits = sum(p.credit_cents for p in postings)
    if debits != credits:
        raise LedgerError(f"entry does not balance: debits {debits} cents, credits {credits} cents")


def _gl_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Map GL codes to ids; refuse unknown or inactive accounts."""
    wanted = set(codes)
    gl = GLAccount.__table__
    rows = session.execute(
        sa.select(gl.c.code, gl.c.id, gl.c.active).where(gl.c.code.in_(wanted))
    ).all()
    found = {code: (gl_id, active) for code, gl_id, active in rows}
    for code in sorted(wanted):
        if code not in found:
            raise LedgerError(f"GL account {code} does not exist")
        if not found[code][1]:
            raise LedgerError(f"GL account {code} is inactive")
    return {code: gl_id for code, (gl_id, _active) in found.items()}


def _account_numbers(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Map billing account ids to account numbers; refuse unknown ids."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = dict(
        session.execute(
            sa.select(subledger_account.c.id, subledger_account.c.number).where(
                subledger_account.c.id.in_(wanted)
            )
        ).all()
    )
    missing = wanted - rows.keys()
    if missing:
        raise LedgerError(f"billing account id {min(missing)} does not exist")
    return rows


def _advance_head(session: Session) -> tuple[int, str]:
    """Claim the next position in the chain; the row lock orders concurrent postings."""
    # NOTE: an UPDATE (not a SELECT) comes first so that PostgreSQL locks the
    # row and SQLite takes its write lock before the head is read.
    head = LedgerHead.__table__
    length, head_hash = session.execute(
        head.update()
        .where(head.c.id == 1)
        .values(length=head.c.length + 1)
        .returning(head.c.length, head.c.head_hash)
    ).one()
    return length, head_hash


def post_entry(
    session: Session,
    postings: Sequence[Posting],
    *,
    entry_date: date,
    source_type: str,
    source_id: str | int | None,
    actor: Actor,
    memo: str = "",
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced journal entry in the caller's transaction and return it."""
    _validate(postings)
    memo = _memo(memo)
    gl_ids = _gl_ids(session, (p.gl_code for p in postings))
    numbers = _account_numbers(
        session, (p.account_id for p in postings if p.account_id is not None)
    )
    seq, prev_hash = _advance_head(session)
    facts = EntryFacts(
        seq=seq,
        prev_hash=prev_hash,
        entry_date=entry_date,
        posted_at=utcnow(),
        source_type=source_type,
        source_id=None if source_id is None else str(source_id),
        memo=memo,
        actor=actor.label,
        reverses_seq=None if reverses is None else reverses.seq,
        lines=tuple(
            LineFacts(p.gl_code, numbers.get(p.account_id), p.debit_cents, p.credit_cents)
            for p in postings
        ),
    )
    lines = [
        JournalLine(
            position=i,
            gl_account_id=gl_ids[p.gl_code],
            account_id=p.account_id,
            debit_cents=p.debit_cents,
            credit_cents=p.credit_cents,
        )
        for i, p in enumerate(postings, start=1)
    ]
    entry = _chain_entry(session, facts, actor, reverses, lines)
    add_to_day_balances(
        session,
        day_sums((gl_ids[p.gl_code], entry_date, p.debit_cents, p.credit_cents) for p in postings),
    )
    session.flush()
    return entry


def post_checkpoint_entry(
    session: Session, *, checkpoint_id: int, memo: str, entry_date: date, actor: Actor
) -> JournalEntry:
    """Post a checkpoint's journal entry: no lines, its facts in the memo (ledger.checkpoints).

    The caller holds the head's lock and has verified the chain through the entry before
    the one this takes; the checkpoint's memo names that entry.
    """
    seq, prev_hash = _advance_head(session)
    facts = EntryFacts(
        seq=seq,
        prev_hash=prev_hash,
        entry_date=entry_date,
        posted_at=utcnow(),
        source_type=CHECKPOINT_SOURCE,
        source_id=str(checkpoint_id),
        memo=memo,
        actor=actor.label,
        reverses_seq=None,
        lines=(),
    )
    if len(memo) > MEMO_LENGTH or checkpoint_entry_problem(facts):
        raise LedgerError(f"checkpoint {checkpoint_id}: its memo does not state its facts")
    entry = _chain_entry(session, facts, actor, None, [])
    session.flush()
    return entry


def _chain_entry(
    session: Session,
    facts: EntryFacts,
    actor: Actor,
    reverses: JournalEntry | None,
    lines: list[JournalLine],
) -> JournalEntry:
    """The entry of these facts and lines, hashed onto the chain: added to the session, the
    head moved."""
    digest = entry_hash(facts)
    entry = JournalEntry(
        seq=facts.seq,
        entry_date=facts.entry_date,
        posted_at=facts.posted_at,
        source_type=facts.source_type,
        source_id=facts.source_id,
        memo=facts.memo,
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        reverses=reverses,
        prev_hash=facts.prev_hash,
        hash=digest,
    )
    entry.lines = lines
    session.add(entry)
    head = LedgerHead.__table__
    session.execute(head.update().where(head.c.id == 1).values(head_hash=digest))
    return entry


@dataclass(frozen=True)
class EntrySpec:
    """One entry of a bulk posting."""

    postings: Sequence[Posting]
    entry_date: date
    source_type: str
    source_id: str | None
    memo: str = ""


def post_entries(
    session: Session,
    specs: Sequence[EntrySpec],
    *,
    actor: Actor,
    account_numbers: dict[int, str] | None = None,
) -> list[int]:
    """Post many balanced entries with a handful of statements (billing runs); returns their ids.

    The same validation and the same hash chain as post_entry; all or nothing
    within the caller's transaction.
    """
    if not specs:
        return []
    for spec in specs:
        _validate(spec.postings)
    gl_ids = _gl_ids(session, {p.gl_code for spec in specs for p in spec.postings})
    wanted = {p.account_id for spec in specs for p in spec.postings if p.account_id is not None}
    numbers = (
        account_numbers
        if account_numbers is not None and wanted <= account_numbers.keys()
        else (_account_numbers(session, wanted))
    )
    head = LedgerHead.__table__
    last_seq, prev_hash = session.execute(
        head.update()
        .where(head.c.id == 1)
        .values(length=head.c.length + len(specs))
        .returning(head.c.length, head.c.head_hash)
    ).one()
    posted_at = utcnow()
    entry_rows = []
    for offset, spec in enumerate(specs):
        seq = last_seq - len(specs) + 1 + offset
        facts = EntryFacts(
            seq=seq,
            prev_hash=prev_hash,
            entry_date=spec.entry_date,
            posted_at=posted_at,
            source_type=spec.source_type,
            source_id=spec.source_id,
            memo=_memo(spec.memo),
            actor=actor.label,
            reverses_seq=None,
            lines=tuple(
                LineFacts(p.gl_code, numbers.get(p.account_id), p.debit_cents, p.credit_cents)
                for p in spec.postings
            ),
        )
        digest = entry_hash(facts)
        entry_rows.append(
            {
                "seq": seq,
                "entry_date": spec.entry_date,
                "posted_at": posted_at,
                "source_type": spec.source_type,
                "source_id": spec.source_id,
                "memo": _memo(spec.memo),
                "actor_type": actor.kind,
                "actor_id": actor.id,
                "actor_label": actor.label,
                "reverses_id": None,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    table = JournalEntry.__table__
    ids = reserve_ids(session, table, len(entry_rows))
    for entry_id, row in zip(ids, entry_rows, strict=True):
        row["id"] = entry_id
    bulk_insert(session, table, entry_rows)
    line_rows = [
        {
            "entry_id": entry_id,
            "position": position,
            "gl_account_id": gl_ids[p.gl_code],
            "account_id": p.account_id,
            "debit_cents": p.debit_cents,
            "credit_cents": p.credit_cents,
        }
        for entry_id, spec in zip(ids, specs, strict=True)
        for position, p in enumerate(spec.postings, start=1)
    ]
    bulk_insert(session, JournalLine.__table__, line_rows)
    add_to_day_balances(
        session,
        day_sums(
            (gl_ids[p.gl_code], spec.entry_date, p.debit_cents, p.credit_cents)
            for spec in specs
            for p in spec.postings
        ),
    )
    session.execute(head.update().where(head.c.id == 1).values(head_hash=prev_hash))
    return list(ids)


def reverse_entry(
    session: Session, entry: JournalEntry, *, actor: Actor, entry_date: date, memo: str
) -> JournalEntry:
    """Post the mirror image of an entry; an entry can be reversed only once."""
    if session.scalar(sa.select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)):
        raise LedgerError(f"entry {entry.seq} has already been reversed")
    codes = gl_codes(session)
    postings = [
        Posting(
            codes[line.gl_account_id],
            debit_cents=line.credit_cents,
            credit_cents=line.debit_cents,
            account_id=line.account_id,
        )
        for line in entry.lines
    ]
    return post_entry(
        session,
        postings,
        entry_date=entry_date,
        source_type=entry.source_type,
        source_id=entry.source_id,
        actor=actor,
        memo=memo or f"Reversal of entry {entry.seq}",
        reverses=entry,
    )
