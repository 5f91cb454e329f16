"""Lockbox import rate: a BAI file of 20,000 checks with their stubs, against COPY of its rows.

PostgreSQL. 20,000 accounts (by default) billed by a real billing run, one
utility bill each; a BAI lockbox file with one check per bill for the amount
its stub's scan line says (scan lines made by the same function the notices
print them with), in batches of 100, with a few items of each exception reason
among them. The figure is items/s over `payments.lockbox.import_file` and the
commit: the whole file checked (trailer, counts, batch totals, SHA-256), every
item decided, every good item a payment settled against its bill (allocation,
settlement rows, a hash-chained journal entry, a receipt, an audit row), the
rest queued, the held money posted.

The baseline, in the same run: every row the import wrote, read back as
stored (the file's row, its items, the payments, settlements, receipts, audit
events, journal entries and lines), written with COPY into the import's own
tables (their indexes, checks and foreign keys: what storing those rows costs in
this schema, at the fastest path PostgreSQL has; each of three rounds deletes
them first, untimed, and rolls back), the best of three. The paid-down invoices'
new state is left out of the baseline (an update, not a row COPY can write),
which only makes the baseline faster. As bench/billing_run.py compares the run
with a bare executemany into the same tables, the ratio compares the import with
nothing but storing its own result in the same schema. The run also prints COPY
of the same rows, invoices included, into plain tables of the same columns (no
index, no constraint), and the import's ratio to that. After the import the run
checks the result (every good bill paid once, the queue holds exactly the bad
items, 1040 holds the file's total, the ledger's chain verifies): a wrong
result fails the run. A benchmark, not a test.

    .venv/bin/python bench/lockbox.py [ITEMS]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _results  # noqa: E402
import billing_run  # noqa: E402
from _copy import copy_into_own_tables, copy_into_plain_tables  # noqa: E402

from accounts.models import Account  # noqa: E402
from accounts.services import FormerNumbers  # noqa: E402
from billing.models import Invoice, InvoiceKind, InvoiceStatus  # noqa: E402
from billing.runs import RunOptions, open_run, post_run  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.checkdigit import with_luhn  # noqa: E402
from core.extensions import db  # noqa: E402
from ledger import chart  # noqa: E402
from ledger.balances import gl_balance  # noqa: E402
from ledger.verify import verify_chain  # noqa: E402
from payments.lockbox import import_file  # noqa: E402
from payments.lockbox_layouts import load_layout  # noqa: E402
from payments.models import RemittanceItem, RemittanceStatus  # noqa: E402
from payments.scanline import scan_line  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/munibill_bench_lockbox"
ACTOR = Actor.job("bench")
DEPOSIT = date(2026, 11, 12)
TODAY = date(2026, 11, 13)
PER_BATCH = 100
SERVICE_EVERY = 5_000
#: One item in BAD_EVERY goes to the queue (cycling through the reasons below).
BAD_EVERY = 500
TARGET_RATIO = 0.30
TARGET_TEXT = (
    f">= {TARGET_RATIO:.0%} of COPY's items/s (every row the import wrote, into its own tables)"
)


def billed(app, plans: dict[str, int], bills: int) -> list[tuple[str, int, date]]:
    """Seed accounts and bill October; (account number, amount owed, due date) per bill."""
    # NOTE: billing_run.seed puts every third account on a quarterly cycle, not billed here.
    billing_run.seed(app, plans, bills * billing_run.QUARTERLY_EVERY // 2 + 2)
    with app.app_context():
        run = open_run(
            db.session,
            ACTOR,
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, ACTOR, RunOptions())
        db.session.commit()
        rows = db.session.execute(
            sa.select(Account.number, Invoice.balance_cents, Invoice.due_date)
            .join(Invoice, Invoice.account_id == Account.id)
            .order_by(Account.id)
            .limit(bills)
        ).all()
    return [tuple(r) for r in rows]


def bai_file(bills: list[tuple[str, int, date]]) -> tuple[bytes, list[tuple]]:
    """The BAI file and its items (sequence, batch, item, cents, check, scan line, bad reason)."""
    day = f"{DEPOSIT:%y%m%d}"
    lines = [f"101{'MUNIBILL':>10}{'BANKORIGIN':>10}{day}0630", f"2{'MUNIBILL':>10}{'BANK':>10}"]
    items, bad_kinds = [], ["amount_differs", "unknown_account", "bad_check_digit", "unreadable"]
    for first in range(0, len(bills), PER_BATCH):
        batch = f"{first // PER_BATCH + 1:03d}"[-3:]
        lines.append(f"5{batch}0000012345{day}")
        chunk, cents_in_batch = bills[first : first + PER_BATCH], 0
        for n, (number, cents, due) in enumerate(chunk, start=1):
            sequence = first + n
            line, bad = scan_line(number, cents, due), None
            if sequence % BAD_EVERY == 0:
                bad = bad_kinds[(sequence // BAD_EVERY) % len(bad_kinds)]
                if bad == "amount_differs":
                    cents += 100
                elif bad == "unknown_account":
                    line = scan_line(with_luhn("9999999"), cents, due)
                elif bad == "bad_check_digit":
                    line = line[:-1] + str((int(line[-1]) + 1) % 10)
                else:
                    line = "?" * 27
            check = f"{100000 + sequence}"
            lines.append(
                f"6{batch}{n:03d}{cents:010d}{'071000013':9}{'4417001234':10}{check:>10}{line:27}"
            )
            cents_in_batch += cents
            items.append((sequence, batch, f"{n:03d}", cents, check, line, bad))
        lines.append(f"7{batch}9990012345{day}{len(chunk):03d}{cents_in_batch:010d}")
        done = first + len(chunk)
        if done % SERVICE_EVERY == 0 or done == len(bills):
            # NOTE: a BAI service total counts at most 9,999 items: one per 5,000 here.
            group = items[(done - 1) // SERVICE_EVERY * SERVICE_EVERY :]
            cents = sum(i[3] for i in group)
            lines.append(f"80000000012345{day}{len(group):04d}{cents:010d}")
    lines.append(f"9{len(lines) + 1:06d}")
    return ("\n".join(line.ljust(80) for line in lines) + "\n").encode("ascii"), items


#: The tables an import inserts rows into, each read back by id above its mark before the import.
WRITTEN = (
    "remittance_file",
    "remittance_item",
    "payment",
    "settlement",
    "receipt",
    "audit_event",
    "journal_entry",
    "journal_line",
)


def marks(app) -> dict[str, int]:
    """The highest id of each written table before the import."""
    with app.app_context(), db.engine.connect() as connection:
        return {
            name: connection.scalar(sa.text(f"SELECT coalesce(max(id), 0) FROM {name}"))
            for name in WRITTEN
        }


def written_rows(app, before: dict[str, int]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row the import wrote, as stored: the new rows and the invoices it paid down."""
    queries = {name: f"SELECT * FROM {name} WHERE id > {before[name]}" for name in WRITTEN}
    queries["invoice"] = (
        "SELECT * FROM invoice WHERE id IN "
        f"(SELECT invoice_id FROM settlement WHERE id > {before['settlement']})"
    )
    rows = {}
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cursor:
                for name, query in queries.items():
                    cursor.execute(query)
                    columns = [c.name for c in cursor.description]
                    rows[name] = (columns, cursor.fetchall())
        finally:
            raw.close()
    return rows


#: The import's new rows in an order their foreign keys accept.
OWN_ORDER = (
    "remittance_file",
    "payment",
    "remittance_item",
    "receipt",
    "settlement",
    "audit_event",
    "journal_entry",
    "journal_line",
)


def check_result(app, items: list[tuple], total: int) -> list[str]:
    """What is wrong with the books after the import (nothing, when it went right)."""
    problems = []
    bad = {i[0]: i[6] for i in items if i[6]}
    with app.app_context():
        queued = dict(
            db.session.execute(
                sa.select(RemittanceItem.sequence, RemittanceItem.reason).where(
                    RemittanceItem.status == RemittanceStatus.EXCEPTION
                )
            ).all()
        )
        if queued != bad:
            problems.append(f"queue holds {len(queued)} items, expected {len(bad)}")
        paid = db.session.scalar(
            sa.select(sa.func.count()).where(Invoice.status == InvoiceStatus.PAID)
        )
        if paid != len(items) - len(bad):
            problems.append(f"{paid} bills paid, expected {len(items) - len(bad)}")
        if gl_balance(db.session, chart.LOCKBOX_CLEARING) != total:
            problems.append("1040 does not hold the file's total")
        if verify_chain(db.session).problem:
            problems.append("the ledger's chain does not verify")
    return problems


def main() -> int:
    """Seed, bill, build the file, import it, measure COPY, report."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    app, plans = billing_run.fresh_app(url)
    print(f"seeding and billing {count:,} accounts ...", flush=True)
    bills = billed(app, plans, count)
    data, items = bai_file(bills)
    total = sum(i[3] for i in items)
    print(f"file: {len(items):,} items, {len(data):,} bytes", flush=True)
    before = marks(app)
    with app.app_context():
        start = time.perf_counter()
        report = import_file(
            db.session,
            ACTOR,
            data,
            layout=load_layout("bai-lockbox"),
            filename="bench.txt",
            today=TODAY,
            accepted=FormerNumbers(today=TODAY, days=365),
        )
        db.session.commit()
        seconds = time.perf_counter() - start
    rate = len(items) / seconds
    rows = written_rows(app, before)
    plain_seconds = copy_into_plain_tables(app, rows)
    base_seconds = copy_into_own_tables(app, rows, OWN_ORDER)
    base_rate = len(items) / base_seconds
    ratio = rate / base_rate
    plain_ratio = rate * plain_seconds / len(items)
    problems = check_result(app, items, total)
    print(
        f"import: {seconds:.2f} s, {rate:,.0f} items/s ({report.settled:,} settled, "
        f"{len(report.exceptions)} queued)"
    )
    print(
        f"COPY:   {base_seconds:.3f} s, {base_rate:,.0f} items/s (the same new rows into the "
        f"import's own tables, with their indexes, checks and foreign keys)"
    )
    print(
        f"COPY into plain tables (no index, no constraint; invoices included): "
        f"{plain_seconds:.3f} s, {len(items) / plain_seconds:,.0f} items/s "
        f"({sum(len(r[1]) for r in rows.values()):,} rows in {len(rows)} tables), "
        f"the import at {plain_ratio:.1%} of it"
    )
    print(f"ratio:  {ratio:.1%} (target {TARGET_TEXT})")
    print("result: " + ("as expected" if not problems else "; ".join(problems)))
    _results.report(
        "lockbox import",
        figure=rate,
        unit="items/s",
        baseline=base_rate,
        target=TARGET_TEXT,
        checks={
            f"ratio >= {TARGET_RATIO:.0%}": ratio >= TARGET_RATIO,
            "right result": not problems,
        },
        database="postgresql",
        notes={
            "size": f"{len(items):,} items in {len(items) // PER_BATCH} batches, {len(data):,} bytes",
            "time": f"{seconds:.1f} s import; {base_seconds:.3f} s COPY into its own tables; "
            f"{plain_seconds:.3f} s COPY into plain tables ({plain_ratio:.1%})",
            "outcome": f"{report.settled:,} settled, {len(report.exceptions)} queued",
            "result": "as expected" if not problems else "; ".join(problems),
        },
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
