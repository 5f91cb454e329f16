"""With DATABASE_REPLICA_URL set, the auditors' exports and the dashboard read from a real
streaming replica (a primary and its hot standby started on this machine), and a write sent
through the read-only session fails instead of landing anywhere."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import Account
from core import create_app
from core.audit import Actor
from core.extensions import db
from core.replica import READ_ONLY_OPTIONS, read_engine, read_session, replica_engine
from ledger import chart
from ledger.models import GLAccount, JournalEntry
from ledger.posting import credit, debit, post_entry
from payments.models import Channel, Tender
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import bill_households
from tests.conftest import app_settings, reset_database, sign_in
from tests.private_postgres import postgres_bin
from tests.streaming_replica import streaming_replica

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

JOB = Actor.job("test")
PAID_ON = date(2026, 11, 20)


@pytest.fixture(scope="module")
def clusters(database_url, reference_rows):
    """A primary holding the migrated test database and its streaming replica, caught up."""
    if postgres_bin() is None:
        pytest.skip(
            "needs the PostgreSQL server programs (initdb, pg_ctl): under /usr/lib/postgresql"
        )
    with streaming_replica(database_url) as running:
        yield running


@pytest.fixture
def app(clusters, reference_rows, instance, monkeypatch):
    """The app on the primary, with DATABASE_REPLICA_URL naming its replica."""
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(instance))
    settings = app_settings(clusters.primary_url, instance)
    settings["ENV"]["DATABASE_REPLICA_URL"] = clusters.replica_url
    app = create_app(settings)
    yield app
    clusters.resume_replay()
    # NOTE: the replica's connections go first: replaying TRUNCATE waits for their locks.
    replica_engine(app).dispose()
    with app.app_context():
        db.session.remove()
        reset_database(db.engine, reference_rows)
        db.engine.dispose()
    clusters.wait_for_catch_up()


def adjust(cents: int) -> None:
    """One journal entry on the primary, committed."""
    post_entry(
        db.session,
        [debit(chart.CASH_DRAWER, cents), credit("4010", cents)],
        entry_date=PAID_ON,
        source_type="adjustment",
        source_id=None,
        actor=JOB,
        memo="counted again",
    )
    db.session.commit()


def pay_and_settle(number: str, cents: int) -> None:
    """A card payment that Stripe confirmed and the webhook settled, on the primary."""
    account = db.session.scalar(sa.select(Account).where(Account.number == number))
    payment = record_payment(
        db.session,
        JOB,
        account=account,
        amount_cents=cents,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    settle_payment(db.session, JOB, payment, on=PAID_ON, cash_gl=chart.STRIPE_CLEARING)
    db.session.commit()


def test_the_read_session_is_on_the_replica_and_a_write_through_it_fails(app):
    with app.app_context():
        session = read_session()
        assert session is not db.session
        assert session.scalar(sa.text("SELECT pg_is_in_recovery()")) is True
        assert db.session.scalar(sa.text("SELECT pg_is_in_recovery()")) is False
        assert session.scalar(sa.text("SHOW default_transaction_read_only")) == "on"
        assert read_engine() is replica_engine(app)
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            session.execute(sa.update(GLAccount).values(name=GLAccount.name))
        session.rollback()


def test_the_read_only_connections_refuse_writes_even_on_a_primary(app, clusters):
    # NOTE: a replica URL pointed at the primary by mistake must not become a second way in.
    engine = sa.create_engine(
        clusters.primary_url, connect_args={"options": READ_ONLY_OPTIONS}, poolclass=sa.NullPool
    )
    try:
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT pg_is_in_recovery()")) is False
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                connection.execute(sa.update(GLAccount.__table__).values(name="changed"))
    finally:
        engine.dispose()


def ledger_length(client, headers) -> int:
    """The chain length the ledger export says it holds (read before the first byte)."""
    response = client.get("/api/v1/exports/ledger", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.headers["X-Ledger-Length"])


def test_the_exports_are_read_from_the_replica(
    app, client, api_headers, runner, clusters, tmp_path
):
    auditor = api_headers("auditor")
    with app.app_context():
        adjust(500)
    clusters.wait_for_catch_up()
    assert ledger_length(client, auditor) == 1

    clusters.pause_replay()
    with app.app_context():
        adjust(700)
        assert db.session.scalar(sa.select(sa.func.count(JournalEntry.id))) == 2
    clusters.wait_for_receipt()
    # The replica has the second entry but has not applied it: the exports do not show it.
    assert ledger_length(client, auditor) == 1
    out = Path(tmp_path) / "ledger.csv"
    result = runner.invoke(args=["export", "ledger", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ledger length 1" in result.output

    clusters.resume_replay()
    clusters.wait_for_catch_up()
    assert ledger_length(client, auditor) == 2
    result = runner.invoke(args=["export", "ledger", "--out", str(out)])
    assert "ledger length 2" in result.output


def test_the_dashboard_reads_from_the_replica_and_says_how_far_behind_it_is(
    app, client, make_staff, clusters
):
    billed = bill_households(app, "Ada Quist")
    assert sign_in(client, make_staff("clerk")).status_code == 302
    clusters.wait_for_catch_up()
    page = client.get(f"/staff/dashboard?as_of={PAID_ON}").text
    assert "Read from the reporting replica" in page

    clusters.pause_replay()
    with app.app_context():
        pay_and_settle(billed[0].number, 1234)
    clusters.wait_for_receipt()
    page = client.get(f"/staff/dashboard?as_of={PAID_ON}").text
    assert "$12.34" not in page
    assert "may not show yet" in page

    clusters.resume_replay()
    clusters.wait_for_catch_up()
    page = client.get(f"/staff/dashboard?as_of={PAID_ON}").text
    assert "$12.34" in page
