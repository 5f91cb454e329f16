"""Posting to the general ledger, reversing, verifying the chain and reading balances.

There is deliberately no function that updates or deletes a journal entry;
journal models are AppendOnly, so the session refuses such a flush as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from billing.chain import GENESIS, EntryFacts, LineFacts, entry_hash, is_balanced
from billing.chart import gl_codes
from billing.models import (
    Account,
    GLAccount,
    GLCategory,
    GLType,
    JournalEntry,
    JournalLine,
    LedgerHead,
)
from billing.numbering import reserve_ids
from core.audit import Actor
from core.db import bulk_insert, utcnow


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
        session.execute(sa.select(Account.id, Account.number).where(Account.id.in_(wanted))).all()
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
    digest = entry_hash(facts)
    entry = JournalEntry(
        seq=seq,
        entry_date=entry_date,
        posted_at=facts.posted_at,
        source_type=source_type,
        source_id=facts.source_id,
        memo=memo,
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        reverses=reverses,
        prev_hash=prev_hash,
        hash=digest,
    )
    entry.lines = [
        JournalLine(
            position=i,
            gl_account_id=gl_ids[p.gl_code],
            account_id=p.account_id,
            debit_cents=p.debit_cents,
            credit_cents=p.credit_cents,
        )
        for i, p in enumerate(postings, start=1)
    ]
    session.add(entry)
    head = LedgerHead.__table__
    session.execute(head.update().where(head.c.id == 1).values(head_hash=digest))
    session.flush()
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
            memo=spec.memo,
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
                "memo": spec.memo,
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


@dataclass
class VerifyReport:
    """The result of walking the chain."""

    length: int = 0
    head_hash: str = GENESIS
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


def _entries_in_order(session: Session, batch: int) -> Iterator[tuple[sa.Row, EntryFacts]]:
    """Yield each stored entry row with the facts rebuilt from its stored content, by seq."""
    reversed_entry = aliased(JournalEntry)
    last_seq = 0
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
                Account.number,
                JournalLine.debit_cents,
                JournalLine.credit_cents,
            )
            .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
            .outerjoin(Account, Account.id == JournalLine.account_id)
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


def verify_chain(session: Session, batch: int = 2000) -> VerifyReport:
    """Walk the chain from the first entry; stop at the first entry that does not match."""
    report = VerifyReport()
    expected_prev = GENESIS
    for entry, facts in _entries_in_order(session, batch):
        expected_seq = report.length + 1
        if entry.seq != expected_seq:
            report.problem = (
                f"entry {expected_seq} is missing (the next entry found is {_describe(entry)})"
            )
            report.bad_seq = expected_seq
            return report
        problem = None
        if entry.prev_hash != expected_prev:
            problem = "does not link to the entry before it"
        elif entry_hash(facts) != entry.hash:
            problem = "hash does not match its content (it was altered)"
        elif not is_balanced(facts.lines):
            problem = "does not balance"
        if problem:
            report.problem = f"{_describe(entry)} {problem}"
            report.bad_seq = entry.seq
            return report
        report.length = entry.seq
        report.head_hash = entry.hash
        expected_prev = entry.hash
    head = session.execute(sa.select(LedgerHead.length, LedgerHead.head_hash)).one()
    if (head.length, head.head_hash) != (report.length, report.head_hash):
        report.problem = (
            f"the chain ends at entry {report.length} but the ledger head records entry "
            f"{head.length}: entries after {report.length} were removed"
        )
        report.bad_seq = report.length + 1
    return report


def _signed(gl_type: GLType, debits: int, credits: int) -> int:
    """A balance in the account's normal direction."""
    return debits - credits if gl_type.debit_normal else credits - debits


def _sums(as_of: date | None):
    """SUM(debit), SUM(credit) over journal lines up to as_of."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(JournalLine.debit_cents), 0),
        sa.func.coalesce(sa.func.sum(JournalLine.credit_cents), 0),
    ).join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
    if as_of is not None:
        query = query.where(JournalEntry.entry_date <= as_of)
    return query


def gl_balance(session: Session, code: str, as_of: date | None = None) -> int:
    """The balance of one GL account in its normal direction, in cents."""
    gl = session.scalar(sa.select(GLAccount).where(GLAccount.code == code))
    if gl is None:
        raise LedgerError(f"GL account {code} does not exist")
    debits, credits = session.execute(_sums(as_of).where(JournalLine.gl_account_id == gl.id)).one()
    return _signed(gl.type, int(debits), int(credits))


def _account_balance(
    session: Session, account_id: int, category: GLCategory, as_of: date | None
) -> int:
    """Net debits minus credits on one billing account's lines of one GL category."""
    query = (
        _sums(as_of)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalLine.account_id == account_id, GLAccount.category == category)
    )
    debits, credits = session.execute(query).one()
    return int(debits) - int(credits)


def account_receivable(session: Session, account_id: int, as_of: date | None = None) -> int:
    """What a billing account owes according to the ledger, in cents."""
    return _account_balance(session, account_id, GLCategory.RECEIVABLE, as_of)


def accounts_receivable(session: Session, account_ids: Iterable[int]) -> dict[int, int]:
    """What each of several billing accounts owes according to the ledger (one query)."""
    wanted = set(account_ids)
    owed = dict.fromkeys(wanted, 0)
    if not wanted:
        return owed
    rows = session.execute(
        sa.select(
            sa.func.sum(JournalLine.debit_cents),
            sa.func.sum(JournalLine.credit_cents),
            JournalLine.account_id,
        )
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalLine.account_id.in_(wanted), GLAccount.category == GLCategory.RECEIVABLE)
        .group_by(JournalLine.account_id)
    ).all()
    for debits, credits, account_id in rows:
        owed[account_id] = int(debits) - int(credits)
    return owed


_POSITION = (
    sa.select(
        GLAccount.category,
        sa.func.coalesce(sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents), 0),
    )
    .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
    .where(
        JournalLine.account_id == sa.bindparam("account_id"),
        GLAccount.category.in_([GLCategory.RECEIVABLE, GLCategory.UNAPPLIED_CREDIT]),
    )
    .group_by(GLAccount.category)
)


def account_position(session: Session, account_id: int) -> tuple[int, int]:
    """What a billing account owes and the credit held for it, now, in one query (cents)."""
    net = dict(session.execute(_POSITION, {"account_id": account_id}).all())
    return (
        int(net.get(GLCategory.RECEIVABLE, 0)),
        -int(net.get(GLCategory.UNAPPLIED_CREDIT, 0)),
    )


def account_credit(session: Session, account_id: int, as_of: date | None = None) -> int:
    """Unapplied credit the municipality holds for a billing account, in cents."""
    return -_account_balance(session, account_id, GLCategory.UNAPPLIED_CREDIT, as_of)


@dataclass
class TrialBalanceRow:
    """One GL account's debit and credit totals and its net balance."""

    code: str
    name: str
    type: GLType
    debit_cents: int
    credit_cents: int

    @property
    def balance_cents(self) -> int:
        """Net balance in the account's normal direction."""
        return _signed(self.type, self.debit_cents, self.credit_cents)


@dataclass
class TrialBalance:
    """All GL accounts as of a date; total debits always equal total credits."""

    as_of: date | None
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit_cents(self) -> int:
        """Sum of debit totals."""
        return sum(r.debit_cents for r in self.rows)

    @property
    def total_credit_cents(self) -> int:
        """Sum of credit totals."""
        return sum(r.credit_cents for r in self.rows)


def trial_balance(session: Session, as_of: date | None = None) -> TrialBalance:
    """Debit and credit totals of every GL account with activity up to as_of."""
    sums = (
        sa.select(
            JournalLine.gl_account_id,
            sa.func.sum(JournalLine.debit_cents).label("debits"),
            sa.func.sum(JournalLine.credit_cents).label("credits"),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .group_by(JournalLine.gl_account_id)
    )
    if as_of is not None:
        sums = sums.where(JournalEntry.entry_date <= as_of)
    sums = sums.subquery()
    rows = session.execute(
        sa.select(GLAccount.code, GLAccount.name, GLAccount.type, sums.c.debits, sums.c.credits)
        .join(sums, sums.c.gl_account_id == GLAccount.id)
        .order_by(GLAccount.code)
    ).all()
    return TrialBalance(
        as_of,
        [TrialBalanceRow(r.code, r.name, r.type, int(r.debits), int(r.credits)) for r in rows],
    )
