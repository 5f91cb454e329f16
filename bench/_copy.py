"""The COPY baselines the import benchmarks measure against (not a benchmark itself).

Both take every row an import wrote, read back as stored (table -> (columns, rows)), and time
writing them again with COPY, the best of three:
- into the import's own tables, with their indexes, checks and foreign keys (what storing the
  import's result costs in this schema at PostgreSQL's fastest path): each round deletes the
  rows first, untimed, writes them in the order their foreign keys accept, and rolls back;
- into plain tables of the same columns, without an index or a constraint, and commits: for
  scale only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa

from core.extensions import db

Rows = dict[str, tuple[list[str], list[tuple]]]


def _copy(connection, table: str, columns: list[str], data: list[tuple]) -> None:
    """COPY rows into a table, dicts and lists as JSON."""
    from psycopg.types.json import Json

    quoted = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in data:
            copy.write_row([Json(v) if isinstance(v, dict | list) else v for v in row])


def copy_into_own_tables(app, rows: Rows, order: Sequence[str]) -> float:
    """Seconds to COPY the rows of the tables in `order` (their foreign keys' order) into those
    tables; the best of three, each rolled back."""
    best = float("inf")
    with app.app_context():
        for _ in range(3):
            raw = db.engine.raw_connection()
            try:
                connection = raw.driver_connection
                with connection.cursor() as cursor:
                    for name in reversed(order):
                        ids = [row[rows[name][0].index("id")] for row in rows[name][1]]
                        cursor.execute(f"DELETE FROM {name} WHERE id = ANY(%s)", [ids])
                start = time.perf_counter()
                for name in order:
                    _copy(connection, name, *rows[name])
                best = min(best, time.perf_counter() - start)
                connection.rollback()
            finally:
                raw.close()
    return best


def copy_into_plain_tables(app, rows: Rows) -> float:
    """Seconds to COPY every table's rows into plain tables of the same columns and commit; the
    best of three."""
    best = float("inf")
    with app.app_context():
        for _ in range(3):
            with db.engine.begin() as connection:
                for name in rows:
                    connection.execute(sa.text(f"DROP TABLE IF EXISTS bench_copy_{name}"))
                    connection.execute(sa.text(f"CREATE TABLE bench_copy_{name} (LIKE {name})"))
            raw = db.engine.raw_connection()
            try:
                start = time.perf_counter()
                for name, (columns, data) in rows.items():
                    _copy(raw.driver_connection, f"bench_copy_{name}", columns, data)
                raw.driver_connection.commit()
                best = min(best, time.perf_counter() - start)
            finally:
                raw.close()
        with db.engine.begin() as connection:
            for name in rows:
                connection.execute(sa.text(f"DROP TABLE IF EXISTS bench_copy_{name}"))
    return best
