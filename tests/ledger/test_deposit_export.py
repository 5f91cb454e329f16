"""The auditors' deposits register export: every movement with the entry that booked it; its
signed amounts add up to the deposits-held GL balance, and its cells are formula-safe."""

from __future__ import annotations

import csv
from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.deposits import apply_to_final_bill, hold_deposit
from billing.models import Invoice
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import gl_balance
from ledger.deposit_register import register_tie
from ledger.posting import credit, debit, post_entry
from tests.billing.billing_fixtures import bill_households
from tests.ledger.test_exports import cents, export, read_back

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def deposits(app):
    """Two households with deposits; the first's is applied to its bill (Nov 2, 2026)."""
    billed = bill_households(app, "Ada Quist", "Ben Ortiz")
    with app.app_context():
        for number, cents_held, reference in (
            (billed[0].number, 5000, "R-1"),
            (billed[1].number, 15000, FORMULA),
        ):
            account = db.session.scalar(sa.select(Account).where(Account.number == number))
            hold_deposit(
                db.session,
                CLERK,
                account_id=account.id,
                amount_cents=cents_held,
                held_since=date(2026, 3, 1),
                offset_gl_code=chart.CASH_DRAWER,
                source="counter",
                reference=reference,
            )
        first = db.session.scalar(
            sa.select(Invoice).join(Account).where(Account.number == billed[0].number)
        )
        apply_to_final_bill(db.session, CLERK, first.id)
        db.session.commit()
    return billed


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "jsonl"])
def test_the_register_export_adds_up_to_the_deposits_held_account(
    app, deposits, tmp_path, file_format
):
    path, manifest = export(app, tmp_path, "deposits", file_format)
    rows = read_back(path, file_format)
    assert manifest["rows"] == len(rows) == 3  # held, held, applied
    assert [r["kind"] for r in rows] == ["held", "held", "applied"]
    with app.app_context():
        assert sum(cents(r["signed_cents"]) for r in rows) == gl_balance(
            db.session, chart.DEPOSITS_HELD
        )
        assert register_tie(db.session).register_cents == 15000
    assert {r["account_number"] for r in rows} == {b.number for b in deposits}
    assert all(cents(r["entry_seq"]) > 0 for r in rows)


def test_a_reference_a_spreadsheet_would_run_is_written_as_text(app, deposits, tmp_path):
    path, _manifest = export(app, tmp_path, "deposits", "csv")
    with open(path, newline="", encoding="utf-8") as stream:
        references = [row["reference"] for row in csv.DictReader(stream)]
    assert "'" + FORMULA in references and FORMULA not in references


def test_the_period_filter_picks_the_movements_of_the_days_asked(app, deposits, tmp_path):
    path, _manifest = export(
        app, tmp_path, "deposits", "csv", date_from=date(2026, 11, 1), date_to=date(2026, 11, 30)
    )
    rows = read_back(path, "csv")
    assert [(r["kind"], cents(r["signed_cents"])) for r in rows] == [("applied", -5000)]


def test_ledger_verify_states_that_the_register_ties_and_fails_when_it_does_not(
    app, deposits, runner
):
    checked = runner.invoke(args=["ledger", "verify"])
    assert checked.exit_code == 0, checked.output
    assert "OK: deposit register $150.00 (1 held), GL 2020 Deposits held $150.00" in checked.output
    with app.app_context():
        # money booked to the deposits account with no deposit in the register
        post_entry(
            db.session,
            [debit(chart.CASH_DRAWER, 2500), credit(chart.DEPOSITS_HELD, 2500)],
            entry_date=date(2026, 11, 30),
            source_type="adjustment",
            source_id=None,
            actor=CLERK,
            memo="booked by hand",
        )
        db.session.commit()
    checked = runner.invoke(args=["ledger", "verify"])
    assert checked.exit_code == 1
    assert "FAILED: deposit register $150.00 (1 held), GL 2020 Deposits held $175.00" in (
        checked.output
    )
