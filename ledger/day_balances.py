"""Period balances: each GL account's debits and credits of each entry date (gl_day_balance).

Posting adds an entry's lines to their (GL account, entry date) rows in the same transaction
(ledger/posting.py), so the trial balance and a GL balance as of any date sum a few hundred
day rows per account instead of every journal line. Rows are only ever added to: a reversal
is an entry like any other, on its own date, and adds its lines as they are.

The add is one INSERT ... ON CONFLICT DO UPDATE that adds to what is there, on PostgreSQL
and SQLite alike. Postings are already ordered by the ledger head's row lock
(posting._advance_head), which every posting takes before it adds, so two transactions never
add to the same rows at once; the upsert keeps the add right even without that order.

`recomputed` and `differences` are the full recomputation from journal lines, the oracle of
the tests and of `munibill ledger check-balances`; `rebuild` replaces the table with it (the
migration's backfill, and after the county seed loads its journal by COPY).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.models import GLDayBalance, JournalEntry, JournalLine

#: (GL account id, entry date) -> [debit cents, credit cents]
DaySums = dict[tuple[int, date], list[int]]


def day_sums(lines: Iterable[tuple[int, date, int, int]]) -> DaySums:
    """Lines (GL account id, entry date, debit, credit) summed per GL account and date."""
    sums: DaySums = defaultdict(lambda: [0, 0])
    for gl_account_id, entry_date, debit_cents, credit_cents in lines:
        pair = sums[(gl_account_id, entry_date)]
        pair[0] += debit_cents
        pair[1] += credit_cents
    return dict(sums)


def add_to_day_balances(session: Session, sums: DaySums) -> None:
    """Add posted lines' sums to their day rows, creating the rows a day's first lines need."""
    if not sums:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = GLDayBalance.__table__
    # NOTE: in key order, so that two transactions adding to the same rows lock them in the
    # same order and cannot deadlock.
    rows = [
        {"gl_account_id": gl, "entry_date": day, "debit_cents": dr, "credit_cents": cr}
        for (gl, day), (dr, cr) in sorted(sums.items())
    ]
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.gl_account_id, table.c.entry_date],
        set_={
            "debit_cents": table.c.debit_cents + statement.excluded.debit_cents,
            "credit_cents": table.c.credit_cents + statement.excluded.credit_cents,
        },
    )
    session.execute(statement, rows)


def _from_journal():
    """SELECT gl_account_id, entry_date, SUM(debit), SUM(credit) over every journal line."""
    return (
        sa.select(
            JournalLine.gl_account_id,
            JournalEntry.entry_date,
            sa.func.sum(JournalLine.debit_cents).label("debit_cents"),
            sa.func.sum(JournalLine.credit_cents).label("credit_cents"),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .group_by(JournalLine.gl_account_id, JournalEntry.entry_date)
    )


def recomputed(session: Session) -> DaySums:
    """Every day row as a full pass over the journal lines makes it (the oracle)."""
    return {(gl, day): [int(dr), int(cr)] for gl, day, dr, cr in session.execute(_from_journal())}


def stored(session: Session) -> DaySums:
    """Every day row as the table holds it."""
    table = GLDayBalance.__table__
    return {
        (gl, day): [int(dr), int(cr)]
        for gl, day, dr, cr in session.execute(
            sa.select(
                table.c.gl_account_id, table.c.entry_date, table.c.debit_cents, table.c.credit_cents
            )
        )
    }


@dataclass(frozen=True)
class DayDifference:
    """A (GL account, date) whose stored sums are not what its journal lines add up to."""

    gl_account_id: int
    entry_date: date
    stored: tuple[int, int]
    journal: tuple[int, int]


def differences(session: Session) -> list[DayDifference]:
    """Every day row that differs from the full recomputation (empty when the table is right)."""
    kept, truth = stored(session), recomputed(session)
    found = []
    for key in sorted(kept.keys() | truth.keys()):
        have, want = tuple(kept.get(key, (0, 0))), tuple(truth.get(key, (0, 0)))
        if have != want:
            found.append(DayDifference(key[0], key[1], have, want))
    return found


def rebuild(session: Session) -> int:
    """Replace every day row with the full recomputation from the journal; the rows written."""
    table = GLDayBalance.__table__
    session.execute(table.delete())
    source = _from_journal().subquery()
    result = session.execute(
        table.insert().from_select(
            ["gl_account_id", "entry_date", "debit_cents", "credit_cents"],
            sa.select(
                source.c.gl_account_id,
                source.c.entry_date,
                source.c.debit_cents,
                source.c.credit_cents,
            ),
        )
    )
    return int(result.rowcount or 0)


def sums_as_of(as_of: date | None):
    """SELECT gl_account_id, SUM(debit), SUM(credit) of the day rows up to as_of."""
    table = GLDayBalance.__table__
    query = sa.select(
        table.c.gl_account_id,
        sa.func.sum(table.c.debit_cents).label("debits"),
        sa.func.sum(table.c.credit_cents).label("credits"),
    ).group_by(table.c.gl_account_id)
    if as_of is not None:
        query = query.where(table.c.entry_date <= as_of)
    return query
