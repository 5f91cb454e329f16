"""The county seed (bench/seed_county.py) makes a database the app's own functions agree with:
the chain verifies, the books balance, positions equal the invoices, stored balances equal
their settlements, and a payment settles on it as on any other (PostgreSQL only)."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import create_app
from core.audit import Actor
from core.extensions import db

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import seed_county  # noqa: E402

pytestmark = pytest.mark.postgres

ACCOUNTS, PARCELS = 300, 120
THROUGH = date(2026, 11, 30)
AS_OF = date(2026, 12, 1)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """300 accounts and 24 months seeded into a database of their own; dropped at the end."""
    server = os.environ["TEST_DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    name = f"county_seed_test_{uuid.uuid4().hex[:8]}"
    # NOTE: only for this module: the other tests of the worker keep their own instance folder.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUNIBILL_INSTANCE_PATH", str(tmp_path_factory.mktemp("county")))
        url = seed_county.fresh_database(server, name)
        figures = seed_county.seed(url, ACCOUNTS, PARCELS, 24, seed_value=7, last=THROUGH)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "c" * 40}}
        )
        yield app, figures, server, name
        with app.app_context():
            db.engine.dispose()
    engine = seed_county.server_engine(server)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def county_session(county):
    """A session on the seeded county; what a test writes is rolled back."""
    app = county[0]
    with app.app_context():
        yield db.session
        db.session.rollback()


def test_the_seed_makes_every_kind_of_history_the_brief_names(county):
    rows = county[1]["rows"]
    assert rows["account"] == ACCOUNTS and rows["parcel"] == PARCELS
    for table in (
        "invoice",
        "invoice_line",
        "invoice_installment",
        "invoice_charge",
        "settlement",
        "payment",
        "receipt",
        "refund",
        "journal_entry",
        "journal_line",
    ):
        assert rows[table] > 0, table
    assert county[1]["entries"] == rows["journal_entry"]


def test_the_seeded_chain_verifies_and_the_trial_balance_balances(county_session):
    from ledger.balances import trial_balance
    from ledger.verify import verify_chain

    report = verify_chain(county_session)
    assert report.ok, report.problem
    assert report.length == county_session.scalar(sa.text("SELECT count(*) FROM journal_entry"))
    books = trial_balance(county_session)
    assert books.total_debit_cents == books.total_credit_cents > 0


def test_every_position_equals_the_invoices_balances_and_the_ledger(county_session):
    from billing.position import positions
    from ledger.balances import accounts_receivable

    ids = list(range(1, ACCOUNTS + 1))
    owed_by_invoices = dict(
        county_session.execute(
            sa.text(
                "SELECT i.account_id, sum(i.balance_cents + coalesce(c.owed, 0)) FROM invoice i "
                "LEFT JOIN (SELECT invoice_id, sum(balance_cents) AS owed FROM invoice_charge "
                "GROUP BY invoice_id) c ON c.invoice_id = i.id GROUP BY i.account_id"
            )
        ).all()
    )
    found = positions(county_session, ids, AS_OF)
    ledger = accounts_receivable(county_session, ids)
    for account_id in ids:
        owed = found[account_id].owed_cents()
        assert owed == ledger[account_id] == int(owed_by_invoices.get(account_id, 0)), account_id
        assert found[account_id].credit_cents >= 0
    assert any(p.past_due_cents() for p in found.values()), "some accounts are delinquent now"


def test_stored_balances_equal_what_their_settlements_leave(county_session):
    recomputed = {
        "invoice": "SELECT count(*) FROM invoice i WHERE i.balance_cents <> i.total_cents - "
        "coalesce((SELECT sum(s.amount_cents) FROM settlement s WHERE s.invoice_id = i.id "
        "AND s.charge_id IS NULL), 0)",
        "installment": "SELECT count(*) FROM invoice_installment n WHERE n.balance_cents <> "
        "n.amount_cents - coalesce((SELECT sum(s.amount_cents) FROM settlement s WHERE "
        "s.invoice_id = n.invoice_id AND s.installment_number = n.number AND s.charge_id IS "
        "NULL), 0)",
        "charge": "SELECT count(*) FROM invoice_charge c WHERE c.balance_cents <> c.amount_cents"
        " - coalesce((SELECT sum(s.amount_cents) FROM settlement s WHERE s.charge_id = c.id), 0)",
        "paid status": "SELECT count(*) FROM invoice i WHERE (i.status = 'paid') <> "
        "(i.balance_cents = 0 AND NOT EXISTS (SELECT 1 FROM invoice_charge c WHERE "
        "c.invoice_id = i.id AND c.balance_cents > 0))",
    }
    for what, query in recomputed.items():
        assert county_session.scalar(sa.text(query)) == 0, what


def test_the_dashboard_aging_ties_to_the_ledgers_receivables(county_session):
    from console.reports import aging
    from ledger.balances import trial_balance
    from ledger.models import GLAccount, GLCategory

    receivable = set(
        county_session.scalars(
            sa.select(GLAccount.code).where(GLAccount.category == GLCategory.RECEIVABLE)
        )
    )
    books = trial_balance(county_session)
    assert aging(county_session, AS_OF).total_cents == sum(
        row.balance_cents for row in books.rows if row.code in receivable
    )


def test_a_counter_payment_settles_a_delinquent_account_through_the_app(county_session):
    from accounts.models import Account
    from billing.position import account_position, positions
    from ledger.verify import verify_chain
    from payments.counter import open_drawer, take_counter_payment
    from payments.models import CashDrawer, Tender
    from payments.services import PaymentRefused

    found = positions(county_session, range(1, ACCOUNTS + 1), AS_OF)
    late = next(a for a, p in sorted(found.items()) if p.past_due_cents())
    owed = found[late].owed_cents()
    clerk = Actor.system("clerk@county.example")
    # NOTE: the seed leaves this month's drawer of the counter clerk open, as the app keeps it.
    drawer = county_session.scalar(sa.select(CashDrawer).where(CashDrawer.closed_at.is_(None)))
    assert drawer is not None and drawer.opened_by == clerk.label
    with pytest.raises(PaymentRefused):
        open_drawer(county_session, clerk)
    receipt = take_counter_payment(
        county_session,
        clerk,
        drawer=drawer,
        account=county_session.get(Account, late),
        amount_cents=owed,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[],
        on=AS_OF,
    )
    assert receipt.balance_after_cents == 0
    assert account_position(county_session, late, AS_OF).owed_cents() == 0
    assert verify_chain(county_session).ok


def test_a_clone_of_the_template_holds_the_same_ledger(county):
    app, _figures, server, name = county
    with app.app_context():
        db.engine.dispose()
    copy = f"{name}_copy"
    url = seed_county.clone(name, copy, server)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            entries = connection.scalar(sa.text("SELECT count(*) FROM journal_entry"))
            head = connection.scalar(sa.text("SELECT length FROM ledger_head"))
        assert entries == head == county[1]["entries"]
    finally:
        engine.dispose()
        admin = seed_county.server_engine(server)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()


def test_the_auditors_ledger_export_of_the_county_verifies_from_the_file_alone(county, tmp_path):
    from ledger.export_verify import verify_export
    from ledger.exports import ExportRequest, write_export

    app = county[0]
    with app.app_context():
        manifest = write_export(db.engine, ExportRequest("ledger", "csv"), tmp_path / "gl.csv")
    report = verify_export(tmp_path / "gl.csv")
    assert report.ok, report.summary()
    assert manifest["rows"] == county[1]["rows"]["journal_line"]


def test_the_same_seed_builds_the_same_county(county):
    """Two builds with one seed end on the same ledger head: every row came out the same."""
    server = county[2]
    heads = []
    for attempt in range(2):
        name = f"{county[3]}_again{attempt}"
        url = seed_county.fresh_database(server, name)
        figures = seed_county.seed(url, 40, 15, 6, seed_value=3, last=THROUGH)
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            heads.append(
                (figures["rows"], connection.scalar(sa.text("SELECT head_hash FROM ledger_head")))
            )
        engine.dispose()
        admin = seed_county.server_engine(server)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert heads[0] == heads[1]
