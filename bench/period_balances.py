"""The trial balance and the dashboard as of a date, from what posting and the nightly job keep,
against computing them from every row.

On a copy of the county seed (bench/seed_county.py; seeded first when the template is
missing), the trial balance as of several dates across the history is read the app's way
(ledger.balances.trial_balance, from gl_day_balance) and, as the baseline in the same run, the
way it was read before: one GROUP BY over every journal line up to the date. Both must give
the same figures on every date, and the period balances must equal the journal
(ledger.day_balances.differences). The dashboard's figures are kept for the same dates
(console.dashboard_snapshots.refresh, the nightly job's work) and read as the page reads them,
against the full computation from every invoice, charge and settlement.

    .venv/bin/python bench/period_balances.py [--accounts 20000] [--template NAME] [--copy NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import _results  # noqa: E402
import seed_county  # noqa: E402

#: The issue's target for the trial balance as of any date at 1,000,000 accounts.
TARGET_MS = 2000
#: The issue's target for the dashboard as of any date at 1,000,000 accounts.
DASHBOARD_MS = 1000
#: How many times each date is read each way (the median is kept).
REPEATS = 3


def from_lines(session, as_of: date) -> dict[str, tuple[int, int]]:
    """The baseline: every journal line up to as_of summed per GL code."""
    from ledger.models import GLAccount, JournalEntry, JournalLine

    rows = session.execute(
        sa.select(
            GLAccount.code,
            sa.func.sum(JournalLine.debit_cents),
            sa.func.sum(JournalLine.credit_cents),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalEntry.entry_date <= as_of)
        .group_by(GLAccount.code)
    )
    return {code: (int(dr), int(cr)) for code, dr, cr in rows}


def timed(function, *args, repeats: int = REPEATS) -> tuple[float, object]:
    """The median milliseconds of `repeats` calls, and the last answer."""
    times, answer = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        answer = function(*args)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), answer


def dashboard(session, dates: list[date]) -> dict:
    """The dashboard's figures as the page reads them when the job kept them, against the full
    computation from every document (the baseline, and what the job itself runs)."""
    from console import dashboard_snapshots

    kept_ms, full_ms, job_s, wrong = [], [], [], []
    for as_of in dates:
        start = time.perf_counter()
        dashboard_snapshots.refresh(session, as_of)
        session.commit()
        job_s.append(time.perf_counter() - start)
        read, (figures, _staleness) = timed(dashboard_snapshots.stored, session, as_of)
        # NOTE: tens of seconds each: timed once (the job above computed it once too).
        full, computed = timed(dashboard_snapshots.compute, session, as_of, repeats=1)
        kept_ms.append(read)
        full_ms.append(full)
        if figures != computed:
            wrong.append(as_of)
        print(f"  dashboard as of {as_of}: kept {read:8.1f} ms, from every document {full:8.1f} ms")
    return {"new": max(kept_ms), "old": max(full_ms), "job_s": max(job_s), "wrong": wrong}


def measure(url: str) -> dict:
    """Both ways on dates across the history; the figures and whether they agreed."""
    from core import create_app
    from core.extensions import db
    from ledger import day_balances
    from ledger.balances import trial_balance
    from ledger.models import JournalEntry, JournalLine

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )
    with app.app_context():
        session = db.session
        first, last = session.execute(
            sa.select(sa.func.min(JournalEntry.entry_date), sa.func.max(JournalEntry.entry_date))
        ).one()
        lines = session.scalar(sa.select(sa.func.count()).select_from(JournalLine))
        days = session.scalar(sa.text("SELECT count(*) FROM gl_day_balance"))
        span = (last - first).days
        dates = [first + timedelta(days=span * k // 5) for k in range(6)]
        new_ms, old_ms, wrong = [], [], []
        for as_of in dates:
            new, report = timed(trial_balance, session, as_of)
            old, oracle = timed(from_lines, session, as_of)
            new_ms.append(new)
            old_ms.append(old)
            if {r.code: (r.debit_cents, r.credit_cents) for r in report.rows} != oracle:
                wrong.append(as_of)
            print(f"  as of {as_of}: period balances {new:8.1f} ms, every line {old:8.1f} ms")
        start = time.perf_counter()
        differing = len(day_balances.differences(session))
        check_s = time.perf_counter() - start
        board = dashboard(session, dates)
    return {
        "new": max(new_ms),
        "old": max(old_ms),
        "dates": dates,
        "wrong": wrong,
        "differing": differing,
        "check_s": check_s,
        "dashboard": board,
        "lines": lines,
        "days": days,
    }


def main(argv: list[str] | None = None) -> int:
    """Clone the county, measure, print and report; non-zero when an answer was wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--template", help="default: munibill_county_<accounts>")
    parser.add_argument("--copy", help="default: the database of BENCH_DATABASE_URL")
    args = parser.parse_args(argv)
    bench_url = sa.make_url(
        os.environ.get("BENCH_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/munibill_bench_period_balances"
    )
    server = bench_url.set(database="postgres").render_as_string(hide_password=False)
    template = seed_county.ensure_template(server, args.accounts, args.template)
    url = seed_county.clone(template, args.copy or bench_url.database, server)
    found = measure(url)
    ratio = found["old"] / found["new"]
    print(
        f"trial balance as of {len(found['dates'])} dates on {args.accounts:,} accounts "
        f"({found['lines']:,} journal lines, {found['days']:,} GL account days): slowest "
        f"{found['new']:.1f} ms from the period balances, {found['old']:.1f} ms over every line "
        f"({ratio:.0f}x); full check of the period balances {found['check_s']:.1f} s, "
        f"{found['differing']} days differing"
    )
    right = not found["wrong"] and not found["differing"]
    _results.report(
        "trial balance as of a date",
        figure=found["new"],
        unit="ms",
        baseline=found["old"],
        ratio=ratio,
        target=f"< {TARGET_MS} ms at 1,000,000 accounts; equal to every line's sums",
        checks={f"< {TARGET_MS} ms": found["new"] < TARGET_MS, "equal to every line's sums": right},
        database="postgresql",
        notes={
            "size": f"{args.accounts:,} accounts, {found['lines']:,} journal lines, "
            f"{found['days']:,} GL account days",
            "dates": ", ".join(str(d) for d in found["dates"]),
            "figure": f"slowest of the dates, median of {REPEATS}; ratio = baseline / figure",
            "full check (ledger check-balances)": f"{found['check_s']:.1f} s",
        },
    )
    board = found["dashboard"]
    board_ratio = board["old"] / board["new"]
    print(
        f"dashboard as of {len(found['dates'])} dates: slowest {board['new']:.1f} ms from the kept "
        f"figures, {board['old']:.1f} ms from every document ({board_ratio:.0f}x); the job "
        f"keeping one day took up to {board['job_s']:.1f} s"
    )
    board_right = not board["wrong"]
    _results.report(
        "dashboard as of a date",
        figure=board["new"],
        unit="ms",
        baseline=board["old"],
        ratio=board_ratio,
        target=f"< {DASHBOARD_MS} ms at 1,000,000 accounts; equal to the full computation",
        checks={
            f"< {DASHBOARD_MS} ms": board["new"] < DASHBOARD_MS,
            "equal to the full computation": board_right,
        },
        database="postgresql",
        notes={
            "size": f"{args.accounts:,} accounts, {found['lines']:,} journal lines",
            "figure": "the page's read of the figures the job kept (collections, aging, "
            f"delinquency, 24 months), slowest of the dates, median of {REPEATS}; "
            "ratio = baseline / figure",
            "baseline": "the same figures from every invoice, charge and settlement "
            "(console/reports.py), as the page computed them before; slowest of the dates, "
            "timed once each",
            "the job, per day kept": f"up to {board['job_s']:.1f} s",
            "not measured": "the payment plans' figure, still read live (current plans only)",
        },
    )
    return 0 if right and board_right else 1


if __name__ == "__main__":
    sys.exit(main())
