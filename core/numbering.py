"""Gap-free document numbers (invoices, account numbers, receipts)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import insert_or_nothing
from core.models import NumberSeries


def next_number(session: Session, series: str, year: int = 0) -> int:
    """Claim the next number of a series in the caller's transaction."""
    return reserve_numbers(session, series, year, 1).start


def reserve_numbers(session: Session, series: str, year: int, count: int) -> range:
    """Claim `count` consecutive numbers of a series in the caller's transaction.

    The row lock taken by the UPDATE holds other transactions until this one
    commits or rolls back, so committed numbers never skip.
    """
    session.execute(
        insert_or_nothing(session, NumberSeries, unique=["series", "year"]).values(
            series=series, year=year, last_number=0
        )
    )
    table = NumberSeries.__table__
    last = session.execute(
        table.update()
        .where(table.c.series == series, table.c.year == year)
        .values(last_number=table.c.last_number + count)
        .returning(table.c.last_number)
    ).scalar_one()
    return range(last - count + 1, last + 1)


def reserve_ids(session: Session, table, count: int) -> list[int]:
    """Primary keys for `count` new rows of a table, so bulk inserts need no RETURNING.

    PostgreSQL draws them from the table's sequence. SQLite hands out the ids
    after the current maximum; the caller's transaction already holds SQLite's
    write lock (it has written), so no other writer can take them meanwhile.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
                ),
                {"table": table.name, "count": count},
            ).scalars()
        )
    start = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + count + 1))
