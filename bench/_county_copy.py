"""Streaming rows into PostgreSQL with COPY for the county seed (not a benchmark itself).

`Sink` keeps a small buffer per table and sends each full buffer with one COPY, so memory
stays flat however many rows go through. `deferred_constraints` takes the secondary indexes,
unique and foreign-key constraints of the tables off while they are filled and puts the very
same definitions back afterwards (as pg_restore does): every row is still checked, once, when
they come back; CHECK and NOT NULL constraints stay on throughout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

#: Rows per table buffered before one COPY sends them.
BUFFER = 20_000


class Sink:
    """Buffers rows per table and COPYs full buffers from a writer thread on its own connection,
    so that PostgreSQL stores one chunk while Python makes the next (the two cores overlap)."""

    def __init__(self, url: str, columns: dict[str, Sequence[str]], buffer: int = BUFFER):
        import psycopg

        self.connection = psycopg.connect(url)
        self.columns = {name: tuple(cols) for name, cols in columns.items()}
        self.buffer = buffer
        self.rows: dict[str, list[tuple]] = {name: [] for name in columns}
        self.counts: Counter[str] = Counter()
        #: At most two chunks wait, so memory stays flat when PostgreSQL is the slower side.
        self.chunks: queue.Queue = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.writer = threading.Thread(target=self._write, name="county-copy", daemon=True)
        self.writer.start()

    def add(self, table: str, row: tuple) -> None:
        """Queue one row (values in the table's column order); sends the buffer when full."""
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self.buffer:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        """Hand one table's buffered rows (or every table's) to the writer."""
        if self.failure is not None:
            raise RuntimeError("the COPY writer failed") from self.failure
        for name in [table] if table else list(self.rows):
            if self.rows[name]:
                self.counts[name] += len(self.rows[name])
                self.chunks.put((name, self.rows[name]))
                self.rows[name] = []

    def close(self) -> None:
        """Send what is left, wait for the writer to store everything, and close."""
        self.flush()
        self.chunks.put(None)
        self.writer.join()
        self.connection.close()
        if self.failure is not None:
            raise RuntimeError("the COPY writer failed") from self.failure

    def _write(self) -> None:
        """The writer thread: COPY each chunk in turn and commit it."""
        while (chunk := self.chunks.get()) is not None:
            if self.failure is not None:
                continue
            name, rows = chunk
            quoted = ", ".join(f'"{c}"' for c in self.columns[name])
            try:
                with (
                    self.connection.cursor() as cursor,
                    cursor.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                self.connection.commit()
            except BaseException as error:  # noqa: BLE001 - handed to the main thread
                self.failure = error


def _definitions(cursor, tables: Sequence[str]) -> tuple[list[tuple], list[tuple]]:
    """(constraints, indexes) to take off: the tables' unique constraints, every foreign key
    from or to them, and their indexes that back no constraint; as (table, name, definition)."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
        FROM pg_constraint c
        WHERE (c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s))
           OR (c.contype = 'f' AND (c.conrelid::regclass::text = ANY(%s)
                                    OR c.confrelid::regclass::text = ANY(%s)))
        """,
        [list(tables)] * 3,
    )
    constraints = sorted(cursor.fetchall(), key=lambda r: r[3] == "f")  # unique first
    cursor.execute(
        """
        SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(tables)],
    )
    return [row[:3] for row in constraints], cursor.fetchall()


@contextmanager
def deferred_constraints(connection, tables: Sequence[str]) -> Iterator[dict]:
    """Take the tables' secondary indexes and unique/foreign keys off, and put them back."""
    timing: dict[str, float] = {}
    with connection.cursor() as cursor:
        constraints, indexes = _definitions(cursor, tables)
        for table, name, _definition in reversed(constraints):
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for _table, name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    connection.commit()
    yield timing
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for _table, _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in constraints:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    connection.commit()
    timing["constraints"] = time.perf_counter() - start
