"""Utility billing run speed and memory, against a bare Core executemany baseline.

Seeds N accounts (one water meter each on a three-tier plan, sewer billed on
the water meter) with two reads; every third account is on a quarterly billing cycle
(read again on December 31), the others on the default monthly cycle. Then:
- posts the monthly cycle's October and the quarterly cycle's October-December with
  `munibill billing run` in child processes (invoices/s, rows/s, peak RSS of those processes);
- writes the same invoice, line, journal entry and journal line rows with a
  bare SQLAlchemy Core executemany (rows/s) on a fresh copy of the data.
Prints both and the ratio. A benchmark, not a test.

    .venv/bin/python bench/billing_run.py [ACCOUNTS]
    .venv/bin/python bench/billing_run.py --county munibill_county_20000
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/munibill_bench .venv/bin/python bench/billing_run.py 100000

With `--county TEMPLATE` (bench/_county_target.py) it runs on a copy of a county seed instead:
the monthly cycle's first unbilled period is posted for every monthly account, each meter read
the day before it and on its last day; the baseline replays the rows that run wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
import yaml

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _county_target  # noqa: E402
import _results  # noqa: E402
from _seed import account_rows  # noqa: E402

from accounts.models import Account, MeterReading, ServicePoint
from billing.cycles import create_cycle, generate_periods  # noqa: E402
from billing.models import Invoice, InvoiceLine
from billing.rules import load_rate_plan  # noqa: E402
from core import create_app  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from ledger.models import JournalEntry, JournalLine

RULES = Path(__file__).resolve().parent.parent / "demo" / "rules"
CHUNK = 10_000
#: Every QUARTERLY_EVERY-th account is on the quarterly cycle.
QUARTERLY_EVERY = 3
QUARTERLY = "Q-BENCH"


def plain_app(url: str):
    """An app on the database as it is."""
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )


def fresh_app(url: str):
    """An app on an empty, migrated database with the water and sewer plans."""
    app = plain_app(url)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            db.engine.dispose()
            Path(sa.make_url(url).database).unlink(missing_ok=True)
        flask_migrate.upgrade()
        plans = {}
        for service in ("water", "sewer"):
            plan = load_rate_plan(
                db.session,
                Actor.system("bench"),
                yaml.safe_load((RULES / f"{service}.yaml").read_text()),
            )
            plans[service] = plan.id
        cycle = create_cycle(
            db.session,
            Actor.system("bench"),
            code=QUARTERLY,
            name="Quarterly",
            frequency="quarterly",
        )
        generate_periods(
            db.session,
            Actor.system("bench"),
            cycle,
            first_start=date(2026, 10, 1),
            until=date(2026, 12, 31),
        )
        plans["quarterly_cycle"] = cycle.id
        db.session.commit()
    return app, plans


def seed(app, plans: dict[str, int], accounts: int) -> None:
    """Accounts, meters and two reads each, written in chunks with Core."""
    now = utcnow()
    installed = date(2024, 1, 1)
    with app.app_context(), db.engine.begin() as connection:
        for start in range(0, accounts, CHUNK):
            ids = range(start + 1, min(start + CHUNK, accounts) + 1)
            rows = account_rows(ids, now)
            for row in rows:
                quarterly = row["id"] % QUARTERLY_EVERY == 0
                row["billing_cycle_id"] = plans["quarterly_cycle"] if quarterly else None
            connection.execute(sa.insert(Account.__table__), rows)
            points = []
            for i in ids:
                place = {
                    "account_id": i,
                    "service_street": f"{i} Main St",
                    "service_city": "Maple Falls",
                    "service_zip": "54901",
                    "dwelling_units": 1,
                    "installed_on": installed,
                    "created_at": now,
                }
                points.append(
                    {
                        "id": 2 * i - 1,
                        "service_kind": "water",
                        "meter_id": f"W{i}",
                        "meter_size": '5/8"',
                        "dial_digits": 7,
                        "meter_unit": "gallons",
                        "rate_plan_id": plans["water"],
                        "usage_from_id": None,
                        **place,
                    }
                )
                points.append(
                    {
                        "id": 2 * i,
                        "service_kind": "sewer",
                        "meter_id": None,
                        "meter_size": None,
                        "dial_digits": None,
                        "meter_unit": None,
                        "rate_plan_id": plans["sewer"],
                        "usage_from_id": 2 * i - 1,
                        **place,
                    }
                )
            connection.execute(sa.insert(ServicePoint.__table__), points)
            connection.execute(
                sa.insert(MeterReading.__table__),
                [
                    {
                        "service_point_id": 2 * i - 1,
                        "meter_installed_on": installed,
                        "read_on": day,
                        "reading": value,
                        "kind": "actual",
                        "recorded_by": "bench",
                    }
                    for i in ids
                    for day, value in (
                        (date(2026, 9, 30), 10_000 + i % 997),
                        (date(2026, 10, 31), 15_000 + i % 1997),
                        *(
                            [(date(2026, 12, 31), 24_000 + i % 2997)]
                            if i % QUARTERLY_EVERY == 0
                            else []
                        ),
                    )
                ],
            )


#: Runs the munibill CLI in this child and reports the child's own peak memory (VmHWM) at exit;
#: ru_maxrss of a child would also count the parent's size from before the exec.
CHILD = """
import sys
from core.cli import main
try:
    main()
finally:
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
    sys.stderr.write(f"VmHWM {peak}\\n")
"""


def run_billing(url: str, folder: str) -> tuple[float, int]:
    """Post the monthly and the quarterly run in child processes; (seconds, peak RSS in KiB)."""
    monthly = ["--cycle", "2026-10", "--issue-date", "2026-11-02", "--due-date", "2026-11-23"]
    quarterly = ["--billing-cycle", QUARTERLY, "--period-start", "2026-10-01"]
    quarterly += ["--issue-date", "2027-01-02", "--due-date", "2027-01-23"]
    seconds, peak = 0.0, 0
    for arguments in (monthly, quarterly):
        elapsed, used = _run_child(url, folder, arguments)
        seconds, peak = seconds + elapsed, max(peak, used)
    return seconds, peak


def _run_child(url: str, folder: str, arguments: list[str]) -> tuple[float, int]:
    """One `munibill billing run --kind utility ARGUMENTS` in a child; (seconds, peak RSS KiB)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "b" * 40,
        "MUNIBILL_INSTANCE_PATH": folder,
        "BILLING_BATCH_SIZE": "1000",
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "billing", "run", "--kind", "utility", *arguments],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    peak = next(
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VmHWM")
    )
    return elapsed, peak


TABLES = (Invoice.__table__, InvoiceLine.__table__, JournalEntry.__table__, JournalLine.__table__)


def marks(app) -> dict[str, int]:
    """The largest id of each table the run writes (0 when empty), taken before the run."""
    with app.app_context(), db.engine.connect() as connection:
        return {
            t.name: connection.scalar(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0)))
            for t in TABLES
        }


def written_rows(app, before: dict[str, int]) -> dict[str, list[dict]]:
    """The rows the run wrote (ids above `before`), to replay them in the baseline."""
    with app.app_context(), db.engine.connect() as connection:
        return {
            table.name: [
                dict(r._mapping)
                for r in connection.execute(sa.select(table).where(table.c.id > before[table.name]))
            ]
            for table in (
                Invoice.__table__,
                InvoiceLine.__table__,
                JournalEntry.__table__,
                JournalLine.__table__,
            )
        }


def baseline(app, rows: dict[str, list[dict]], before: dict[str, int]) -> float:
    """Seconds to write the same rows with Core executemany, after removing the run's rows."""
    with app.app_context(), db.engine.begin() as connection:
        for name in ("journal_line", "journal_entry", "invoice_line", "invoice"):
            connection.execute(sa.text(f"DELETE FROM {name} WHERE id > {before[name]:d}"))
    start = time.perf_counter()
    with app.app_context(), db.engine.begin() as connection:
        for table in (
            Invoice.__table__,
            InvoiceLine.__table__,
            JournalEntry.__table__,
            JournalLine.__table__,
        ):
            data = rows[table.name]
            for offset in range(0, len(data), CHUNK):
                connection.execute(sa.insert(table), data[offset : offset + CHUNK])
    return time.perf_counter() - start


def county_run(url: str, folder: str, template: str):
    """On a copy of the county: read the monthly meters, post the next monthly period.

    (app, ids before the run, seconds, peak RSS in KiB, the county's size before the run).
    """
    url = _county_target.county_url(template, url)
    app, county = plain_app(url), _county_target.size(url)
    start, end, issue, due = _county_target.next_monthly_period(url)
    points = _county_target.monthly_reads(url, start - timedelta(days=1), end)
    arguments = ["--cycle", f"{start:%Y-%m}", "--issue-date", issue.isoformat()]
    arguments += ["--due-date", due.isoformat()]
    _county_target.note(f"county {url}: {points:,} meters read; billing run {' '.join(arguments)}")
    before = marks(app)
    seconds, peak = _run_child(url, folder, arguments)
    return app, before, seconds, peak, county


def main() -> None:
    """Seed (or copy the county), run, replay and print the figures."""
    template, argv = _county_target.county_option(sys.argv[1:])
    accounts = int(argv[0]) if argv else 20_000
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        if template:
            app, before, seconds, peak_kib, county = county_run(url, folder, template)
            accounts = county["accounts"]
        else:
            app, plans = fresh_app(url)
            seed(app, plans, accounts)
            before, county = marks(app), None
            seconds, peak_kib = run_billing(url, folder)
        rows = written_rows(app, before)
        count = sum(len(v) for v in rows.values())
        base_seconds = baseline(app, rows, before)
        with app.app_context():
            dialect = db.engine.dialect.name
            db.engine.dispose()
    invoices = len(rows["invoice"])
    shape = (
        "the county's monthly cycle, next period"
        if county
        else f"every {QUARTERLY_EVERY}rd quarterly"
    )
    print(
        f"billing run on {dialect}: {accounts:,} accounts ({shape}), "
        f"{invoices:,} invoices, {count:,} rows"
    )
    print(
        f"  munibill billing run: {seconds:6.1f} s  {invoices / seconds:8,.0f} invoices/s  "
        f"{count / seconds:8,.0f} rows/s  peak RSS {peak_kib / 1024:,.0f} MB"
    )
    print(
        f"  baseline Core executemany: {base_seconds:6.1f} s  {count / base_seconds:8,.0f} rows/s"
    )
    print(
        f"  ratio (rows/s): {base_seconds / seconds:.1%}  (target >= 40%; 100,000 accounts in < 90 s; < 400 MB)"
    )
    if county:
        print(f"  {_county_target.size_text(county)}")
    at_scale = accounts >= 100_000 and not county
    #: The issue's target for the county: a 1,000,000-account county's monthly cycle in < 10 min.
    county_scale = bool(county) and accounts >= 1_000_000
    _results.report(
        _county_target.label("billing run", county) if county else "billing run",
        figure=count / seconds,
        unit="rows/s",
        baseline=count / base_seconds,
        target=">= 40% of the baseline's rows/s; < 400 MB; "
        + (
            "1,000,000 accounts' monthly cycle in < 10 min"
            if county
            else "100,000 accounts in < 90 s"
        ),
        checks={
            "ratio >= 40%": base_seconds / seconds >= 0.40,
            "peak < 400 MB": peak_kib < 400 * 1024,
            **(
                {"100,000 accounts in < 90 s": seconds * 100_000 / accounts < 90}
                if at_scale
                else {}
            ),
            **({"1,000,000 accounts in < 10 min": seconds < 600} if county_scale else {}),
        },
        database=dialect,
        notes={
            "size": f"{accounts:,} accounts, {invoices:,} invoices, {count:,} rows",
            "time": f"{seconds:.1f} s ({invoices / seconds:,.0f} invoices/s)",
            "peak RSS": f"{peak_kib / 1024:,.0f} MB",
            **(
                {}
                if at_scale or county
                else {"100,000 accounts in < 90 s": "not judged at this size"}
            ),
            **(
                {
                    "county": _county_target.size_text(county),
                    "1,000,000 accounts' monthly cycle": "projected linearly "
                    f"{seconds * 1_000_000 / accounts / 60:.1f} min at this rate "
                    + (
                        "" if county_scale else "(the 10 min are judged only on 1,000,000 accounts)"
                    ),
                }
                if county
                else {}
            ),
        },
    )


if __name__ == "__main__":
    main()
