"""Reconciliation rate: Stripe PaymentIntents matched against our payments, against one SQL join.

PostgreSQL. Two parts, each on a fresh database with its own accounts and payments:

- A real sample (1,000 intents by default) created in localstripe through the
  gateway (card payments confirmed with a test card; a few canceled, a few
  naming no payment of ours), then one full `reconcile()` with the gateway on
  localstripe: listing the lost events, the intents, payouts and refunds at
  localstripe included. It gives localstripe's own creation and listing rates,
  which are why the 100,000 are not created there: at those rates creating
  them takes about 20 minutes and listing them again as long (localstripe is
  one Python process that walks its whole store for every page).
- 100,000 intents (by default) matched by the same `reconcile()`, with the
  same gateway on the same localstripe for everything but the intents list:
  that list hands back the 100,000 intents already read (PaymentIntent
  payloads shaped like the sample's, parsed by the gateway's own parser), so
  the figure does NOT include reading them from Stripe; it does include every
  other call reconcile makes (events, payouts, refunds, and asking Stripe for
  each payment it did not list). The figure is intents/s over the whole call.

The baseline, in the same run on the same rows: the intents written into a
temporary table with COPY, then one query joining them to our payments by
intent id and sorting every pair into the same outcomes (matched, a lost
success to settle, a different amount, a success we recorded as failed, a
success naming no payment, a payment Stripe does not know), counted; once
before and once after reconcile, averaged. Its counts must equal what
reconcile reported, and afterwards the queue must hold exactly the expected
items and the recovered payments be settled: a wrong result fails the run.

Most intents match a settled payment; per 2,000 there is one of each other
kind (two with a different amount), so every flagging path runs.
A benchmark, not a test.

    .venv/bin/python bench/reconcile.py [INTENTS] [SAMPLE]
    .venv/bin/python bench/reconcile.py --county munibill_county_20000 [INTENTS] [SAMPLE]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/munibill_bench_reconcile .venv/bin/python bench/reconcile.py

With `--county TEMPLATE` the intents part runs on a copy of a county seed, on top of its
payments (bench/_county_target.py, docs/bench-county.md).
"""

from __future__ import annotations

import copy
import io
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)

import _county_target  # noqa: E402
import _results  # noqa: E402
import billing_run  # noqa: E402
from _seed import account_rows  # noqa: E402

from accounts.models import Account  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.calendar import town_zone  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from payments.gateway import StripeGateway, _intent  # noqa: E402
from payments.localstripe_dev import LocalStripeServer, wipe  # noqa: E402
from payments.models import (  # noqa: E402
    EventStatus,
    Payment,
    PaymentStatus,
    ReconciliationItem,
    StripeEvent,
)
from payments.reconcile import reconcile  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/munibill_bench_reconcile"
ACTOR = Actor.job("bench")
AS_OF = date(2026, 11, 26)
#: The rate reconcile must reach, as a share of the SQL join's (see TARGET_TEXT).
TARGET_RATIO = 0.03
TARGET_TEXT = (
    f">= {TARGET_RATIO:.0%} of the SQL join's intents/s: reconcile also finds each intent's "
    "payment as the webhook receiver does (its metadata, then its id), decides each in Python, "
    "locks, settles, flags and audits those that differ, commits per batch, and asks Stripe "
    "about each open payment it did not list"
)

#: The kinds of intent and payment made; `expected` says what reconcile must find for each.
MATCHED, AMOUNT, FAILED_HERE, RECOVERED = "matched", "amount_mismatch", "failed_here", "recovered"
UNKNOWN_HERE, CANCELED, UNKNOWN_TO_STRIPE = "unknown_here", "canceled", "unknown_to_stripe"


@dataclass(frozen=True)
class Case:
    """One payment of ours and/or one intent at Stripe, and the kind of pair they make."""

    n: int
    kind: str

    @property
    def amount_cents(self) -> int:
        """What the intent is for."""
        return 2_000 + self.n % 9_000

    @property
    def payment_cents(self) -> int:
        """What our payment is for (a different amount for a mismatch)."""
        return self.amount_cents + (100 if self.kind == AMOUNT else 0)

    @property
    def payment_status(self) -> str:
        """How our payment stands before reconciliation."""
        if self.kind == MATCHED:
            return PaymentStatus.SUCCEEDED.value
        return PaymentStatus.FAILED.value if self.kind == FAILED_HERE else "pending"


def cases(intents: int, after: int = 0) -> list[Case]:
    """The mix: per 2,000 intents one of each other kind, two with a different amount.

    Numbered from after + 1 (the payments' ids).
    """
    each = max(intents // 2_000, 1)
    special = [AMOUNT] * 2 * each
    special += [k for k in (FAILED_HERE, RECOVERED, UNKNOWN_HERE, CANCELED) for _ in range(each)]
    kinds = [MATCHED] * (intents - len(special)) + special
    # spread the special ones through the list, as they would be at Stripe
    step = max(len(kinds) // max(len(special), 1), 1)
    for i in range(len(special)):
        j = (i * step + step // 2) % len(kinds)
        kinds[j], kinds[len(kinds) - 1 - i] = kinds[len(kinds) - 1 - i], kinds[j]
    made = [Case(after + n + 1, kind) for n, kind in enumerate(kinds)]
    return made + [Case(after + intents + 1 + i, UNKNOWN_TO_STRIPE) for i in range(each)]


def expected(made: list[Case]) -> Counter:
    """What reconcile must count and flag for the mix (the baseline's outcomes too)."""
    kinds = Counter(c.kind for c in made)
    return Counter(
        {
            "intents": sum(n for k, n in kinds.items() if k != UNKNOWN_TO_STRIPE),
            "matched": kinds[MATCHED] + kinds[CANCELED],
            "recovered": kinds[RECOVERED],
            AMOUNT: kinds[AMOUNT],
            FAILED_HERE: kinds[FAILED_HERE],
            UNKNOWN_HERE: kinds[UNKNOWN_HERE],
            UNKNOWN_TO_STRIPE: kinds[UNKNOWN_TO_STRIPE],
        }
    )


def ensure_database(url: str) -> None:
    """Create the bench's own database if it is missing."""
    name = sa.make_url(url).database
    server = sa.create_engine(
        sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with server.connect() as connection:
        if not connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ):
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()


def seed(
    app, made: list[Case], intent_ids: dict[int, str], owners: list[int] | None = None
) -> None:
    """Accounts (one per ten payments) and our payments, with Core; or on `owners`' accounts."""
    now = utcnow()
    accounts = max(len(made) // 10, 1)
    payments = [
        {
            "id": c.n,
            "account_id": owners[c.n % len(owners)] if owners else 1 + c.n % accounts,
            "channel": "online",
            "tender": "card",
            "status": c.payment_status,
            "amount_cents": c.payment_cents,
            "currency": "usd",
            "invoice_ids": [],
            "stripe_payment_intent_id": intent_ids.get(c.n, f"pi_nobody_knows_{c.n}"),
            "succeeded_at": now if c.kind == MATCHED else None,
            "created_by": "quick pay",
            "created_at": now,
            "updated_at": now,
        }
        for c in made
        if c.kind != UNKNOWN_HERE
    ]
    with app.app_context(), db.engine.begin() as connection:
        if not owners:
            connection.execute(
                sa.insert(Account.__table__), account_rows(range(1, accounts + 1), now)
            )
        for start in range(0, len(payments), 10_000):
            connection.execute(sa.insert(Payment.__table__), payments[start : start + 10_000])
        connection.execute(
            sa.text("SELECT setval('payment_id_seq', (SELECT max(id) FROM payment))")
        )
        connection.execute(sa.text("ANALYZE"))


def metadata_of(case: Case) -> dict[str, str]:
    """What our pay flow puts on an intent; a stranger's names only an account."""
    if case.kind == UNKNOWN_HERE:
        return {"account_number": "99999999"}
    return {"payment_id": str(case.n)}


class TimedGateway:
    """The real gateway, timing every call; optionally listing given intents instead of Stripe's."""

    def __init__(self, gateway: StripeGateway, intents: list | None = None) -> None:
        """Wrap `gateway`; with `intents`, list_payment_intents hands those back."""
        self.gateway, self.intents, self.seconds = gateway, intents, Counter()

    def list_payment_intents(self, *, created_after: datetime | None = None, limit: int = 100):
        """Stripe's list, or the given intents filtered and sorted as the gateway does."""
        if self.intents is None:
            return self._timed("list_payment_intents")(created_after=created_after, limit=limit)
        found = [i for i in self.intents if created_after is None or i.created > created_after]
        return sorted(found, key=lambda i: i.created)

    def __getattr__(self, name: str):
        """Every other gateway method, timed."""
        return self._timed(name)

    def _timed(self, name: str):
        method = getattr(self.gateway, name)

        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return call


def baseline(app, intents: list) -> tuple[float, Counter]:
    """Seconds to COPY the intents into a temporary table and sort every pair with one join."""
    query = """
        SELECT CASE
            WHEN i.id IS NULL THEN CASE
                WHEN p.channel = 'online' AND p.status IN ('pending', 'processing')
                THEN 'unknown_to_stripe' END
            WHEN p.id IS NULL THEN CASE WHEN i.status = 'succeeded'
                THEN 'unknown_here' ELSE 'matched' END
            WHEN i.status <> 'succeeded' THEN 'matched'
            WHEN i.amount_cents <> p.amount_cents THEN 'amount_mismatch'
            WHEN p.status IN ('pending', 'processing') THEN 'recovered'
            WHEN p.status IN ('failed', 'canceled') THEN 'failed_here'
            ELSE 'matched' END AS outcome, count(*)
        FROM stripe_intent i FULL JOIN payment p ON p.stripe_payment_intent_id = i.id
        GROUP BY 1
    """
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        start = time.perf_counter()
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE stripe_intent "
                "(id text, status text, amount_cents bigint) ON COMMIT DROP"
            )
            rows = io.StringIO()
            for i in intents:
                rows.write(f"{i.id}\t{i.status}\t{i.amount_cents}\n")
            with cursor.copy("COPY stripe_intent FROM STDIN") as copying:
                copying.write(rows.getvalue())
            cursor.execute(query)
            outcomes = Counter({k: n for k, n in cursor.fetchall() if k is not None})
        raw.commit()
        return time.perf_counter() - start, outcomes


def check(
    app, made: list[Case], report: dict, outcomes: Counter | None, *, replayed: bool
) -> list[str]:
    """What is wrong with a run's result (nothing, when reconcile found exactly the mix).

    With `replayed`, the lost successes were at Stripe as events: replayed first,
    they settle their payments as the receiver would have, and their intents then match.
    """
    want = expected(made)
    flags = (AMOUNT, FAILED_HERE, UNKNOWN_HERE, UNKNOWN_TO_STRIPE)
    lost = want["recovered"]
    should = {
        "events_replayed": lost if replayed else 0,
        "intents": want["intents"],
        "matched": want["matched"] + (lost if replayed else 0),
        "recovered": 0 if replayed else lost,
        "flagged": sum(want[k] for k in flags),
    }
    problems = []
    if {k: report[k] for k in should} != should:
        problems.append(f"reconcile reported {report}, expected {should}")
    joined = {k: v for k, v in want.items() if k != "intents" and v}
    if outcomes is not None and dict(outcomes) != joined:
        problems.append(f"the SQL join found {dict(outcomes)}, expected {joined}")
    with app.app_context():
        items = Counter(
            kind.value for kind in db.session.scalars(sa.select(ReconciliationItem.kind))
        )
        status_of = dict(db.session.execute(sa.select(Payment.id, Payment.status)).all())
        db.session.remove()
    if items != Counter({k: want[k] for k in flags}):
        problems.append(f"the queue holds {dict(items)}")
    for c in made:
        after = {RECOVERED: "succeeded", CANCELED: "canceled"}.get(c.kind, c.payment_status)
        if c.kind != UNKNOWN_HERE and status_of.get(c.n) != after:
            problems.append(f"payment {c.n} ({c.kind}) is {status_of.get(c.n)}, not {after}")
            break
    return problems


def run_reconcile(app, gateway: TimedGateway) -> tuple[float, dict]:
    """One full reconcile() on the app's database; (seconds, report)."""
    with app.app_context():
        start = time.perf_counter()
        report = reconcile(
            db.session, gateway, ACTOR, as_of=AS_OF, currency="usd", zone=town_zone(app.config)
        )
        seconds = time.perf_counter() - start
        db.session.remove()
    return seconds, report


def sample(url: str, base_url: str, size: int) -> dict:
    """The real part: intents made at localstripe, then reconcile with the gateway on it."""
    made = cases(size)
    app, _plans = billing_run.fresh_app(url)
    gateway = StripeGateway(api_key="sk_test_bench", api_base=base_url, max_network_retries=0)
    ids: dict[int, str] = {}
    start = time.perf_counter()
    for c in made:
        if c.kind == UNKNOWN_TO_STRIPE:
            continue
        intent = gateway.create_payment_intent(
            amount_cents=c.amount_cents,
            currency="usd",
            customer_id=None,
            metadata=metadata_of(c),
            idempotency_key=f"bench-{c.n}",
            payment_method="pm_card_visa",
            confirm=c.kind != CANCELED,
        )
        if c.kind == CANCELED:
            gateway.cancel_payment_intent(intent.id)
        ids[c.n] = intent.id
    created = time.perf_counter() - start
    seed(app, made, ids)
    # The webhooks that did arrive are stored; a recovered one's success never reached us.
    lost = {ids[c.n] for c in made if c.kind == RECOVERED}
    events = gateway.list_events()
    with app.app_context():
        db.session.add_all(
            StripeEvent(
                id=e.id,
                type=e.type,
                payload=e.payload,
                status=EventStatus.PROCESSED,
                processed_at=utcnow(),
            )
            for e in events
            if e.data_object.get("id") not in lost
        )
        db.session.commit()
    timed = TimedGateway(gateway)
    seconds, report = run_reconcile(app, timed)
    gateway.close()
    problems = check(app, made, report, None, replayed=True)
    with app.app_context():
        db.engine.dispose()
    return {
        "created_seconds": created,
        "seconds": seconds,
        "report": report,
        "gateway_seconds": dict(timed.seconds),
        "problems": [f"localstripe sample: {p}" for p in problems],
        # a PaymentIntent as localstripe lists it, for the 100,000 to be shaped like
        "payload": next(e.data_object for e in events if e.type == "payment_intent.succeeded"),
    }


def main() -> int:
    """Sample at localstripe, then the 100,000; print the figures; non-zero on a wrong result."""
    template, argv = _county_target.county_option(sys.argv[1:])
    count = int(argv[0]) if argv else 100_000
    size = int(argv[1]) if len(argv) > 1 else 1_000
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    ensure_database(url)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        with LocalStripeServer(Path(folder) / "localstripe") as server:
            real = sample(url, server.base_url, size)
            wipe(server.base_url)
            county, owners, after = None, None, 0
            if template:
                url, county, owners, _s = _county_target.prepared(template, url, count)
                app, after = billing_run.plain_app(url), _county_target.last_payment(url)
            else:
                app, _plans = billing_run.fresh_app(url)
            made = cases(count, after)
            listed = listed_intents(made, real["payload"])
            seed(app, made, {c.n: i.id for c, i in listed}, owners)
            intents = [i for _c, i in listed]
            before, outcomes = baseline(app, intents)
            gateway = TimedGateway(
                StripeGateway(
                    api_key="sk_test_bench", api_base=server.base_url, max_network_retries=0
                ),
                intents,
            )
            seconds, report = run_reconcile(app, gateway)
            after_seconds, _after_outcomes = baseline(app, intents)
            gateway.gateway.close()
            problems = check(app, made, report, outcomes, replayed=False) + real["problems"]
            with app.app_context():
                db.engine.dispose()
    base_seconds = (before + after_seconds) / 2
    return show(count, size, real, seconds, report, gateway, base_seconds, problems, county)


def listed_intents(made: list[Case], payload: dict) -> list[tuple[Case, object]]:
    """The intents as Stripe lists them: the sample's payload with each case's id, amount, status."""
    created = int((datetime.now(UTC) - timedelta(hours=12)).timestamp())
    listed, first = [], made[0].n
    for c in made:
        if c.kind == UNKNOWN_TO_STRIPE:
            continue
        data = copy.deepcopy(payload)
        data.update(
            id=f"pi_bench{c.n:014d}",
            amount=c.amount_cents,
            amount_received=c.amount_cents if c.kind != CANCELED else 0,
            status="canceled" if c.kind == CANCELED else "succeeded",
            metadata=metadata_of(c),
            created=created + (c.n - first + 1) * 43_200 // len(made),
            client_secret=f"pi_bench{c.n:014d}_secret_bench",
        )
        listed.append((c, _intent(data)))
    return listed


def show(count, size, real, seconds, report, gateway, base_seconds, problems, county=None) -> int:
    """Print the figures and record the result; non-zero when the result was wrong."""
    intents = report["intents"]
    rate, base_rate = intents / seconds, intents / base_seconds
    sample_rate = real["report"]["intents"] / real["seconds"]
    listing = real["gateway_seconds"].get("list_payment_intents", 0.0)
    creating = size / real["created_seconds"]
    calls = sum(gateway.seconds.values())
    print(
        f"reconciliation on postgresql: {intents:,} intents, {size:,} of them first at localstripe"
    )
    print(
        f"  localstripe sample: created {creating:,.0f} intents/s ({100_000 / creating / 60:.0f} min "
        f"for 100,000); reconcile() {real['seconds']:.1f} s = {sample_rate:,.0f} intents/s "
        f"including the list call ({listing:.1f} s, "
        f"{real['report']['intents'] / max(listing, 1e-9):,.0f} intents/s listed); "
        f"report {real['report']}"
    )
    print(
        f"  reconcile(), intents given: {seconds:6.1f} s  {rate:8,.0f} intents/s  "
        f"(other gateway calls {calls:.2f} s)  report {report}"
    )
    print(f"  baseline COPY + one join:   {base_seconds:6.2f} s  {base_rate:8,.0f} intents/s")
    ratio = rate / base_rate
    print(f"  ratio: {ratio:.1%}  (target {TARGET_TEXT})")
    for problem in problems:
        print(f"  WRONG: {problem}")
    if county:
        print(f"  {_county_target.size_text(county)}")
    _results.report(
        _county_target.label("reconciliation", county) if county else "reconciliation",
        figure=rate,
        unit="intents/s",
        baseline=base_rate,
        target=TARGET_TEXT,
        checks={
            f"ratio >= {TARGET_RATIO:.0%}": ratio >= TARGET_RATIO,
            "right result": not problems,
        },
        database="postgresql",
        notes={
            "size": f"{intents:,} intents (list call not included: intents handed over as read)",
            "time": f"{seconds:.1f} s; other gateway calls {calls:.2f} s",
            "localstripe sample": f"{size:,} intents created at {creating:,.0f}/s; full reconcile() "
            f"incl. listing {sample_rate:,.0f} intents/s (listing alone {listing:.1f} s)",
            "outcomes": ", ".join(f"{k} {v:,}" for k, v in report.items() if v),
            "result": "as expected" if not problems else "; ".join(problems),
            **({"county": _county_target.size_text(county)} if county else {}),
        },
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
