"""The residents' bill page under load, against the quick-pay form on the same server.

PostgreSQL, gunicorn with 4 sync workers on 127.0.0.1, 10,000 accounts, built
through the real services where they are fast: the accounts, meters and reads
are bulk inserted as bench/billing_run.py does (there is no faster real path
for them); every 33rd account also gets an August read and is billed for
September (a real billing run; the others are reported as having no history),
late fees are assessed on those bills with the demo penalty rules, then the
October cycle is posted for all 10,000 (bench/billing_run.py's run). So every
account has an open utility bill with its water tiers and sewer lines, and 303
also an older one with a late payment charge. The tables are then analyzed, as
autovacuum would do on a live system.

Sessions: 2,000 quick-pay sessions on random accounts, started with
portal.access.start_session just before the bill phase (so no request of it is a
session's first in a minute, which would also write its last-seen time); each
cookie is signed with the app's own serializer, and gunicorn gets the same
SECRET_KEY.

Load: 16 clients, one process each (so none waits on another's GIL), each
requesting the path in a loop for a fixed time after a 3 s warm-up: GET /pay
(the baseline: renders the quick-pay form, touches no database), then GET
/my/bill of a random session, then GET /pay again; the two baselines are
averaged. Then the quick-pay lookup: 2,000 accounts are each given an access code
of their own (as a bill prints it) and each client, with the form's CSRF token,
POSTs /pay with a random account number and its code in a loop; every answer
must be a 303 to /my/bill (a new session each time). Its p99 and its rate
against the same GET /pay baseline are a result of their own ("portal quick-pay
lookup"). Gunicorn's sync workers close every connection, so each request
opens a new one. Every answer must be 200 and every bill page must show its
session's account number, else the exit status is 1. The CPU time per request
of the clients, the gunicorn workers and the database's backends is printed
(from /proc), to show where the time goes and that the clients are not the
bottleneck. Finally a few bill pages are requested in-process to count their
SQL statements. A benchmark, not a test; it takes about a minute and a half.

    .venv/bin/python bench/portal_bill.py [SECONDS_PER_PHASE]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/other .venv/bin/python bench/portal_bill.py
    .venv/bin/python bench/portal_bill.py --county munibill_county_20000 [SECONDS_PER_PHASE]

With `--county TEMPLATE` (bench/_county_target.py): the same on a copy of a county seed.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import yaml

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
BENCH = Path(__file__).resolve().parent

from accounts.models import Account, MeterReading  # noqa: E402
from accounts.services import derive_access_code, hash_access_code  # noqa: E402
from billing.models import InvoiceCharge, InvoiceKind  # noqa: E402
from billing.penalty_service import assess_penalties  # noqa: E402
from billing.rules import load_penalty_rules  # noqa: E402
from billing.runs import RunOptions, open_run, post_run  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.extensions import db  # noqa: E402
from portal.access import start_session  # noqa: E402

sys.path.append(str(BENCH))

import _county_target  # noqa: E402
import _results  # noqa: E402
import billing_run  # noqa: E402
import webhooks  # noqa: E402
from _http_load import CLIENTS, Meter, Phase, load, lookup_client  # noqa: E402

ACCOUNTS = 10_000
#: Every LATE_EVERY-th account also has a September bill with a late payment charge.
LATE_EVERY = 33
SESSIONS = 2_000
#: Accounts given an access code for the quick-pay lookups.
LOOKUPS = 2_000
WORKERS = 4
SECRET_KEY = "b" * 40
ACTOR = Actor.job("bench")
TARGET_RATIO, TARGET_P99_MS = 0.20, 100.0


def bill_september(app, late: list[int]) -> int:
    """An August read, a September bill and its late fee for the given accounts; the charge count."""
    with app.app_context():
        db.session.execute(
            sa.insert(MeterReading.__table__),
            [
                {
                    "service_point_id": 2 * i - 1,
                    "meter_installed_on": date(2024, 1, 1),
                    "read_on": date(2026, 8, 31),
                    "reading": 5_000 + i % 991,
                    "kind": "actual",
                    "recorded_by": "bench",
                }
                for i in late
            ],
        )
        load_penalty_rules(
            db.session,
            ACTOR,
            yaml.safe_load((billing_run.RULES / "penalties.yaml").read_text()),
        )
        db.session.commit()
        run = open_run(
            db.session,
            ACTOR,
            kind=InvoiceKind.UTILITY,
            cycle="2026-09",
            issue_date=date(2026, 10, 1),
            due_date=date(2026, 10, 21),
        )
        db.session.commit()
        post_run(db.session, run, ACTOR, RunOptions.from_config(app.config))
        db.session.commit()
        # NOTE: one-time late fee 20 days after the due date; the October bills are not late yet.
        assess_penalties(db.session, ACTOR, as_of=date(2026, 11, 20), rounding="half_up")
        db.session.commit()
        return db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge))


def sessions(app, count: int, ids: list[int] | None) -> list[tuple[str, str]]:
    """(cookie header, account number) of quick-pay sessions on random accounts (of `ids`)."""
    picked = ids[:count] if ids else random.Random(11).sample(range(1, ACCOUNTS + 1), count)
    with app.app_context():
        serializer = app.session_interface.get_signing_serializer(app)
        name = app.config["SESSION_COOKIE_NAME"]
        accounts = db.session.scalars(sa.select(Account).where(Account.id.in_(picked))).all()
        pairs = []
        for account in accounts:
            started = start_session(db.session, now=utcnow(), origin="127.0.0.1", account=account)
            cookie = serializer.dumps({"portal": started.token})
            pairs.append((f"{name}={cookie}", account.number))
        db.session.commit()
        db.engine.dispose()
    return pairs


def lookup_codes(app, count: int, ids: list[int] | None) -> list[tuple[str, str]]:
    """(account number, access code) of accounts each given a code of its own, as printed on a
    bill, for the quick-pay lookups (of `ids`, else random accounts)."""
    picked = ids[:count] if ids else random.Random(13).sample(range(1, ACCOUNTS + 1), count)
    table = Account.__table__
    with app.app_context():
        numbers = db.session.execute(
            sa.select(table.c.id, table.c.number).where(table.c.id.in_(picked))
        ).all()
        codes, rows = [], []
        for row_id, number in numbers:
            code = derive_access_code(b"bench", number, 1)
            codes.append((number, code))
            rows.append({"row_id": row_id, "code_hash": hash_access_code(code)})
        db.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(access_code_hash=sa.bindparam("code_hash")),
            rows,
        )
        db.session.commit()
        db.engine.dispose()
    return codes


def serve(url: str, folder: str) -> tuple[subprocess.Popen, int, Path]:
    """Gunicorn on the real app; returns once it answers."""
    port = webhooks.free_port()
    log = Path(folder) / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "PORTAL_IDLE_MINUTES": "600",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--chdir",
            str(BENCH.parent),
            "wsgi:app",
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    try:
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/pay", timeout=10):
                    return server, port, log
            except OSError:  # not listening or not answering yet
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer in 60 s:\n{log.read_text()[-3000:]}")
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise


def statements_per_page(app, pairs: list, path: str) -> list[int]:
    """SQL statements of one request per session to path, in-process on the same database."""
    counts = []

    def count(*_args) -> None:
        counts[-1] += 1

    with app.app_context():
        engine = db.engine
    # Each request in its own app context (and so its own SQLAlchemy session), as under gunicorn.
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for cookie, _number in pairs:
            counts.append(0)
            browser = app.test_client()
            browser.set_cookie(*cookie.split("=", 1))
            response = browser.get(path)
            assert response.status_code == 200, response.status_code
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return counts


def statements(app, pairs: list) -> tuple[list[int], list[int], int]:
    """Statements per bill page when it writes the session's last-seen time, when not, and of /pay."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE portal_session SET last_seen_at = last_seen_at - interval '2 minutes'")
        )
    touching = statements_per_page(app, pairs, "/my/bill")
    reading = statements_per_page(app, pairs, "/my/bill")
    quick = statements_per_page(app, pairs[:1], "/pay")[0]
    with app.app_context():
        db.engine.dispose()
    return touching, reading, quick


def prepare(url: str, folder: str):
    """The database with its bills and late fees; (app, late fee count, seconds taken)."""
    started = time.perf_counter()
    _county_target.fresh(url)
    app, plans = billing_run.fresh_app(url)
    billing_run.seed(app, plans, ACCOUNTS)
    charges = bill_september(app, list(range(LATE_EVERY, ACCOUNTS + 1, LATE_EVERY)))
    billing_run.run_billing(url, folder)
    # NOTE: as autovacuum would soon do on a live system; bulk-loaded tables have no statistics.
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("VACUUM ANALYZE")
            )
        db.engine.dispose()
    return app, charges, time.perf_counter() - started


def measure(url: str, folder: str, app, seconds: float, ids=None) -> tuple[dict[str, Phase], list]:
    """The four phases against one server (the quick-pay form, the bill page, the form again,
    the quick-pay lookup), and the sessions used."""
    server, port, log = serve(url, folder)
    meter = Meter(server.pid, url)

    def metered(path: str, pairs: list) -> Phase:
        start = meter.read()
        phase = load(port, path, pairs, seconds)
        phase.server_cpu, phase.db_cpu = meter.since(start)
        return phase

    try:
        load(port, "/pay", [], 3)
        before = metered("/pay", [])
        # Started now, so that no request of the bill phase is a session's first in a minute
        # (that one also writes its last-seen time); statements() counts both kinds.
        pairs = sessions(app, SESSIONS, ids)
        load(port, "/my/bill", pairs, 3)
        bill = metered("/my/bill", pairs)
        after = metered("/pay", [])
        codes = lookup_codes(app, LOOKUPS, ids)
        load(port, "/pay", codes, 3, target=lookup_client)
        start = meter.read()
        lookup = load(port, "/pay", codes, seconds, target=lookup_client)
        lookup.server_cpu, lookup.db_cpu = meter.since(start)
    finally:
        server.terminate()
        server.wait(timeout=30)
        meter.engine.dispose()
    if any(k != 200 for p in (before, bill, after) for k in p.statuses) or any(
        k != 303 for k in lookup.statuses
    ):
        print(log.read_text()[-3000:], file=sys.stderr)
    return {"before": before, "bill": bill, "after": after, "lookup": lookup}, pairs


def line(name: str, phase: Phase, expected: int = 200) -> str:
    """One figure line."""
    others = {k: v for k, v in phase.statuses.items() if k != expected}
    n = len(phase.latencies)
    return (
        f"  {name:<28} {phase.rps:7,.0f} req/s  p50 {phase.ms(50):6.1f} ms  "
        f"p99 {phase.ms(99):6.1f} ms  {len(phase.latencies):7,} requests  "
        f"non-{expected} {sum(others.values())}{' ' + str(others) if others else ''}  "
        f"clients' CPU {phase.client_cpu / phase.seconds:.0%} of a core\n"
        f"  {'':<28} CPU per request: gunicorn {phase.server_cpu / n * 1000:.1f} ms, "
        f"PostgreSQL {phase.db_cpu / n * 1000:.1f} ms, clients {phase.client_cpu / n * 1000:.1f} ms"
    )


def report(phases, seconds: float, charges: int, prepared: float, counts, county=None) -> int:
    """Print the figures and the verdicts; non-zero when an answer was wrong."""
    before, bill, after = phases["before"], phases["bill"], phases["after"]
    base = Phase(
        before.seconds + after.seconds,
        before.latencies + after.latencies,
        before.statuses + after.statuses,
        0,
        before.client_cpu + after.client_cpu,
        before.server_cpu + after.server_cpu,
        before.db_cpu + after.db_cpu,
    )
    pay_rps = (before.rps + after.rps) / 2
    ratio = bill.rps / pay_rps
    touching, reading, quick = counts
    accounts = county["accounts"] if county else ACCOUNTS
    print(
        f"portal on postgresql: {accounts:,} accounts ({charges} late fees), {SESSIONS:,} sessions, "
        f"{CLIENTS} clients, gunicorn {WORKERS} sync workers, {seconds:g} s per phase "
        f"(data ready in {prepared:.0f} s)"
    )
    print(line("GET /my/bill", bill))
    print(line("baseline GET /pay (before)", before))
    print(line("baseline GET /pay (after)", after))
    print(line("baseline GET /pay (both)", base))
    print(
        f"  SQL statements per bill page: {max(reading)} ({max(touching)} when it also writes the "
        f"session's last-seen time, at most once a minute); quick-pay form: {quick}"
    )
    met_ratio, met_p99 = ratio >= TARGET_RATIO, bill.ms(99) < TARGET_P99_MS
    print(
        f"  CPU per request, baseline / bill page: {base.cpu_per_request / bill.cpu_per_request:.1%} "
        f"(the req/s ratio if the machine did nothing else); with {CLIENTS} clients always "
        f"waiting, mean latency = {CLIENTS} / rate = {CLIENTS / bill.rps * 1000:.0f} ms for the bill page"
    )
    print(
        f"  ratio (req/s): {ratio:.1%}  target >= {TARGET_RATIO:.0%}: {'met' if met_ratio else 'NOT met'};"
        f"  bill p99 {bill.ms(99):.1f} ms  target < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met_p99 else 'NOT met'}"
    )
    failures = sum(v for p in (before, bill, after) for k, v in p.statuses.items() if k != 200)
    print(
        f"  answers: {failures} not 200; bill pages without their session's account number: "
        f"{bill.wrong_account}"
    )
    lookup = phases["lookup"]
    lookup_ratio = lookup.rps / pay_rps
    lookup_wrong = sum(v for k, v in lookup.statuses.items() if k != 303) + lookup.wrong_account
    met_lookup = lookup.ms(99) < TARGET_P99_MS
    print(line("POST /pay (quick-pay lookup)", lookup, expected=303))
    print(
        f"  lookup ratio (req/s): {lookup_ratio:.1%} of GET /pay;  lookup p99 {lookup.ms(99):.1f} ms"
        f"  target < {TARGET_P99_MS:.0f} ms: {'met' if met_lookup else 'NOT met'};  answers not "
        f"sent on to their bill: {lookup_wrong}"
    )
    if county:
        print(f"  {_county_target.size_text(county)}")
    _results.report(
        _county_target.label("portal quick-pay lookup", county)
        if county
        else "portal quick-pay lookup",
        figure=lookup.rps,
        unit="req/s",
        baseline=pay_rps,
        ratio=lookup_ratio,
        target=f"p99 < {TARGET_P99_MS:.0f} ms; every lookup sent on to its bill",
        checks={
            f"p99 < {TARGET_P99_MS:.0f} ms": met_lookup,
            "every lookup sent on to its bill": not lookup_wrong,
        },
        database="postgresql",
        notes={
            "what": f"POST /pay with an account number and its access code ({LOOKUPS:,} "
            "accounts), a new session each; baseline GET /pay",
            "p99": f"{lookup.ms(99):.1f} ms (baseline {base.ms(99):.1f} ms)",
            "CPU per request": f"gunicorn {lookup.server_cpu / len(lookup.latencies) * 1000:.1f} ms, "
            f"PostgreSQL {lookup.db_cpu / len(lookup.latencies) * 1000:.1f} ms",
        },
    )
    _results.report(
        _county_target.label("portal bill page", county) if county else "portal bill page",
        figure=bill.rps,
        unit="req/s",
        baseline=pay_rps,
        ratio=ratio,
        target=f">= {TARGET_RATIO:.0%} of GET /pay's req/s; p99 < {TARGET_P99_MS:.0f} ms; "
        "every answer right",
        checks={
            f"ratio >= {TARGET_RATIO:.0%}": met_ratio,
            f"p99 < {TARGET_P99_MS:.0f} ms": met_p99,
            "every answer right": not failures and not bill.wrong_account,
        },
        database="postgresql",
        notes={
            **({"county": _county_target.size_text(county)} if county else {}),
            "size": f"{accounts:,} accounts, {SESSIONS:,} sessions, {CLIENTS} clients, "
            f"gunicorn {WORKERS} sync workers, {seconds:g} s per phase",
            "p99": f"{bill.ms(99):.1f} ms (baseline {base.ms(99):.1f} ms)",
            "CPU per request ratio": f"{base.cpu_per_request / bill.cpu_per_request:.1%}",
            "answers": f"{failures} not 200, {bill.wrong_account} with a wrong account",
        },
    )
    return 1 if failures or bill.wrong_account or lookup_wrong else 0


def main() -> int:
    """Prepare, serve, load, check and print; non-zero when an answer was wrong."""
    template, argv = _county_target.county_option(sys.argv[1:])
    seconds = float(argv[0]) if argv else 15.0
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/munibill_bench_portal"
    )
    county = ids = None
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUNIBILL_INSTANCE_PATH"] = folder
        if template:
            url, county, ids, prepared = _county_target.prepared(template, url, SESSIONS)
            app, charges = billing_run.plain_app(url), county["penalty charges"]
        else:
            app, charges, prepared = prepare(url, folder)
        phases, pairs = measure(url, folder, app, seconds, ids)
        counts = statements(app, pairs[:5])
    return report(phases, seconds, charges, prepared, counts, county)


if __name__ == "__main__":
    sys.exit(main())
