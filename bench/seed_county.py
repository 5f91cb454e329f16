"""A county to measure on: a template database of N accounts and 24 months of history.

Builds, on PostgreSQL, a database migrated by the app's own migrations and filled with COPY:
accounts on the monthly and the quarterly cycle (water, sewer and trash), tax parcels billed
in two installments a year, and 24 months of bills, card, bank-debit and counter payments
with their receipts and settlements, refunds of overpayments, penalties on late bills, a few
open card disputes and accounts that stopped paying; the journal entries of each, hashed in
chain order with ledger.chain.entry_hash. Deterministic for a seed. Benchmarks copy it with
`clone(template, name)` (CREATE DATABASE ... TEMPLATE ...). docs/bench-county.md says more.

    .venv/bin/python bench/seed_county.py --url postgresql://postgres@127.0.0.1:5432 \
        --accounts 20000 [--parcels 8000] [--months 24] [--template NAME] [--seed 1]

Run with no arguments (as bench/run_all.py does) it seeds 20,000 accounts on the server of
BENCH_DATABASE_URL and reports the rate and the projected time of 1,000,000 accounts.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import _results  # noqa: E402
from _county_copy import Sink, deferred_constraints  # noqa: E402
from _county_history import LATE, PARTIAL, Account, History  # noqa: E402
from _county_ledger import Chain, fill_period_balances, moment  # noqa: E402
from _county_tables import COLUMNS, TABLES  # noqa: E402

from core.checkdigit import with_luhn  # noqa: E402

RULES = Path(__file__).resolve().parent.parent / "demo" / "rules"
ACTOR = ("job", "county-seed", "job:county-seed")
#: (code, name, kind, thousandths of a mill) of the taxing bodies.
JURISDICTIONS = (
    ("maple-falls", "City of Maple Falls", "city", 7_500),
    ("winnebago", "Winnebago County", "county", 5_200),
    ("mf-schools", "Maple Falls School District", "school", 9_800),
)
#: The rate a 1,000,000-account build needs to finish in 45 minutes, in accounts per second.
TARGET_RATE = 1_000_000 / (45 * 60)


def server_engine(url: str) -> sa.Engine:
    """An autocommit engine on the server's maintenance database."""
    return sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def clone(template: str, name: str, url: str = "postgresql://postgres@127.0.0.1:5432") -> str:
    """A fresh copy of a seeded template database (dropped first if it exists); its URL."""
    engine = server_engine(url)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def ensure_template(url: str, accounts: int, name: str | None = None) -> str:
    """The county template's name (munibill_county_<accounts> unless named), seeded first
    with the defaults when the server does not have it: `make bench` seeds it once and the
    benchmarks on a county copy it."""
    name = name or f"munibill_county_{accounts}"
    engine = server_engine(url)
    with engine.connect() as connection:
        found = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
    engine.dispose()
    if not found:
        print(f"seeding the template {name} ({accounts:,} accounts) first", flush=True)
        main(["--url", url, "--accounts", str(accounts), "--template", name])
    return name


def fresh_database(url: str, name: str) -> str:
    """An empty database of that name (dropped first); its URL."""
    engine = server_engine(url)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def months_of(last: date, count: int) -> list[date]:
    """The first days of `count` months ending with the month of `last`."""
    firsts, day = [], last.replace(day=1)
    for _ in range(count):
        firsts.append(day)
        day = (day - timedelta(days=1)).replace(day=1)
    return firsts[::-1]


def setup(url: str, first: date, last: date) -> dict:
    """Migrate, and set up what the app's own functions set up: the quarterly cycle and both
    calendars, the rate plans and penalty rules, the taxing bodies. Returns the ids needed."""
    import flask_migrate

    from billing.cycles import create_cycle, default_cycle, generate_periods
    from billing.rules import load_penalty_rules, load_rate_plan
    from core import create_app
    from core.audit import Actor
    from core.extensions import db
    from ledger.chart import add_jurisdiction
    from ledger.models import GLAccount

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )
    actor = Actor.system("county seed")
    with app.app_context():
        flask_migrate.upgrade()
        session = db.session
        plans = {
            service: load_rate_plan(
                session, actor, yaml.safe_load((RULES / f"{service}.yaml").read_text())
            ).id
            for service in ("water", "sewer", "trash")
        }
        load_penalty_rules(session, actor, yaml.safe_load((RULES / "penalties.yaml").read_text()))
        quarterly = create_cycle(
            session, actor, code="QUARTERLY", name="Quarterly", frequency="quarterly"
        )
        monthly = default_cycle(session)
        start = (first - timedelta(days=1)).replace(day=1)
        until = date(last.year + 1, 3, 31)
        periods = {}
        for cycle, begin in ((monthly, start), (quarterly, date(start.year, 1, 1))):
            rows = generate_periods(session, actor, cycle, first_start=begin, until=until)
            periods[cycle.id] = {
                (p.bill_date.year, p.bill_date.month): (
                    p.period_start,
                    p.period_end,
                    p.bill_date,
                    p.due_date,
                )
                for p in rows
            }
        jurisdictions = []
        for code, name, kind, mills in JURISDICTIONS:
            body = add_jurisdiction(session, actor, code=code, name=name, kind=kind)
            gl_code = session.get(GLAccount, body.liability_gl_id).code
            jurisdictions.append((code, name, gl_code, mills))
        from accounts.services import hash_access_code

        found = {
            "plans": plans,
            "quarterly": quarterly.id,
            "monthly_periods": periods[monthly.id],
            "quarterly_periods": periods[quarterly.id],
            "jurisdictions": jurisdictions,
            "gl_ids": dict(session.execute(sa.select(GLAccount.code, GLAccount.id)).all()),
            "access_code_hash": hash_access_code("COUNTY-SEED-CODE"),
        }
        session.commit()
        db.engine.dispose()
    return found


def write_accounts(history: History, found: dict, accounts: int, parcels: int, created) -> None:
    """Accounts (a third on the quarterly cycle), their water, sewer and trash points, and the
    parcels (owned by accounts spread over the town)."""
    sink, rng, plans = history.sink, history.rng, found["plans"]
    months = len(found["months"])
    for i in range(1, accounts + 1):
        quarterly = rng.random() < 0.35
        account = Account(i, rng, months, quarterly)
        street = f"{i} {rng.choice(('Main St', 'Oak Ave', 'Elm St', 'River Rd', 'Lake Dr'))}"
        sink.add(
            "account",
            (
                i,
                history.chain.numbers[i],
                f"Resident {i}",
                street,
                "Maple Falls",
                "WI",
                "54901",
                "es" if rng.random() < 0.1 else "en",
                False,
                found["access_code_hash"],
                1,
                "active",
                "[]",
                found["quarterly"] if quarterly else None,
                created,
            ),
        )
        water, sewer, trash = 3 * i - 2, 3 * i - 1, 3 * i
        place = (i, street, "Maple Falls", "54901")
        sink.add(
            "service_point",
            (
                water,
                *place[:1],
                "water",
                *place[1:],
                f"W{i:08d}",
                '5/8"',
                7,
                "gallons",
                1,
                plans["water"],
                None,
                date(2020, 1, 1),
                created,
            ),
        )
        sink.add(
            "service_point",
            (
                sewer,
                *place[:1],
                "sewer",
                *place[1:],
                None,
                None,
                None,
                None,
                1,
                plans["sewer"],
                water,
                date(2020, 1, 1),
                created,
            ),
        )
        sink.add(
            "service_point",
            (
                trash,
                *place[:1],
                "trash",
                *place[1:],
                None,
                None,
                None,
                None,
                1,
                plans["trash"],
                None,
                date(2020, 1, 1),
                created,
            ),
        )
        account.points = (water, sewer, trash)
        history.accounts.append(account)
    for p in range(1, parcels + 1):
        owner = history.accounts[(p - 1) * accounts // parcels]
        assessed = rng.randint(60_000, 450_000) * 100
        owner.parcels.append((p, assessed))
        sink.add(
            "parcel",
            (
                p,
                f"{p // 10_000:03d}-{p % 10_000:04d}-00",
                f"{p} County Rd {p % 90 + 1}",
                "Maple Falls",
                "54901",
                "residential",
                owner.id,
                "[]",
                created,
            ),
        )
    history.ids.update(service_point=3 * accounts, parcel=parcels)


def simulate(history: History, found: dict) -> None:
    """The months, one after another: bills, tax bills, payments, penalties, late payments."""
    rng, months = history.rng, found["months"]
    for index, first in enumerate(months):
        key = (first.year, first.month)
        by_cycle = (found["monthly_periods"].get(key), found["quarterly_periods"].get(key))
        for account in history.accounts:
            period = by_cycle[1] if account.quarterly else by_cycle[0]
            if period:
                history.utility_bill(account, period[:2], period[2], period[3])
        if first.month == 1:
            for account in history.accounts:
                for parcel_id, assessed in account.parcels:
                    history.tax_bill(account, parcel_id, assessed, first.year)
        due = first.replace(day=22)
        recent = index >= len(months) - 2
        for account in history.accounts:
            if account.habit == LATE or index >= account.stops_at:
                continue
            owed = history.due_by(account, due)
            if owed <= 0:
                continue
            day = first.replace(day=rng.randint(3, 22))
            cents = (
                max(min(100, owed), owed * rng.randint(40, 80) // 100)
                if (account.habit == PARTIAL)
                else owed
            )
            card = account.tender[1] == "card"
            extra = rng.randint(5, 50) * 100 if card and rng.random() < 0.01 else 0
            payment_id, credit = history.pay(account, cents, day, extra=extra)
            if credit:
                history.refund(account, payment_id, credit, day + timedelta(days=2))
            elif card and recent and rng.random() < 0.002:
                history.dispute(payment_id, cents, day + timedelta(days=7))
        for account in history.accounts:
            history.penalize(account, due)
        for account in history.accounts:
            if account.habit != LATE or index >= account.stops_at:
                continue
            owed = history.due_by(account, due)
            if owed > 0:
                history.pay(account, owed, first.replace(day=rng.randint(24, 28)))


def finish(history: History, connection, accounts: int) -> None:
    """Invoices still owing, the cash drawers, the document series and the ledger's head."""
    for account in history.accounts:
        for invoice in account.open:
            history.write_invoice(invoice)
    last = max(history.drawers, default=None)
    for number, (year, month) in enumerate(history.drawers, start=1):
        opened = moment(date(year, month, 1), -3600)
        closed = (year, month) != last
        history.sink.add(
            "cash_drawer",
            (
                number,
                "clerk@county.example",
                opened,
                0,
                "clerk@county.example" if closed else None,
                moment(date(year, month, 28), 3600) if closed else None,
                history.drawers[(year, month)] if closed else None,
                False,
            ),
        )
    history.sink.close()
    with connection.cursor() as cursor:
        series = [("account", 0, accounts), *((s, y, n) for (s, y), n in history.numbers.items())]
        for name, year, last_number in series:
            cursor.execute(
                "INSERT INTO number_series (series, year, last_number) VALUES (%s, %s, %s) "
                "ON CONFLICT (series, year) DO UPDATE SET last_number = EXCLUDED.last_number",
                (name, year, last_number),
            )
        cursor.execute(
            "UPDATE ledger_head SET length = %s, head_hash = %s WHERE id = 1",
            (history.chain.seq, history.chain.head),
        )
    connection.commit()


def reset_sequences(connection) -> None:
    """Every id sequence of the filled tables continues after the largest id."""
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'GREATEST((SELECT max(id) FROM "{table}"), 1))'
            )
    connection.commit()


def seed(
    url: str,
    accounts: int,
    parcels: int,
    months: int,
    seed_value: int = 1,
    last: date | None = None,
) -> dict:
    """Fill the (empty) database at url; returns the figures (seconds, rows, bytes)."""
    import psycopg

    started = time.perf_counter()
    today = date.today()
    last = last or today.replace(day=1) - timedelta(days=1)
    firsts = months_of(last, months)
    found = setup(url, firsts[0], last)
    found["months"] = firsts
    set_up = time.perf_counter()
    numbers = [""] + [with_luhn(str(1_000_000 + i)) for i in range(1, accounts + 1)]
    plain = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        with deferred_constraints(connection, TABLES) as timing:
            sink = Sink(plain, COLUMNS)
            chain = Chain(sink, found["gl_ids"], numbers, ACTOR)
            history = History(sink, chain, random.Random(seed_value), found)
            created = moment(firsts[0] - timedelta(days=60))
            write_accounts(history, found, accounts, parcels, created)
            simulate(history, found)
            finish(history, connection, accounts)
            loaded = time.perf_counter()
        reset_sequences(connection)
        balances = time.perf_counter()
        period_days = fill_period_balances(connection)
        balanced = time.perf_counter()
        connection.autocommit = True
        vacuum = time.perf_counter()
        connection.execute("VACUUM ANALYZE")
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counts = dict(sink.counts)
    ended = time.perf_counter()
    return {
        "seconds": ended - started,
        "setup": set_up - started,
        "load": loaded - set_up,
        "constraints": timing.get("constraints", 0.0),
        "vacuum": ended - vacuum,
        "period balances": balanced - balances,
        "period days": period_days,
        "rows": counts,
        "bytes": size,
        "entries": history.chain.seq,
        "last": last,
    }


def print_figures(name: str, accounts: int, figures: dict) -> None:
    """The time, the rows per table and the size."""
    print(f"seeded {name}: {accounts:,} accounts, history through {figures['last']}")
    for table in TABLES:
        print(f"  {table:<20} {figures['rows'].get(table, 0):>14,} rows")
    total = sum(figures["rows"].values())
    print(f"  {'all tables':<20} {total:>14,} rows")
    print(
        f"  time {figures['seconds']:.1f} s (setup {figures['setup']:.1f}, COPY "
        f"{figures['load']:.1f}, indexes and keys {figures['constraints']:.1f}, "
        f"period balances {figures['period balances']:.1f}, "
        f"VACUUM ANALYZE {figures['vacuum']:.1f}); size {figures['bytes'] / 1e9:.2f} GB"
    )
    projected = figures["seconds"] * 1_000_000 / accounts
    print(f"  1,000,000 accounts at this rate: about {projected / 60:.0f} min (target < 45)")


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, build the template, print (and report) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432",
    )
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--parcels", type=int, help="default: 40%% of the accounts")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--template", help="default: munibill_county_<accounts>")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--through",
        type=date.fromisoformat,
        help="the last day of the history (default: the end of last month)",
    )
    args = parser.parse_args(argv)
    parcels = args.parcels if args.parcels is not None else args.accounts * 2 // 5
    name = args.template or f"munibill_county_{args.accounts}"
    url = fresh_database(args.url, name)
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("MUNIBILL_INSTANCE_PATH", folder)
        figures = seed(url, args.accounts, parcels, args.months, args.seed, args.through)
    print_figures(name, args.accounts, figures)
    rate = args.accounts / figures["seconds"]
    _results.report(
        "county seed",
        figure=rate,
        unit="accounts/s",
        baseline=TARGET_RATE,
        target="1,000,000 accounts in < 45 min (projected linearly)",
        checks={"projected 1M < 45 min": rate >= TARGET_RATE},
        database="postgresql",
        notes={
            "accounts": f"{args.accounts:,}",
            "rows": f"{sum(figures['rows'].values()):,}",
            "journal entries": f"{figures['entries']:,}",
            "size": f"{figures['bytes'] / 1e9:.2f} GB",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
