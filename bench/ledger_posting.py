"""Ledger posting rate: post_entry (validated, hash-chained, one transaction each) against a baseline.

The baseline writes the same journal_entry and journal_line rows with a bare
SQLAlchemy Core executemany in one transaction, with no validation, hashing or
head lock. Prints entries per second for both and the ratio. A benchmark, not a test.

    .venv/bin/python bench/ledger_posting.py [ENTRIES]            # SQLite in a temp folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python bench/ledger_posting.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _results  # noqa: E402

from core import create_app  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from ledger.models import JournalEntry, JournalLine  # noqa: E402
from ledger.posting import credit, debit, post_entry
from ledger.verify import verify_chain  # noqa: E402

DAY = date(2026, 11, 1)
ACTOR = Actor.job("bench")


def fresh_app(url: str, instance: Path):
    """An app on an empty, migrated database."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        flask_migrate.upgrade()
    return app


def measure_posting(app, entries: int) -> float:
    """Entries per second through post_entry, one commit per entry."""
    with app.app_context():
        start = time.perf_counter()
        for n in range(entries):
            post_entry(
                db.session,
                [debit("1010", n + 1), credit("4010", n + 1)],
                entry_date=DAY,
                source_type="payment",
                source_id=str(n),
                actor=ACTOR,
            )
            db.session.commit()
        elapsed = time.perf_counter() - start
        assert verify_chain(db.session).length == entries
    return entries / elapsed


def measure_baseline(app, entries: int) -> float:
    """Entries per second for the same rows through Core executemany."""
    with app.app_context():
        gl = dict(db.session.execute(sa.text("SELECT code, id FROM gl_account")).all())
        offset = 10_000_000
        now = utcnow()
        entry_rows = [
            {
                "id": offset + n,
                "seq": offset + n,
                "entry_date": DAY,
                "posted_at": now,
                "source_type": "payment",
                "source_id": str(n),
                "memo": "",
                "actor_type": "job",
                "actor_id": "bench",
                "actor_label": "job:bench",
                "prev_hash": f"{offset + n:064d}",
                "hash": f"{offset + n + 1:064d}",
            }
            for n in range(entries)
        ]
        line_rows = [
            row
            for n in range(entries)
            for row in (
                {
                    "entry_id": offset + n,
                    "position": 1,
                    "gl_account_id": gl["1010"],
                    "debit_cents": n + 1,
                    "credit_cents": 0,
                },
                {
                    "entry_id": offset + n,
                    "position": 2,
                    "gl_account_id": gl["4010"],
                    "debit_cents": 0,
                    "credit_cents": n + 1,
                },
            )
        ]
        start = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(sa.insert(JournalEntry.__table__), entry_rows)
            connection.execute(sa.insert(JournalLine.__table__), line_rows)
        return entries / (time.perf_counter() - start)


def main() -> None:
    """Run both measurements and print the figures."""
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = fresh_app(url, Path(folder))
        posting = measure_posting(app, entries)
        baseline = measure_baseline(app, entries)
        with app.app_context():
            dialect = db.engine.dialect.name
            db.engine.dispose()
    print(f"ledger posting on {dialect}, {entries} entries")
    print(f"  post_entry, one transaction each: {posting:,.0f} entries/s")
    print(f"  baseline Core executemany:        {baseline:,.0f} entries/s")
    print(f"  ratio: {posting / baseline:.1%}")
    _results.report(
        "ledger posting",
        figure=posting,
        unit="entries/s",
        baseline=baseline,
        target="none set (each entry is its own validated, hash-chained transaction)",
        checks={},
        database=dialect,
        notes={"size": f"{entries:,} entries"},
    )


if __name__ == "__main__":
    main()
