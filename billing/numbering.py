"""Gap-free document numbers (invoices, account numbers, receipts)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing.models import NumberSeries


def next_number(session: Session, series: str, year: int = 0) -> int:
    """Claim the next number of a series in the caller's transaction."""
    return reserve_numbers(session, series, year, 1).start


def reserve_numbers(session: Session, series: str, year: int, count: int) -> range:
    """Claim `count` consecutive numbers of a series in the caller's transaction.

    The row lock taken by the UPDATE holds other transactions until this one
    commits or rolls back, so committed numbers never skip.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(NumberSeries)
        .values(series=series, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    table = NumberSeries.__table__
    last = session.execute(
        table.update()
        .where(table.c.series == series, table.c.year == year)
        .values(last_number=table.c.last_number + count)
        .returning(table.c.last_number)
    ).scalar_one()
    return range(last - count + 1, last + 1)
