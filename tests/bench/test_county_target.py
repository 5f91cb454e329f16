"""The county variants of the benchmarks (bench/_county_target.py): the billing run's posts the
monthly cycle's next period for every monthly account of a copy of the county seed, and the
accounts the webhook variant pays are those that owe, for what they owe (PostgreSQL only)."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from billing.position import positions
from core.extensions import db

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _county_target  # noqa: E402
import billing_run  # noqa: E402
import seed_county  # noqa: E402

pytestmark = pytest.mark.postgres

ACCOUNTS, PARCELS, MONTHS = 60, 20, 3
THROUGH = date(2026, 11, 30)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A small county template and the server's URL; both databases dropped at the end."""
    server = os.environ["TEST_DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    name = f"county_target_test_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("county_target")
        patch.setenv("MUNIBILL_INSTANCE_PATH", str(folder))
        url = seed_county.fresh_database(server, name)
        seed_county.seed(url, ACCOUNTS, PARCELS, MONTHS, seed_value=3, last=THROUGH)
        sa.create_engine(url).dispose()
        yield name, server, folder
    engine = seed_county.server_engine(server)
    with engine.connect() as connection:
        for database in (name, f"{name}_copy"):
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    engine.dispose()


def copy_url(server: str, name: str) -> str:
    """The URL of the template's copy on the same server."""
    return sa.make_url(server).set(database=f"{name}_copy").render_as_string(hide_password=False)


def test_the_billing_run_variant_bills_each_monthly_account_once_for_the_next_period(template):
    name, server, folder = template
    url = copy_url(server, name)
    start, end, _bill, _due = _county_target.next_monthly_period(
        _county_target.county_url(name, url)
    )
    assert (start, end) == (date(2026, 11, 1), date(2026, 11, 30))

    app, before, _seconds, _peak, county = billing_run.county_run(url, str(folder), name)
    assert county["accounts"] == ACCOUNTS and county["journal lines"] > 0
    rows = billing_run.written_rows(app, before)
    with app.app_context():
        monthly = set(
            db.session.scalars(
                sa.text(
                    "SELECT id FROM account WHERE billing_cycle_id IS NULL OR billing_cycle_id "
                    "IN (SELECT id FROM billing_cycle WHERE is_default)"
                )
            )
        )
        db.session.remove()
    billed = [(r["account_id"], r["period_start"], r["period_end"]) for r in rows["invoice"]]
    assert sorted(a for a, _s, _e in billed) == sorted(monthly)
    assert {(s, e) for _a, s, e in billed} == {(start, end)}
    assert rows["journal_entry"] and rows["journal_line"] and rows["invoice_line"]

    # The baseline takes the run's rows off and writes the same rows again.
    billing_run.baseline(app, rows, before)
    assert billing_run.written_rows(app, before) == rows
    with app.app_context():
        db.engine.dispose()


def test_the_webhook_variant_pays_accounts_that_owe_what_they_owe(template):
    name, server, _folder = template
    url = _county_target.county_url(name, copy_url(server, name))
    app = billing_run.plain_app(url)
    with app.app_context():
        owing = _county_target.owing_accounts(db.session, 10, THROUGH)
        assert owing
        found = positions(db.session, list(owing), THROUGH)
        for account_id, (cents, invoices) in owing.items():
            assert cents == found[account_id].owed_cents() > 0
            assert invoices == sorted(i for i, c in found[account_id].by_invoice.items() if c > 0)
        db.session.remove()
        db.engine.dispose()
