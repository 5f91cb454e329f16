"""`ledger verify` on a county: the full walk's rate and memory, and an incremental verify of a day.

On a copy of the county seed (bench/seed_county.py; the template is built when missing):
- as the baseline, a plain SELECT of the same entries and lines, in chain order, streamed
  from a server-side cursor and nothing else done with them;
- the full verify (ledger.checkpoints.verify_full: every hash recomputed, every link and
  balance checked, a checkpoint signed into the chain): entries/s and peak memory (VmHWM);
- a day's postings (the seed's average entries per day) posted through ledger.posting, then
  the incremental verify from the checkpoint: its time and peak memory.
Each verify runs in a child process on a bare engine, so its peak memory is its own.
Prints the figures; reports the full verify's rate against the SELECT's and the incremental
verify's time against the full verify's. A benchmark, not a test.

    .venv/bin/python bench/ledger_verify.py [--accounts 20000] [--template NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import _results  # noqa: E402
import seed_county  # noqa: E402

from core.audit import Actor  # noqa: E402
from ledger.posting import EntrySpec, credit, debit, post_entries  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_NAME = "munibill_bench_ledger_verify"
ACTOR = Actor.job("bench")
BATCH = 1_000

#: One measurement in this child, on a bare engine; prints its time and memory (VmHWM).
CHILD = """
import json, sys, time
from datetime import date
import sqlalchemy as sa
from sqlalchemy.orm import Session
from core.audit import Actor
from ledger.checkpoints import verify_full, verify_incremental
def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
mode, url = sys.argv[1], sys.argv[2]
engine = sa.create_engine(url)
engine.connect().close()
rest = peak()
start = time.perf_counter()
if mode == "select":
    query = sa.text(
        "SELECT e.id, e.seq, e.prev_hash, e.hash, e.entry_date, e.posted_at, e.source_type, "
        "e.source_id, e.memo, e.actor_label, r.seq, g.code, a.number, l.debit_cents, "
        "l.credit_cents FROM journal_entry e LEFT JOIN journal_entry r ON r.id = e.reverses_id "
        "LEFT JOIN journal_line l ON l.entry_id = e.id "
        "LEFT JOIN gl_account g ON g.id = l.gl_account_id "
        "LEFT JOIN account a ON a.id = l.account_id ORDER BY e.seq, l.position"
    )
    entries, last = 0, None
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=2000).execute(query)
        for row in result:
            if row[1] != last:
                entries, last = entries + 1, row[1]
    ok, checkpoint = True, None
else:
    verify = verify_full if mode == "full" else verify_incremental
    with Session(engine) as session:
        checked = verify(session, Actor.job("bench"), date.today())
        session.commit()
        entries, ok = checked.report.checked, checked.ok
        checkpoint = checked.checkpoint.verified_seq if checked.checkpoint else None
        problem = checked.report.problem
        if not ok:
            print(problem, file=sys.stderr)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "entries": entries, "ok": ok, "checkpoint": checkpoint,
                  "rest_kib": rest, "peak_kib": peak()}))
"""


def child(mode: str, url: str) -> dict:
    """One measurement in a child process."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, url],
        env={**os.environ, "DATABASE_URL": url, "SECRET_KEY": "b" * 40},
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def a_day(url: str) -> tuple[int, list[tuple[int, str]]]:
    """The seed's average journal entries per day, and accounts (id, number) to post them on."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        entries, first, last = connection.execute(
            sa.text("SELECT count(*), min(entry_date), max(entry_date) FROM journal_entry")
        ).one()
        accounts = connection.execute(
            sa.text("SELECT id, number FROM account ORDER BY id LIMIT 5000")
        ).all()
    engine.dispose()
    days = max((last - first).days + 1, 1)
    return -(-entries // days), [tuple(row) for row in accounts]


def post_a_day(url: str, count: int, accounts: list[tuple[int, str]]) -> float:
    """Post `count` counter payments through ledger.posting (the real chain); seconds."""
    from sqlalchemy.orm import Session

    engine = sa.create_engine(url)
    numbers = dict(accounts)
    start = time.perf_counter()
    with Session(engine) as session:
        for offset in range(0, count, BATCH):
            specs = []
            for n in range(offset, min(offset + BATCH, count)):
                account_id = accounts[n % len(accounts)][0]
                cents = 1_000 + n % 20_000
                specs.append(
                    EntrySpec(
                        [debit("1010", cents), credit("1110", cents, account_id)],
                        date.today(),
                        "payment",
                        f"bench-{n}",
                        memo=f"Counter payment, account {numbers[account_id]}",
                    )
                )
            post_entries(session, specs, actor=ACTOR, account_numbers=numbers)
            session.commit()
    engine.dispose()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Clone the county, measure, print and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--template", help="default: munibill_county_<accounts>")
    args = parser.parse_args(argv)
    own = os.environ.get("BENCH_DATABASE_URL")
    server = (
        sa.make_url(own).set(database=None).render_as_string(hide_password=False).rstrip("/")
        if own
        else SERVER
    )
    name = sa.make_url(own).database if own else DEFAULT_NAME
    source = seed_county.ensure_template(server, args.accounts, args.template)
    url = seed_county.clone(source, name, server)
    child("select", url)  # the first read fills PostgreSQL's cache
    select = child("select", url)
    full = child("full", url)
    per_day, accounts = a_day(url)
    posting = post_a_day(url, per_day, accounts)
    incremental = child("incremental", url)
    assert full["ok"] and incremental["ok"], "the chain does not verify"
    full_rate = full["entries"] / full["seconds"]
    select_rate = select["entries"] / select["seconds"]
    flat = full["peak_kib"] - incremental["peak_kib"] < 20 * 1024
    growth = full["peak_kib"] - full["rest_kib"]
    print(f"ledger verify on a county of {args.accounts:,} accounts ({source}), PostgreSQL")
    print(
        f"  baseline SELECT of the same rows: {select['seconds']:7.2f} s  "
        f"{select_rate:10,.0f} entries/s  peak RSS {select['peak_kib'] / 1024:,.0f} MB"
    )
    print(
        f"  full verify:                      {full['seconds']:7.2f} s  "
        f"{full_rate:10,.0f} entries/s  peak RSS {full['peak_kib'] / 1024:,.0f} MB "
        f"(at rest {full['rest_kib'] / 1024:,.0f})  {full['entries']:,} entries"
    )
    print(
        f"  a day's postings: {per_day:,} entries posted through ledger.posting in {posting:.1f} s"
    )
    print(
        f"  incremental verify:               {incremental['seconds']:7.2f} s  "
        f"{incremental['entries']:,} entries  peak RSS {incremental['peak_kib'] / 1024:,.0f} MB"
    )
    print(
        f"  ratio to the SELECT: {full_rate / select_rate:.1%}; incremental "
        f"{full['seconds'] / incremental['seconds']:,.0f}x faster than full; memory flat: {flat}"
    )
    size = f"{args.accounts:,} accounts, {full['entries']:,} journal entries"
    _results.report(
        "ledger verify (full)",
        figure=full_rate,
        unit="entries/s",
        baseline=select_rate,
        target="memory flat: the full verify's peak within 20 MB of an incremental verify's, "
        "and < 50 MB above the process at rest",
        checks={"flat": flat, "growth < 50 MB": growth < 50 * 1024},
        database="postgresql",
        notes={
            "size": size,
            "peak RSS": f"{full['peak_kib'] / 1024:,.0f} MB (incremental "
            f"{incremental['peak_kib'] / 1024:,.0f} MB)",
            "baseline": "plain SELECT of the same entries and lines in chain order",
        },
    )
    _results.report(
        "ledger verify (incremental, one day)",
        figure=incremental["seconds"],
        unit="s",
        baseline=full["seconds"],
        ratio=full["seconds"] / incremental["seconds"],
        target="a day's postings in seconds (< 10 s)",
        checks={"< 10 s": incremental["seconds"] < 10},
        database="postgresql",
        notes={
            "size": size,
            "day": f"{per_day:,} entries (the seed's average per day), "
            f"{incremental['entries']:,} walked",
            "ratio": "full verify's seconds / incremental's",
        },
    )
    engine = seed_county.server_engine(server)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
