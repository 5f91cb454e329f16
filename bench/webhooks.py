"""Webhook settlement rate and p99 latency under gunicorn, against a verify-and-insert baseline.

PostgreSQL, gunicorn with 4 sync workers on 127.0.0.1; 16 concurrent senders
post signed payment_intent.succeeded events for distinct invoices, 20% of them
duplicates; the rate counts from the first event sent to the moment no stored
success waits to be settled any more. The same senders then post the same events to the baseline
endpoint on the same server (bench/webhook_app.py), once before and once
after, and the two are averaged. Afterwards every invoice
must be paid exactly once and the ledger must verify. A benchmark, not a test.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/munibill_bench .venv/bin/python bench/webhooks.py [INVOICES]
    .venv/bin/python bench/webhooks.py --county munibill_county_20000 [ACCOUNTS]

With `--county TEMPLATE` (bench/_county_target.py) it runs on a copy of a county seed: ACCOUNTS
accounts that owe money (billing.position) each get a pending card payment of what they owe,
and afterwards each of them must owe nothing and each payment have one receipt.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _county_target  # noqa: E402
import _results  # noqa: E402
import billing_run  # noqa: E402

from billing.models import Invoice  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from payments.models import Payment  # noqa: E402

SECRET = "whsec_bench_secret"
SENDERS = 16
DUPLICATES = 0.2


def county_payments(app, count: int) -> list[tuple[list[int], int, int]]:
    """(invoice ids, account id, cents) of what `count` owing accounts of the county owe."""
    with app.app_context():
        owing = _county_target.owing_accounts(db.session, count, date.today())
        db.session.remove()
    return [(invoices, account, cents) for account, (cents, invoices) in owing.items()]


def prepare(url: str, folder: str, invoices: int, county: bool = False) -> list[dict]:
    """Bill `invoices` accounts, record a pending payment for each, return their success events.

    On the county (`url` a copy of it), take `invoices` accounts that owe instead.
    """
    if county:
        app = billing_run.plain_app(url)
        rows = county_payments(app, invoices)
    else:
        app, plans = billing_run.fresh_app(url)
        billing_run.seed(app, plans, invoices)
        billing_run.run_billing(url, folder)
        with app.app_context(), db.engine.connect() as connection:
            rows = [
                ([i], account, total)
                for i, account, total in connection.execute(
                    sa.select(Invoice.id, Invoice.account_id, Invoice.total_cents)
                )
            ]
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE bench_raw_event (id varchar(255) PRIMARY KEY, body text)")
        )
        first = 1 + connection.scalar(sa.select(sa.func.coalesce(sa.func.max(Payment.id), 0)))
        now = utcnow()
        connection.execute(
            sa.insert(Payment.__table__),
            [
                {
                    "id": i,
                    "account_id": account_id,
                    "channel": "online",
                    "tender": "card",
                    "status": "pending",
                    "amount_cents": total,
                    "currency": "usd",
                    "invoice_ids": invoice_ids,
                    "stripe_payment_intent_id": f"pi_bench_{i}",
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, (invoice_ids, account_id, total) in enumerate(rows, start=first)
            ],
        )
        if county:
            connection.execute(
                sa.text("SELECT setval('payment_id_seq', (SELECT max(id) FROM payment))")
            )
        db.engine.dispose()
    return [
        {
            "id": f"evt_bench_{i}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"pi_bench_{i}",
                    "object": "payment_intent",
                    "amount": total,
                    "amount_received": total,
                    "metadata": {"payment_id": str(i)},
                }
            },
        }
        for i, (_invoice, _account, total) in enumerate(rows, start=first)
    ]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signed(event: dict) -> tuple[bytes, str]:
    """The body and Stripe-Signature header of an event."""
    body = json.dumps(event).encode()
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={digest}"


def blast(port: int, path: str, events: list[dict]) -> tuple[float, list[float], int]:
    """Post every event from SENDERS threads; (seconds, latencies, non-2xx answers)."""
    work = list(events)
    lock, latencies, failures = threading.Lock(), [], [0]

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not work:
                    break
                event = work.pop()
            body, signature = signed(event)
            start = time.perf_counter()
            connection.request(
                "POST",
                path,
                body,
                {"Content-Type": "application/json", "Stripe-Signature": signature},
            )
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                failures[0] += response.status >= 300
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, failures[0]


def truncate(url: str) -> None:
    """Empty the baseline's table, so that the second baseline run inserts afresh."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE bench_raw_event"))
    engine.dispose()


def wait_until_settled(url: str, invoices: int, patience: float = 120.0) -> bool:
    """Wait until no stored success waits to be settled; False if that takes longer than patience."""
    engine = sa.create_engine(url)
    deadline = time.perf_counter() + patience
    try:
        while time.perf_counter() < deadline:
            with engine.connect() as connection:
                waiting = connection.execute(
                    sa.text("SELECT count(*) FROM stripe_event WHERE status = 'received'")
                ).scalar_one()
            if waiting == 0:
                return True
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


def outcome(url: str, first: int, county: bool) -> tuple[int, int, int]:
    """(invoices paid, or on the county accounts owing nothing; receipts; payments settled).

    Only the bench's payments (ids from `first`) and their accounts count.
    """
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        receipts = connection.execute(
            sa.text("SELECT count(*) FROM receipt WHERE payment_id >= :first"), {"first": first}
        ).scalar_one()
        settlements = connection.execute(
            sa.text(
                "SELECT count(DISTINCT source_id) FROM settlement "
                "WHERE kind = 'payment' AND source_id IN "
                "(SELECT CAST(id AS varchar) FROM payment WHERE id >= :first)"
            ),
            {"first": first},
        ).scalar_one()
        if not county:
            paid = connection.execute(
                sa.text("SELECT count(*) FROM invoice WHERE status = 'paid'")
            ).scalar_one()
    engine.dispose()
    if county:
        app = billing_run.plain_app(url)
        with app.app_context():
            from billing.position import positions

            accounts = db.session.scalars(
                sa.select(Payment.account_id).where(Payment.id >= first)
            ).all()
            done = positions(db.session, accounts, date.today())
            paid = sum(1 for p in done.values() if p.owed_cents() == 0)
            db.session.remove()
            db.engine.dispose()
    return paid, receipts, settlements


def p99(latencies: list[float]) -> float:
    """The 99th percentile, in milliseconds."""
    return statistics.quantiles(latencies, n=100)[98] * 1000


def main() -> None:
    """Prepare, serve, send, check and print."""
    template, argv = _county_target.county_option(sys.argv[1:])
    invoices = int(argv[0]) if argv else 2000
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/munibill_bench"
    )
    county = None
    if template:
        url = _county_target.county_url(template, url)
        county = _county_target.size(url)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        events = prepare(url, folder, invoices, county=bool(county))
        first = min(int(e["data"]["object"]["metadata"]["payment_id"]) for e in events)
        random.seed(7)
        stream = events + random.sample(events, int(len(events) * DUPLICATES / (1 - DUPLICATES)))
        random.shuffle(stream)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "b" * 40,
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
        gunicorn = Path(sys.executable).parent / "gunicorn"
        server = subprocess.Popen(
            [
                str(gunicorn),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "4",
                "--chdir",
                str(Path(__file__).resolve().parent.parent),
                "bench.webhook_app:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(4)
            # The baseline before and after, so that a drift of the machine shows in both figures.
            before = blast(port, "/bench/baseline-webhook", events)
            truncate(url)
            started = time.perf_counter()
            _, latencies, failures = blast(port, "/webhooks/stripe", stream)
            answered = time.perf_counter() - started
            settled_after = wait_until_settled(url, len(events))
            seconds = time.perf_counter() - started if settled_after else float("inf")
            after = blast(port, "/bench/baseline-webhook", events)
            base_seconds = (before[0] + after[0]) / 2
            base_latencies, base_failures = before[1] + after[1], before[2] + after[2]
        finally:
            server.terminate()
            server.wait(timeout=30)
        verify = subprocess.run(
            [str(Path(sys.executable).parent / "munibill"), "ledger", "verify"],
            env=env,
            capture_output=True,
            text=True,
        )
        paid, receipts, settlements = outcome(url, first, bool(county))
    rate, base_rate = len(stream) / seconds, len(events) / base_seconds
    what = "owing accounts" if county else "invoices"
    print(
        f"webhooks on postgresql: {len(events):,} {what}, {len(stream):,} events ({DUPLICATES:.0%} duplicates), "
        f"{SENDERS} senders, gunicorn 4 sync workers"
    )
    print(
        f"  munibill webhook: {rate:7,.0f} events/s settled  p99 {p99(latencies):6.1f} ms  "
        f"non-2xx {failures}  (all answered after {answered:.2f} s, all settled after {seconds:.2f} s)"
    )
    print(
        f"  baseline verify+insert: {base_rate:7,.0f} events/s  p99 {p99(base_latencies):6.1f} ms  "
        f"non-2xx {base_failures}"
    )
    print(f"  ratio: {rate / base_rate:.1%}  (target >= 35%, p99 < 100 ms)")
    correct = failures == 0 and receipts == settlements == paid == len(events)
    if county:
        print(f"  {_county_target.size_text(county)}")
    _results.report(
        _county_target.label("webhooks", county) if county else "webhooks",
        figure=rate,
        unit="events/s settled",
        baseline=base_rate,
        target=">= 35% of the baseline's events/s; p99 < 100 ms; every invoice paid once",
        checks={
            "ratio >= 35%": rate / base_rate >= 0.35,
            "p99 < 100 ms": p99(latencies) < 100,
            "every invoice paid once": correct,
        },
        database="postgresql",
        notes={
            "size": f"{len(events):,} {what}, {len(stream):,} events, {SENDERS} senders",
            **({"county": _county_target.size_text(county)} if county else {}),
            "p99": f"{p99(latencies):.1f} ms (baseline {p99(base_latencies):.1f} ms)",
            "afterwards": f"{paid:,} {what} paid off, {receipts:,} receipts, {failures} non-2xx, "
            f"ledger {verify.stdout.strip() or verify.stderr.strip()}",
        },
    )
    print(
        f"  afterwards: {paid:,} of {len(events):,} {what} paid off, {receipts:,} receipts, "
        f"{settlements:,} payments settled (lost {len(events) - receipts}, doubled {receipts - settlements}); "
        f"ledger {verify.stdout.strip() or verify.stderr.strip()}"
    )


if __name__ == "__main__":
    main()
