"""A billing run killed with SIGKILL between batches, then rerun, posts exactly what one run would."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.drafts import utility_batch, utility_context
from billing.invoices import invoices_not_matching_lines
from billing.models import Invoice
from core.extensions import db
from ledger.balances import trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from tests.billing.billing_fixtures import household, load_rules

MUNIBILL = str(Path(sys.executable).parent / "munibill")
HOUSEHOLDS = 60
BATCH = 10
RUN = [
    "billing",
    "run",
    "--kind",
    "utility",
    "--cycle",
    "2026-10",
    "--issue-date",
    "2026-11-02",
    "--due-date",
    "2026-11-23",
]


def _env(database_url: str, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "MUNIBILL_DOTENV": os.devnull,
            "SECRET_KEY": "s" * 40,
            "MUNIBILL_INSTANCE_PATH": str(instance),
            "BILLING_BATCH_SIZE": str(BATCH),
        }
    )
    return env


def _expected(session) -> dict[str, list[int]]:
    """What an uninterrupted run posts: the same drafts the run computes, per account."""
    ctx = utility_context(
        session,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        rounding="half_up",
        spike_multiple=Decimal(3),
    )
    batch = utility_batch(session, session.scalars(sa.select(Account)).all(), ctx)
    return {d.account_number: [line.amount_cents for line in d.lines] for d in batch.drafts}


def _posted(session) -> dict[str, list[int]]:
    invoices = session.scalars(sa.select(Invoice)).all()
    return {i.account.number: [line.amount_cents for line in i.lines] for i in invoices}


@pytest.mark.slow
def test_a_run_killed_between_batches_and_rerun_matches_an_uninterrupted_run(
    app, database_url, instance
):
    with app.app_context():
        plans = load_rules(db.session)
        for n in range(HOUSEHOLDS):
            household(
                db.session,
                plans,
                f"h{n:03d}",
                [1000, 5000 + n, 9000 + 2 * n, 13000 + 3 * n, 18400 + 97 * n],
            )
        db.session.commit()
        expected = _expected(db.session)
    assert len(expected) == HOUSEHOLDS
    env = _env(database_url, instance)
    process = subprocess.Popen(
        [MUNIBILL, *RUN, "--throttle", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = sa.create_engine(database_url)
    deadline = time.monotonic() + 60
    posted = 0
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect() as connection:
            posted = connection.execute(sa.text("SELECT count(*) FROM invoice")).scalar_one()
        if posted >= 2 * BATCH:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with engine.connect() as connection:
        killed_at = connection.execute(sa.text("SELECT count(*) FROM invoice")).scalar_one()
    engine.dispose()
    assert BATCH <= killed_at < HOUSEHOLDS and killed_at % BATCH == 0  # whole batches only
    with app.app_context():
        assert verify_chain(db.session).ok
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == killed_at

    rerun = subprocess.run([MUNIBILL, *RUN], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{killed_at} already billed" in rerun.stdout
    with app.app_context():
        session = db.session
        assert _posted(session) == expected
        numbers = session.scalars(sa.select(Invoice.number).order_by(Invoice.number)).all()
        assert numbers == [f"2026-{n:06d}" for n in range(1, HOUSEHOLDS + 1)]
        assert verify_chain(session).length == HOUSEHOLDS
        assert invoices_not_matching_lines(session) == []
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents
