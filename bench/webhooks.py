"""Webhook settlement rate and p99 latency under gunicorn, against a verify-and-insert baseline.

PostgreSQL, gunicorn with 4 sync workers on 127.0.0.1; 16 concurrent senders
post signed payment_intent.succeeded events for distinct invoices, 20% of them
duplicates; the rate counts from the first event sent to the moment no stored
success waits to be settled any more. The same senders then post the same events to the baseline
endpoint on the same server (bench/webhook_app.py), once before and once
after, and the two are averaged. Afterwards every invoice
must be paid exactly once and the ledger must verify. A benchmark, not a test.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/munibill_bench .venv/bin/python bench/webhooks.py [INVOICES]
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
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _results  # noqa: E402
import billing_run  # noqa: E402

from billing.models import Invoice  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from payments.models import Payment  # noqa: E402

SECRET = "whsec_bench_secret"
SENDERS = 16
DUPLICATES = 0.2


def prepare(url: str, folder: str, invoices: int) -> list[dict]:
    """Bill `invoices` accounts, record a pending payment for each, return their success events."""
    app, plans = billing_run.fresh_app(url)
    billing_run.seed(app, plans, invoices)
    billing_run.run_billing(url, folder)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE bench_raw_event (id varchar(255) PRIMARY KEY, body text)")
        )
        rows = connection.execute(
            sa.select(Invoice.id, Invoice.account_id, Invoice.total_cents)
        ).all()
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
                    "invoice_ids": [invoice_id],
                    "stripe_payment_intent_id": f"pi_bench_{i}",
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, (invoice_id, account_id, total) in enumerate(rows, start=1)
            ],
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
        for i, (_invoice, _account, total) in enumerate(rows, start=1)
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


def p99(latencies: list[float]) -> float:
    """The 99th percentile, in milliseconds."""
    return statistics.quantiles(latencies, n=100)[98] * 1000


def main() -> None:
    """Prepare, serve, send, check and print."""
    invoices = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/munibill_bench"
    )
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        events = prepare(url, folder, invoices)
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
        check = sa.create_engine(url)
        with check.connect() as connection:
            paid = connection.execute(
                sa.text("SELECT count(*) FROM invoice WHERE status = 'paid'")
            ).scalar_one()
            receipts = connection.execute(sa.text("SELECT count(*) FROM receipt")).scalar_one()
            settlements = connection.execute(
                sa.text("SELECT count(DISTINCT source_id) FROM settlement WHERE kind = 'payment'")
            ).scalar_one()
        check.dispose()
    rate, base_rate = len(stream) / seconds, len(events) / base_seconds
    print(
        f"webhooks on postgresql: {len(events):,} invoices, {len(stream):,} events ({DUPLICATES:.0%} duplicates), "
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
    _results.report(
        "webhooks",
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
            "size": f"{len(events):,} invoices, {len(stream):,} events, {SENDERS} senders",
            "p99": f"{p99(latencies):.1f} ms (baseline {p99(base_latencies):.1f} ms)",
            "afterwards": f"{paid:,} paid, {receipts:,} receipts, {failures} non-2xx, "
            f"ledger {verify.stdout.strip() or verify.stderr.strip()}",
        },
    )
    print(
        f"  afterwards: {paid:,} of {len(events):,} invoices paid, {receipts:,} receipts, "
        f"{settlements:,} payments settled (lost {len(events) - receipts}, doubled {receipts - settlements}); "
        f"ledger {verify.stdout.strip() or verify.stderr.strip()}"
    )


if __name__ == "__main__":
    main()
