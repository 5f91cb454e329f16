"""The county seed's journal: entries and lines in chain order, hashed as the app hashes them.

Each entry's hash is ledger.chain.entry_hash over the same facts post_entries hashes (the
GL codes and billing account numbers of its lines), so `munibill ledger verify` walks the
seeded chain like one the app posted. Not a benchmark itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from ledger.chain import GENESIS, EntryFacts, LineFacts, entry_hash

ENTRY_COLUMNS = (
    "id",
    "seq",
    "entry_date",
    "posted_at",
    "source_type",
    "source_id",
    "memo",
    "actor_type",
    "actor_id",
    "actor_label",
    "prev_hash",
    "hash",
)
LINE_COLUMNS = (
    "id",
    "entry_id",
    "position",
    "gl_account_id",
    "account_id",
    "debit_cents",
    "credit_cents",
)


@lru_cache(maxsize=4096)
def moment(day: date, seconds: int = 0) -> datetime:
    """An instant on a town's business day (18:00 UTC is midday in the town, the same date)."""
    return datetime.combine(day, time(18, 0), UTC) + timedelta(seconds=seconds)


class Chain:
    """Posts balanced entries into a Sink, one after another, carrying the hash chain."""

    def __init__(self, sink, gl_ids: dict[str, int], numbers, actor: tuple[str, str, str]):
        self.sink = sink
        self.gl_ids = gl_ids
        #: The account number of a billing account id (a list indexed by id).
        self.numbers = numbers
        self.actor_type, self.actor_id, self.actor_label = actor
        self.seq = 0
        self.line_id = 0
        self.head = GENESIS

    def post(
        self,
        postings: list[tuple[str, int, int, int | None]],
        day: date,
        source_type: str,
        source_id: str,
        memo: str,
    ) -> int:
        """Post one entry of (gl code, debit, credit, account id) lines; returns its seq."""
        debits = sum(p[1] for p in postings)
        if debits != sum(p[2] for p in postings) or debits <= 0:
            raise ValueError(f"unbalanced entry {source_type} {source_id}: {postings}")
        self.seq += 1
        seq = self.seq
        posted_at = moment(day, seq % 3600)
        facts = EntryFacts(
            seq=seq,
            prev_hash=self.head,
            entry_date=day,
            posted_at=posted_at,
            source_type=source_type,
            source_id=source_id,
            memo=memo,
            actor=self.actor_label,
            reverses_seq=None,
            lines=tuple(
                LineFacts(code, None if account is None else self.numbers[account], dr, cr)
                for code, dr, cr, account in postings
            ),
        )
        digest = entry_hash(facts)
        self.sink.add(
            "journal_entry",
            (
                seq,
                seq,
                day,
                posted_at,
                source_type,
                source_id,
                memo,
                self.actor_type,
                self.actor_id,
                self.actor_label,
                self.head,
                digest,
            ),
        )
        for position, (code, dr, cr, account) in enumerate(postings, start=1):
            self.line_id += 1
            self.sink.add(
                "journal_line", (self.line_id, seq, position, self.gl_ids[code], account, dr, cr)
            )
        self.head = digest
        return seq


#: The period balances of the journal just loaded (ledger/day_balances.py): posting keeps them,
#: but the seed writes journal lines by COPY, so it sums them once when the COPY is done.
PERIOD_BALANCES = (
    "INSERT INTO gl_day_balance (gl_account_id, entry_date, debit_cents, credit_cents) "
    "SELECT l.gl_account_id, e.entry_date, SUM(l.debit_cents), SUM(l.credit_cents) "
    "FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id "
    "GROUP BY l.gl_account_id, e.entry_date"
)


def fill_period_balances(connection) -> int:
    """Sum the loaded journal into gl_day_balance (empty until now) and commit; the rows."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM gl_day_balance")
        cursor.execute(PERIOD_BALANCES)
        written = cursor.rowcount
    connection.commit()
    return written
