"""Bank statement import rate: a BAI2 statement of 50,000 lines imported and matched, against
COPY of the same rows.

PostgreSQL. The books hold 45,000 deposits in transit (made over the five days before the
statement) and 4,000 Stripe payouts arriving on the statement's day, written straight into an
empty database (the deposits' entries posted to 1050 by the ledger's bulk posting). The BAI2
file of one account and one day has a credit for every deposit (most naming the deposit's
number, the rest matched by amount within the deposits' window) and every payout (by amount
and arrival date), 500 service charges the fee rule posts, and 500 lines nothing matches.
The figure is lines/s over `payments.bank_statements.import_statement` and the commit: the
file checked (trailers, control totals, balances, SHA-256), every line matched, every deposit
confirmed at the bank (Dr 1000 / Cr 1050, hash-chained), every fee posted, the statement and
its lines written, the rest queued.

The baseline, in the same run: every new row the import wrote (the statement, its lines, the
journal entries and their lines, the queued items, the audit rows), read back and written with
COPY into the import's own tables (their indexes, checks and foreign keys: what storing those
rows costs in this schema at PostgreSQL's fastest path; each of three rounds deletes them
first, untimed, and rolls back), the best of three. The deposits it confirmed are updates, not
rows COPY can write, and are left out, which only makes the baseline faster. As
bench/billing_run.py compares the run with an executemany into the same tables, the ratio
compares the import with nothing but storing its result in the same schema. The run also
prints COPY of the same rows, deposits included, into plain tables of the same columns (no
index, no foreign key) and the import's ratio to that. After the import the run checks the books (1050 emptied, 5400 holds the fees,
the queue holds the unmatched lines, the reconciliation's difference is zero, the chain
verifies): a wrong result fails the run. A benchmark, not a test.

    .venv/bin/python bench/bank_statement.py [LINES]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, timedelta

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _results  # noqa: E402
import billing_run  # noqa: E402
from _copy import copy_into_own_tables, copy_into_plain_tables  # noqa: E402

from core.audit import Actor  # noqa: E402
from core.db import bulk_insert, utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from ledger import chart  # noqa: E402
from ledger.balances import gl_balance  # noqa: E402
from ledger.models import JournalEntry  # noqa: E402
from ledger.posting import EntrySpec, Posting, post_entries  # noqa: E402
from ledger.verify import verify_chain  # noqa: E402
from payments.bank_reconciliation import reconcile  # noqa: E402
from payments.bank_statements import import_statement  # noqa: E402
from payments.models import BankDeposit, ReconciliationItem  # noqa: E402
from payments.statement_matching import FeeRule  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/munibill_bench_bank_statement"
ACTOR = Actor.job("bench")
DAY = date(2026, 11, 13)
FEES, STRAYS = 500, 500
PAYOUTS_PER_50K = 4_000
#: One deposit credit in BY_AMOUNT_EVERY carries no reference: matched by amount and date.
BY_AMOUNT_EVERY = 9
RULE = FeeRule()
TARGET_RATIO = 0.30
TARGET_TEXT = (
    f">= {TARGET_RATIO:.0%} of COPY's lines/s (every row the import writes, into its own tables)"
)
COPIED = ["bank_statement", "bank_statement_line", "bank_deposit", "journal_entry",
          "journal_line", "reconciliation_item", "audit_event"]  # fmt: skip


def plan(count: int) -> tuple[list, list, list]:
    """The deposits (number, cents, made on), payouts (id, cents) and statement lines."""
    payouts_n = count * PAYOUTS_PER_50K // 50_000
    deposits_n = count - payouts_n - FEES - STRAYS
    deposits = [
        (f"BD-2026-{n:06d}", 10_000 + 7 * n, DAY - timedelta(days=n % 5))
        for n in range(1, deposits_n + 1)
    ]
    payouts = [(f"po_bench{n:08d}", 20_000_000 + 11 * n) for n in range(1, payouts_n + 1)]
    lines = []
    for n, (number, cents, _made) in enumerate(deposits, start=1):
        reference = "" if n % BY_AMOUNT_EVERY == 0 else number
        lines.append((cents, "301", reference, "COUNTER DEPOSIT"))
    lines += [(cents, "165", "", "STRIPE TRANSFER") for _id, cents in payouts]
    lines += [(-(500 + n % 900), "698", "", "ACCOUNT SERVICE CHARGE") for n in range(FEES)]
    lines += [(30_000_000 + n, "195", "", "INCOMING WIRE") for n in range(STRAYS // 2)]
    lines += [(-(40_000 + n), "699", "", "RETURNED ITEM") for n in range(STRAYS - STRAYS // 2)]
    return deposits, payouts, lines


def seed(app, deposits: list, payouts: list) -> None:
    """The deposits in transit and the payouts at the bank, as the services leave them."""
    now = utcnow()
    with app.app_context():
        bulk_insert(
            db.session,
            BankDeposit.__table__,
            [
                {
                    "number": number,
                    "status": "in_transit",
                    "amount_cents": cents,
                    "parts": [{"source": "bench", "gl": chart.CASH_DRAWER, "cents": cents}],
                    "made_by": "bench",
                    "made_at": now,
                    "made_on": made,
                    "created_at": now,
                }
                for number, cents, made in deposits
            ],
        )
        specs = [
            EntrySpec(
                [
                    Posting(chart.DEPOSITS_IN_TRANSIT, debit_cents=c),
                    Posting(chart.CASH_DRAWER, credit_cents=c),
                ],  # fmt: skip
                made,
                "bank_deposit",
                number,
                f"Bank deposit {number}",
            )
            for number, c, made in deposits
        ]
        specs += [
            EntrySpec(
                [
                    Posting(chart.BANK, debit_cents=c),
                    Posting(chart.STRIPE_CLEARING, credit_cents=c),
                ],
                DAY,
                "payout",
                payout_id,
                f"Stripe payout {payout_id} paid to the bank",
            )
            for payout_id, c in payouts
        ]
        post_entries(db.session, specs, actor=ACTOR)
        db.session.commit()
        # NOTE: a town's database has its statistics; rows just copied in have none until
        # autovacuum comes by, and the planner would guess.
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))


def bai2_file(lines: list) -> bytes:
    """One account, one day: the lines, the balances and every trailer's totals."""
    stamp = f"{DAY:%y%m%d}"
    closing = sum(cents for cents, *_ in lines)
    details = [
        f"16,{code},{abs(cents)},Z,B{n:08d},{reference},{text}/"
        for n, (cents, code, reference, text) in enumerate(lines, start=1)
    ]
    total = closing + sum(abs(cents) for cents, *_ in lines)
    records = [
        f"01,BANK,MUNIBILL,{stamp},0630,1,,,2/",
        f"02,MUNIBILL,BANK,1,{stamp},,USD,2/",
        f"03,4417001234,USD,010,0,,,015,{closing},,/",
        *details,
        f"49,{total},{len(details) + 2}/",
        f"98,{total},1,{len(details) + 4}/",
        f"99,{total},1,{len(details) + 6}/",
    ]
    return ("\n".join(records) + "\n").encode("ascii")


def written_rows(app, entries_after: int, audits_after: int) -> dict[str, tuple[list, list]]:
    """Every row the import wrote, read back: table -> (columns, rows)."""
    wheres = {
        "journal_entry": f"seq > {entries_after}",
        "journal_line": f"entry_id IN (SELECT id FROM journal_entry WHERE seq > {entries_after})",
        "audit_event": f"id > {audits_after}",
        "bank_deposit": "status = 'at_bank'",
    }
    out = {}
    with app.app_context(), db.engine.connect() as connection:
        for table in COPIED:
            result = connection.execute(
                sa.text(f"SELECT * FROM {table} WHERE {wheres.get(table, 'true')}")
            )
            out[table] = (list(result.keys()), [tuple(row) for row in result])
    return out


#: The import's new rows in an order their foreign keys accept (the deposits it confirmed are
#: updates, not new rows).
OWN_ORDER = ("bank_statement", "bank_statement_line", "journal_entry", "journal_line",
             "reconciliation_item", "audit_event")  # fmt: skip


def check_result(app, lines: list) -> list[str]:
    """What is wrong with the books after the import (nothing, when it went right)."""
    problems = []
    with app.app_context():
        session = db.session
        if gl_balance(session, chart.DEPOSITS_IN_TRANSIT) != 0:
            problems.append("1050 still holds deposits")
        fees = -sum(c for c, code, *_ in lines if code == "698")
        if gl_balance(session, chart.BANK_FEES) != fees:
            problems.append("5400 does not hold the fees")
        queued = session.scalar(sa.select(sa.func.count()).select_from(ReconciliationItem))
        if queued != STRAYS:
            problems.append(f"the queue holds {queued} items, expected {STRAYS}")
        if reconcile(session, DAY).difference_cents != 0:
            problems.append("the reconciliation does not balance")
        if verify_chain(session).problem:
            problems.append("the ledger's chain does not verify")
    return problems


def main() -> int:
    """Seed, build the file, import it, measure COPY of what it wrote, report."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    app, _plans = billing_run.fresh_app(url)
    deposits, payouts, lines = plan(count)
    print(f"seeding {len(deposits):,} deposits and {len(payouts):,} payouts ...", flush=True)
    seed(app, deposits, payouts)
    data = bai2_file(lines)
    print(f"file: {len(lines):,} lines, {len(data):,} bytes", flush=True)
    with app.app_context():
        entries_after = db.session.scalar(sa.select(sa.func.max(JournalEntry.seq)))
        audits_after = db.session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM audit_event"))
        db.session.commit()
        start = time.perf_counter()
        report = import_statement(
            db.session, ACTOR, data, filename="bench.bai", layout="bai2", fee_rule=RULE
        )
        db.session.commit()
        seconds = time.perf_counter() - start
    rate = len(lines) / seconds
    rows = written_rows(app, entries_after, audits_after)
    written = sum(len(values) for _columns, values in rows.values())
    plain_seconds = copy_into_plain_tables(app, rows)
    plain_ratio = rate * plain_seconds / len(lines)
    base_seconds = copy_into_own_tables(app, rows, OWN_ORDER)
    base_rate = len(lines) / base_seconds
    ratio = rate / base_rate
    problems = check_result(app, lines)
    outcome = f"{report.matched:,} matched, {report.fees} fees, {len(report.queued)} queued"
    print(f"import: {seconds:.2f} s, {rate:,.0f} lines/s ({outcome}; {written:,} rows written)")
    print(
        f"COPY:   {base_seconds:.3f} s, {base_rate:,.0f} lines/s (the same new rows into the "
        f"import's own tables, with their indexes, checks and foreign keys)"
    )
    print(
        f"COPY into plain tables (no index, no constraint; deposits included): "
        f"{plain_seconds:.3f} s, {len(lines) / plain_seconds:,.0f} lines/s ({written:,} rows), "
        f"the import at {plain_ratio:.1%} of it"
    )
    print(f"ratio:  {ratio:.1%} (target {TARGET_TEXT})")
    print("result: " + ("as expected" if not problems else "; ".join(problems)))
    _results.report(
        "bank statement import",
        figure=rate,
        unit="lines/s",
        baseline=base_rate,
        target=TARGET_TEXT,
        checks={
            f"ratio >= {TARGET_RATIO:.0%}": ratio >= TARGET_RATIO,
            "right result": not problems,
        },
        database="postgresql",
        notes={
            "size": f"{len(lines):,} lines, {len(data):,} bytes; {written:,} rows written",
            "time": f"{seconds:.2f} s import; {base_seconds:.3f} s COPY into its own tables; "
            f"{plain_seconds:.3f} s COPY into plain tables ({plain_ratio:.1%})",
            "outcome": outcome,
            "result": "as expected" if not problems else "; ".join(problems),
        },
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
