"""Ledger export speed and memory, against PostgreSQL's own COPY (query) TO STDOUT.

On a fresh PostgreSQL database, posts ENTRIES balanced two-line entries
(1,000,000 journal lines by default) through post_entries in batches, so the
hash chain is real, then:
- as the baseline, COPY (the same rows and columns) TO STDOUT through psycopg
  into a file, once before and once after the exporter, averaged;
- the exporter (ledger.exports.write_export) in a child process for CSV
  (COPY on PostgreSQL, hashing as it streams), CSV through the Python writer,
  JSON Lines and XLSX: rows/s and the child's peak memory (VmHWM);
- the file-only checker (ledger.export_verify) on the CSV.
Prints rows/s, the CSV ratio against the baseline (target >= 60%) and the peak
memory (target < 100 MB). A benchmark, not a test.

    .venv/bin/python bench/exports.py [ENTRIES]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/munibill_bench_exports .venv/bin/python bench/exports.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _results  # noqa: E402
from _seed import account_rows  # noqa: E402

from accounts.models import Account  # noqa: E402
from core import create_app  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from ledger.export_verify import verify_export  # noqa: E402
from ledger.posting import EntrySpec, credit, debit, post_entries  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/munibill_bench_exports"
ACCOUNTS = 10_000
BATCH = 10_000
ACTOR = Actor.job("bench")

#: The baseline: the same rows and columns, formatted by PostgreSQL, nothing else.
BASELINE = """
COPY (
  SELECT e.seq, to_char(e.entry_date, 'YYYY-MM-DD') AS entry_date,
         to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS posted_at,
         e.source_type, e.source_id, e.actor_label AS actor, e.memo, r.seq AS reverses_seq,
         e.prev_hash, e.hash, l.position AS line, g.code AS gl_code,
         a.number AS account_number, l.debit_cents, l.credit_cents
  FROM journal_entry e
  LEFT JOIN journal_line l ON l.entry_id = e.id
  LEFT JOIN gl_account g ON g.id = l.gl_account_id
  LEFT JOIN account a ON a.id = l.account_id
  LEFT JOIN journal_entry r ON r.id = e.reverses_id
  ORDER BY e.seq, l.position
) TO STDOUT WITH (FORMAT csv, HEADER)
"""

#: Runs one export in this child, on a bare engine (the exporter and the models it imports,
#: not the whole web app), and reports its time and its own memory (VmHWM) at rest and at the end.
CHILD = """
import json, sys, time
from pathlib import Path
import sqlalchemy as sa
from ledger.exports import ExportRequest, write_export
def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
file_format, out, use_copy, url = sys.argv[1], sys.argv[2], sys.argv[3] == "copy", sys.argv[4]
engine = sa.create_engine(url)
engine.connect().close()
rest = peak()
start = time.perf_counter()
manifest = write_export(engine, ExportRequest("ledger", file_format), Path(out), use_copy=use_copy)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": manifest["rows"], "bytes": manifest["bytes"],
                  "rest_kib": rest, "peak_kib": peak()}))
"""


def fresh_app(url: str):
    """An app on an empty, migrated database (created if it does not exist)."""
    server = sa.make_url(url).set(database="postgres")
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        name = sa.make_url(url).database
        if not connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ):
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        flask_migrate.upgrade()
    return app


def seed(app, entries: int) -> float:
    """Accounts, then entries (receivable of an account debited, water revenue credited)."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            sa.insert(Account.__table__),
            account_rows(range(1, ACCOUNTS + 1), now),
        )
        db.session.commit()
        numbers = dict(db.session.execute(sa.select(Account.id, Account.number)).all())
        start = time.perf_counter()
        for offset in range(0, entries, BATCH):
            specs = []
            for n in range(offset, min(offset + BATCH, entries)):
                account, cents = n % ACCOUNTS + 1, 1_000 + n % 50_000
                specs.append(
                    EntrySpec(
                        [debit("1110", cents, account), credit("4010", cents)],
                        date(2026, 1 + n % 12, 1 + n % 28),
                        "invoice",
                        f"2026-{n:06d}",
                        memo=f"Water, October cycle, account {numbers[account]}",
                    )
                )
            post_entries(db.session, specs, actor=ACTOR, account_numbers=numbers)
            db.session.commit()
        return time.perf_counter() - start


def baseline(app, out: Path) -> tuple[float, int]:
    """COPY (query) TO STDOUT into a file: (seconds, bytes)."""
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        start = time.perf_counter()
        with raw.cursor() as cursor, open(out, "wb") as target:
            with cursor.copy(BASELINE) as copy:
                for data in copy:
                    target.write(data)
            rows = cursor.rowcount
        seconds = time.perf_counter() - start
        connection.rollback()
    assert rows > 0
    return seconds, out.stat().st_size


def exporter(url: str, folder: str, file_format: str, out: Path, use_copy: bool) -> dict:
    """One export in a child process: seconds, rows, bytes and peak memory."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "b" * 40,
        "MUNIBILL_INSTANCE_PATH": folder,
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, file_format, str(out), "copy" if use_copy else "python", url],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Seed, export, compare and print the figures."""
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        app = fresh_app(url)
        seeding = seed(app, entries)
        print(f"posted {entries:,} entries ({2 * entries:,} journal lines) in {seeding:.1f} s")
        files = Path(folder)
        baseline(app, files / "warm.csv")  # the first read fills PostgreSQL's cache
        before, size = baseline(app, files / "baseline.csv")
        csv_run = exporter(url, folder, "csv", files / "ledger.csv", use_copy=True)
        after, _size = baseline(app, files / "baseline.csv")
        base_seconds = (before + after) / 2
        lines = csv_run["rows"]
        same = (files / "ledger.csv").read_bytes() == (files / "baseline.csv").read_bytes()
        others = {
            "CSV, Python writer": exporter(url, folder, "csv", files / "py.csv", use_copy=False),
            "JSON Lines": exporter(url, folder, "jsonl", files / "ledger.jsonl", use_copy=False),
            "XLSX": exporter(url, folder, "xlsx", files / "ledger.xlsx", use_copy=False),
        }
        start = time.perf_counter()
        report = verify_export(files / "ledger.csv")
        verify_seconds = time.perf_counter() - start
        with app.app_context():
            db.engine.dispose()
    rate = lines / csv_run["seconds"]
    base_rate = lines / base_seconds
    print(f"ledger export of {lines:,} journal lines on PostgreSQL")
    print(
        f"  baseline COPY (query) TO STDOUT: {base_seconds:6.2f} s  {base_rate:10,.0f} rows/s  "
        f"{size / 1e6:,.0f} MB  (before {before:.2f} s, after {after:.2f} s)"
    )
    print(
        f"  munibill export, CSV:            {csv_run['seconds']:6.2f} s  {rate:10,.0f} rows/s  "
        f"peak RSS {csv_run['peak_kib'] / 1024:,.0f} MB (at rest {csv_run['rest_kib'] / 1024:,.0f})  "
        f"same bytes as the baseline: {same}"
    )
    print(f"  ratio (rows/s): {rate / base_rate:.1%}  (target >= 60%; peak < 100 MB)")
    for name, run in others.items():
        print(
            f"  munibill export, {name + ':':<18}{run['seconds']:6.2f} s  "
            f"{lines / run['seconds']:10,.0f} rows/s  peak RSS {run['peak_kib'] / 1024:,.0f} MB "
            f"(at rest {run['rest_kib'] / 1024:,.0f})  file {run['bytes'] / 1e6:,.0f} MB"
        )
    print(
        f"  export_verify on the CSV:         {verify_seconds:6.2f} s  "
        f"{lines / verify_seconds:10,.0f} rows/s  {report.summary()[:60]}"
    )
    peaks = [csv_run["peak_kib"], *(run["peak_kib"] for run in others.values())]
    _results.report(
        "ledger export (CSV)",
        figure=rate,
        unit="rows/s",
        baseline=base_rate,
        target=">= 60% of COPY TO STDOUT's rows/s; peak < 100 MB; same bytes as the baseline",
        checks={
            "ratio >= 60%": rate / base_rate >= 0.60,
            "peak < 100 MB": csv_run["peak_kib"] < 100 * 1024,
            "same bytes": same,
        },
        database="postgresql",
        notes={
            "size": f"{lines:,} journal lines",
            "peak RSS": f"{csv_run['peak_kib'] / 1024:,.0f} MB (largest of all formats "
            f"{max(peaks) / 1024:,.0f} MB)",
            "other formats": ", ".join(
                f"{name} {lines / run['seconds']:,.0f} rows/s" for name, run in others.items()
            ),
        },
    )


if __name__ == "__main__":
    main()
