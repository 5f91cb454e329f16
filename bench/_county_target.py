"""The county variants of the page and batch benchmarks (not a benchmark itself).

`--county TEMPLATE` makes bench/portal_bill.py, bench/webhooks.py, bench/reconcile.py and
bench/billing_run.py measure on a copy of a county seed template (bench/seed_county.py) instead
of their fresh small town: the copy is made with `clone()` under the name of the script's own
database, and the work each needs (sessions, pending payments, meter reads) is put on top of
the county's own accounts and history. docs/bench-county.md says more.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date

import sqlalchemy as sa

#: The option naming the template.
OPTION = "--county"


def county_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """(template named by --county TEMPLATE or None, the other arguments)."""
    if OPTION not in argv:
        return None, argv
    at = argv.index(OPTION)
    if at + 1 >= len(argv):
        raise SystemExit(f"{OPTION} needs a template database name")
    return argv[at + 1], argv[:at] + argv[at + 2 :]


def county_url(template: str, url: str) -> str:
    """A fresh copy of the template under the database name of `url`; its URL."""
    from seed_county import clone

    # NOTE: clone() takes the server from the URL and names the copy itself.
    return clone(template, sa.make_url(url).database, url)


def fresh(url: str) -> None:
    """Drop and re-create the database of `url` (empty)."""
    from seed_county import fresh_database

    fresh_database(url, sa.make_url(url).database)


def size(url: str) -> dict[str, int]:
    """The county's size: accounts, journal entries and journal lines in the database."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {
            name: connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for name, table in (
                ("accounts", "account"),
                ("journal entries", "journal_entry"),
                ("journal lines", "journal_line"),
                ("penalty charges", "invoice_charge"),
            )
        }
    engine.dispose()
    return found


def size_text(counts: dict[str, int]) -> str:
    """The size as a result note reads it."""
    return (
        f"county database: {counts['accounts']:,} accounts, "
        f"{counts['journal entries']:,} journal entries, {counts['journal lines']:,} journal lines"
    )


def label(name: str, counts: dict[str, int]) -> str:
    """A result's benchmark name on the county, e.g. 'webhooks (county 20,000)'."""
    return f"{name} (county {counts['accounts']:,})"


def prepared(template: str, url: str, sample: int) -> tuple[str, dict[str, int], list[int], float]:
    """A copy of the county and `sample` random accounts of it; (URL, size, ids, seconds taken)."""
    started = time.perf_counter()
    url = county_url(template, url)
    return url, size(url), random_accounts(url, sample), time.perf_counter() - started


def last_payment(url: str) -> int:
    """The largest payment id of the county (0 when there is none)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.scalar(sa.text("SELECT coalesce(max(id), 0) FROM payment"))
    engine.dispose()
    return found


def random_accounts(url: str, count: int, seed: int = 11) -> list[int]:
    """Ids of `count` random active accounts of the county."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ids = connection.scalars(
            sa.text("SELECT id FROM account WHERE status = 'active' ORDER BY id")
        ).all()
    engine.dispose()
    return random.Random(seed).sample(list(ids), min(count, len(ids)))


def owing_accounts(session, count: int, as_of: date) -> dict[int, tuple[int, list[int]]]:
    """Up to `count` accounts that owe money as of a date: id -> (owed cents, invoice ids owing).

    Taken from billing.position in random order of the accounts with an open invoice.
    """
    from billing.position import positions

    candidates = session.scalars(
        sa.text(
            "SELECT DISTINCT account_id FROM invoice WHERE status IN ('open', 'partially_paid')"
        )
    ).all()
    random.Random(7).shuffle(candidates := list(candidates))
    found: dict[int, tuple[int, list[int]]] = {}
    for start in range(0, len(candidates), 1_000):
        chunk = candidates[start : start + 1_000]
        for account_id, position in positions(session, chunk, as_of).items():
            owed = position.owed_cents()
            if owed > 0 and len(found) < count:
                owing = sorted(i for i, cents in position.by_invoice.items() if cents > 0)
                found[account_id] = (owed, owing)
        if len(found) >= count:
            break
    return found


def next_monthly_period(url: str) -> tuple[date, date, date, date]:
    """The default (monthly) cycle's first period not billed yet: (start, end, bill, due date)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT p.period_start, p.period_end, p.bill_date, p.due_date "
                "FROM cycle_period p JOIN billing_cycle c ON c.id = p.cycle_id "
                "WHERE c.is_default AND p.period_start > (SELECT max(i.period_end) "
                "FROM invoice i JOIN account a ON a.id = i.account_id WHERE i.kind = 'utility' "
                "AND (a.billing_cycle_id IS NULL OR a.billing_cycle_id = c.id)) "
                "ORDER BY p.period_start LIMIT 1"
            )
        ).one()
    engine.dispose()
    return tuple(found)


def monthly_reads(url: str, previous: date, current: date) -> int:
    """Two reads (the period's start and end) on each metered point of a monthly account.

    The county seed writes no meter readings; a real run needs them, as the meter readers'
    file would bring them. Returns the number of points read.
    """
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for day, base in ((previous, 10_000), (current, 15_000)):
            connection.execute(
                sa.text(
                    "INSERT INTO meter_reading (service_point_id, meter_installed_on, read_on, "
                    "reading, kind, recorded_by) "
                    "SELECT sp.id, sp.installed_on, :day, :base + sp.id % 997 * (:base / 10000), "
                    "'actual', 'bench' FROM service_point sp JOIN account a ON a.id = sp.account_id "
                    "WHERE sp.meter_id IS NOT NULL AND (a.billing_cycle_id IS NULL OR "
                    "a.billing_cycle_id IN (SELECT id FROM billing_cycle WHERE is_default)) "
                    "AND a.status = 'active'"
                ),
                {"day": day, "base": base},
            )
        points = connection.scalar(
            sa.text("SELECT count(DISTINCT service_point_id) FROM meter_reading")
        )
        connection.execute(sa.text("ANALYZE meter_reading"))
    engine.dispose()
    return points


def note(message: str) -> None:
    """A line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)
