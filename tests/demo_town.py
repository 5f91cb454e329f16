"""The demo town, loaded once per test process and put back for each test that reads it.

`munibill demo load` converts the town from its old system and bills two years of it: many
seconds, three times as many on PostgreSQL, and a dozen tests read the same town. The first
test of a process that asks for it runs the command as a newcomer does; the rows it left in
every table and the files it wrote in the instance folder (print batches, e-mails) are kept,
and each later test gets them back into its own clean database and instance folder, with
PostgreSQL's id sequences where the load left them. Tests of the loading itself
(tests/demo/test_demo.py) still run the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from core.db import Base

#: The demo's today in the tests that read the town.
DEMO_AS_OF = date(2026, 11, 26)


@dataclass(frozen=True)
class Snapshot:
    """What one load left: every table's rows, the instance folder's files, the command's output."""

    rows: dict[str, list[dict]]
    files: dict[Path, bytes]
    output: str


def take(engine: sa.Engine, instance: Path, output: str) -> Snapshot:
    """Keep every table's rows and every file under the instance folder."""
    with engine.connect() as connection:
        rows = {
            table.name: [dict(row._mapping) for row in connection.execute(sa.select(table))]
            for table in Base.metadata.sorted_tables
        }
    files = {
        path.relative_to(instance): path.read_bytes()
        for path in sorted(instance.rglob("*"))
        if path.is_file()
    }
    return Snapshot(rows, files, output)


def put_back(engine: sa.Engine, snapshot: Snapshot, instance: Path) -> None:
    """Replace the database's rows and the instance folder's files with the snapshot's."""
    tables = Base.metadata.sorted_tables
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            # Rows go back as they were taken; constraints held when they were written.
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            connection.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
            for table in reversed(tables):
                connection.execute(table.delete())
        for table in tables:
            rows = snapshot.rows.get(table.name)
            if rows:
                connection.execute(table.insert(), rows)
        if postgres:
            for table in tables:
                if (
                    "id" in table.c
                    and table.c.id.primary_key
                    and isinstance(table.c.id.type, sa.Integer)
                ):
                    connection.execute(
                        sa.text(
                            "SELECT setval(pg_get_serial_sequence(:table, 'id'), max(id)) "
                            f'FROM "{table.name}" HAVING max(id) IS NOT NULL'
                        ),
                        {"table": table.name},
                    )
    for relative, content in snapshot.files.items():
        path = instance / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
