"""Gap-free document numbers (invoices, account numbers, receipts)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing.models import NumberSeries


def next_number(session: Session, series: str, year: int = 0) -> int:
    """Claim the next number of a series in the caller's transaction.

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
    return session.execute(
        sa.update(NumberSeries)
        .where(NumberSeries.series == series, NumberSeries.year == year)
        .values(last_number=NumberSeries.last_number + 1)
        .returning(NumberSeries.last_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()
