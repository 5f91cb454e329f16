"""The county's database sizes, per table and index, extrapolated to 1,000,000 accounts.

Reads a county template that bench/seed_county.py built (it runs after it in `make bench`:
scripts run in name order) and prints, per table: rows, heap, indexes and total bytes
(pg_relation_size, pg_indexes_size, pg_total_relation_size), the journal's indexes one by
one, and the plans and times of two as-of-date questions on the journal (the trial balance as
of the middle of the history, and one month's activity), which decide whether the journal
needs partitioning by year (docs/deployment.md). Sizes at 1,000,000 accounts are the
measured ones scaled linearly by the accounts: an extrapolation, not a measurement.

    .venv/bin/python bench/size_county.py [--url postgresql://postgres@127.0.0.1:5432] \
        [--template munibill_county_20000]

It only reads, in a few seconds (a connection open to a template keeps others from copying
it meanwhile).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: E402

COUNTY = 1_000_000
JOURNAL = ("journal_entry", "journal_line")
TABLES = sa.text(
    "SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_relation_size(c.oid) AS heap, "
    "pg_indexes_size(c.oid) AS indexes, pg_total_relation_size(c.oid) AS total "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY total DESC"
)
INDEXES = sa.text(
    "SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid) AS bytes "
    "FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) ORDER BY bytes DESC"
)
TRIAL_BALANCE = (
    "SELECT l.gl_account_id, sum(l.debit_cents), sum(l.credit_cents) "
    "FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id "
    "WHERE e.entry_date <= :day GROUP BY l.gl_account_id"
)
MONTH = (
    "SELECT l.gl_account_id, sum(l.debit_cents), sum(l.credit_cents) "
    "FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id "
    "WHERE e.entry_date BETWEEN :first AND :last GROUP BY l.gl_account_id"
)


def mb(size: float) -> str:
    """Bytes as MB (or GB from 10 GB on), as the tables print them."""
    return f"{size / 1e9:,.1f} GB" if size >= 1e10 else f"{size / 1e6:,.0f} MB"


def explain(connection: sa.Connection, sql: str, params: dict) -> tuple[float, list[str]]:
    """Execution time in ms of EXPLAIN ANALYZE, and the scans its plan uses."""
    lines = connection.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params).scalars()
    lines = list(lines)
    ms = next(float(re.findall(r"[\d.]+", line)[0]) for line in lines if "Execution Time" in line)
    scans = sorted(
        {m.group(0) for line in lines if (m := re.search(r"\w+ Scan( \w+)* on \w+", line))}
    )
    return ms, scans


def history_days(connection: sa.Connection) -> tuple[date, date]:
    """The first and last entry dates of the journal."""
    first, last = connection.execute(
        sa.text("SELECT min(entry_date), max(entry_date) FROM journal_entry")
    ).one()
    return first, last


def measure(url: str) -> dict:
    """Sizes, row counts and the two plans, read from the seeded database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            accounts = connection.scalar(sa.text("SELECT count(*) FROM account"))
            tables = [dict(r._mapping) for r in connection.execute(TABLES)]
            indexes = {
                t: [dict(r._mapping) for r in connection.execute(INDEXES, {"table": t})]
                for t in JOURNAL
            }
            first, last = history_days(connection)
            middle = first + (last - first) / 2
            month = (middle.replace(day=1), middle.replace(day=28))
            plans = {
                f"trial balance as of {middle}": explain(
                    connection, TRIAL_BALANCE, {"day": middle}
                ),
                f"activity {month[0]}..{month[1]}": explain(
                    connection, MONTH, {"first": month[0], "last": month[1]}
                ),
            }
            database = connection.scalar(sa.text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()
    return {"accounts": accounts, "tables": tables, "indexes": indexes, "plans": plans,
            "database": database}  # fmt: skip


def print_figures(figures: dict, scale: float) -> None:
    """The tables, the journal's indexes and the plans, with the 1M column."""
    print(f"{figures['accounts']:,} accounts; sizes at {COUNTY:,} scaled by {scale:,.0f}")
    print(f"  {'table':<22}{'rows':>14}{'heap':>10}{'indexes':>10}{'total':>10}{'at 1M':>11}")
    for t in figures["tables"][:12]:
        print(
            f"  {t['name']:<22}{t['rows']:>14,}{mb(t['heap']):>10}{mb(t['indexes']):>10}"
            f"{mb(t['total']):>10}{mb(t['total'] * scale):>11}"
        )
    print(f"  {'database':<66}{mb(figures['database']):>10}{mb(figures['database'] * scale):>11}")
    for table, rows in figures["indexes"].items():
        for index in rows:
            print(f"  {table} {index['name']:<40}{mb(index['bytes']):>10}"
                  f"{mb(index['bytes'] * scale):>11}")  # fmt: skip
    for question, (ms, scans) in figures["plans"].items():
        print(f"  {question}: {ms:,.0f} ms ({'; '.join(scans)})")


def main(argv: list[str] | None = None) -> int:
    """Measure the template, print the figures, report the size per account."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432",
        help="any database on the server holding the template",
    )
    parser.add_argument("--template", default="munibill_county_20000")
    args = parser.parse_args(argv)
    url = sa.make_url(args.url).set(database=args.template).render_as_string(hide_password=False)
    figures = measure(url)
    scale = COUNTY / figures["accounts"]
    print_figures(figures, scale)
    heap = sum(t["heap"] for t in figures["tables"])
    journal = sum(t["total"] for t in figures["tables"] if t["name"] in JOURNAL)
    _results.report(
        "database size",
        figure=figures["database"] / figures["accounts"] / 1e3,
        unit="kB/account",
        baseline=heap / figures["accounts"] / 1e3,
        baseline_unit="kB/account of table data (no index)",
        target="none set (sizing for docs/deployment.md)",
        checks={},
        database="postgresql",
        notes={
            "accounts": f"{figures['accounts']:,}",
            "database": mb(figures["database"]),
            "at 1,000,000 accounts (linear)": mb(figures["database"] * scale),
            "journal (entries and lines, with indexes) at 1,000,000": mb(journal * scale),
            **{q: f"{ms:,.0f} ms" for q, (ms, _scans) in figures["plans"].items()},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
