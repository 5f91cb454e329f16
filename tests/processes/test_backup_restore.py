"""The tested restore of docs/deployment.md: pg_dump a database with a posted ledger, restore it
into a new database, and the restored ledger verifies, ends where the source's ends, and takes
the next posting.
"""

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.services import find_account
from core import create_app
from core.audit import Actor
from core.extensions import db
from ledger.models import JournalEntry, LedgerHead
from ledger.verify import verify_chain
from payments.counter import open_drawer, take_counter_payment
from payments.models import Tender
from tests.billing.billing_fixtures import bill_households
from tests.conftest import app_settings

MUNIBILL = str(Path(sys.executable).parent / "munibill")
CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
#: A second clerk, at the counter after the restore (the first one's drawer is still open).
NEXT_CLERK = Actor("user", "2", "clerk2@example.org", "127.0.0.1")
DAY = date(2026, 11, 20)


def _libpq_url(url: sa.URL, database: str | None = None) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    url = url.set(drivername="postgresql", database=database or url.database)
    return url.render_as_string(hide_password=False)


def _cash(session, clerk: Actor, number: str, cents: int) -> None:
    """A clerk takes cash for an account at the counter (posted to the ledger)."""
    drawer = open_drawer(session, clerk)
    take_counter_payment(
        session,
        clerk,
        drawer=drawer,
        account=find_account(session, number),
        amount_cents=cents,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[],
        on=DAY,
    )


def _ledger_end(session) -> tuple[int, str, int, str]:
    """The chain's length and head as walked, and as the ledger head row records them."""
    report = verify_chain(session)
    assert report.ok, report.problem
    head = session.execute(sa.select(LedgerHead.length, LedgerHead.head_hash)).one()
    return report.length, report.head_hash, head.length, head.head_hash


@pytest.mark.postgres
@pytest.mark.slow
def test_a_restored_dump_verifies_ends_at_the_same_head_and_takes_the_next_posting(
    app, database_url, tmp_path
):
    billed = bill_households(app, "olson", "berg", "lund")
    with app.app_context():
        _cash(db.session, CLERK, billed[0].number, billed[0].owed_cents)
        db.session.commit()
        source_end = _ledger_end(db.session)
    assert source_end[0] == len(billed) + 1  # three bills and one payment

    source = sa.make_url(database_url)
    dump = tmp_path / "munibill.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={_libpq_url(source)}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    restored = f"{source.database}_restored_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(source, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{restored}"'))
    restored_app = None
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={_libpq_url(source, restored)}",
                str(dump),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
        env |= {
            "DATABASE_URL": _libpq_url(source, restored),
            "MUNIBILL_DOTENV": os.devnull,
            "SECRET_KEY": "s" * 40,
            "MUNIBILL_INSTANCE_PATH": str(tmp_path / "instance"),
        }
        verified = subprocess.run(
            [MUNIBILL, "ledger", "verify", "--no-checkpoint"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.splitlines() == [
            f"OK: {source_end[0]} entries, head {source_end[1]}",
            "OK: deposit register $0.00 (0 held), GL 2020 Deposits held $0.00",
        ]

        restored_url = source.set(database=restored).render_as_string(hide_password=False)
        restored_app = create_app(app_settings(restored_url, tmp_path / "instance"))
        with restored_app.app_context():
            assert _ledger_end(db.session) == source_end
            # The restored database is a working one: its sequences and the chain go on.
            _cash(db.session, NEXT_CLERK, billed[1].number, billed[1].owed_cents)
            db.session.commit()
            length, head, recorded_length, recorded_head = _ledger_end(db.session)
            assert (length, head) == (recorded_length, recorded_head)
            assert length == source_end[0] + 1
            newest = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == length))
            assert newest.prev_hash == source_end[1] and newest.source_type == "payment"
    finally:
        if restored_app is not None:
            with restored_app.app_context():
                db.session.remove()
                db.engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)'))
        admin.dispose()
    with app.app_context():
        assert _ledger_end(db.session) == source_end  # the source did not move
