"""The delinquent tax roll as of a date: the parcels past due then, each installment's unpaid
principal and its penalties and interest exactly as billing.position reads them, on the CSV and
the PDF alike; a day after today is refused with the reason."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from billing.position import TAX, account_position
from billing.tax_delinquency import LienError, delinquent_roll, roll_csv
from core.extensions import db
from core.money import format_cents
from tests.billing.lien_fixtures import ASSESSED, NOW, delinquent_town, pay

TODAY = date(2026, 12, 6)


@pytest.fixture(autouse=True)
def _on_the_day():
    """Today is December 6, 2026 in the town, whatever the real clock says."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def town(session):
    return delinquent_town(session)


def test_the_roll_lists_what_the_position_says_is_past_due_parcel_by_parcel(session, town):
    roll = delinquent_roll(session, ASSESSED, today=TODAY)
    by_parcel = roll.by_parcel()
    assert {lines[0].parcel_number for lines in by_parcel.values()} == {"P-100", "P-200", "P-300"}
    for number, account in town.items():
        position = account_position(session, account.id, ASSESSED)
        lines = [line for line in roll.lines if line.parcel_number == number]
        assert sum(line.total_cents for line in lines) == position.past_due_cents(TAX)
        charges = sum(
            c.owed_cents for c in position.of(TAX) if c.receivable.charges and c.past_due_cents
        )
        assert sum(line.charges_cents for line in lines) == charges
    first = by_parcel[town["P-100"].parcels[0].id][0]
    assert (first.tax_year, first.installment, first.due_date) == (2025, 1, date(2026, 1, 31))
    assert first.days_late == (ASSESSED - date(2026, 1, 31)).days
    assert first.charges_cents > 0 and first.owner == "Ada Berg"
    assert first.situs == "1 Oak St, Maple Falls 54901"


def test_a_roll_of_an_earlier_day_shows_that_day_and_not_the_later_charges(session, town):
    assert delinquent_roll(session, date(2026, 1, 31), today=TODAY).lines == ()
    early = delinquent_roll(session, date(2026, 2, 1), today=TODAY)
    assert early.parcel_count == 3 and early.charges_cents == 0
    later = delinquent_roll(session, ASSESSED, today=TODAY)
    assert later.charges_cents > 0 and later.principal_cents == early.principal_cents


def test_a_parcel_paid_in_full_leaves_the_roll_from_the_day_it_paid(session, town):
    account = town["P-100"]
    owed = account_position(session, account.id, date(2026, 4, 1)).past_due_cents(TAX)
    pay(session, account, owed, date(2026, 4, 1))
    numbers = {
        line.parcel_number for line in delinquent_roll(session, date(2026, 4, 2), today=TODAY).lines
    }
    assert "P-100" not in numbers
    before = delinquent_roll(session, date(2026, 3, 31), today=TODAY)
    assert "P-100" in {line.parcel_number for line in before.lines}


def test_a_roll_for_a_day_after_today_is_refused_with_the_reason(session, town):
    with pytest.raises(LienError, match="after today"):
        delinquent_roll(session, date(2026, 12, 7), today=TODAY)


def test_the_csv_rows_and_total_are_the_rolls_figures(session, town):
    roll = delinquent_roll(session, ASSESSED, today=TODAY)
    rows = list(csv.DictReader(io.StringIO(roll_csv(roll))))
    *lines, total = rows
    assert len(lines) == len(roll.lines)
    cents = sum(int(Decimal(row["total"]) * 100) for row in lines)
    assert cents == roll.total_cents
    assert total["parcel_number"] == "TOTAL"
    assert total["total"] == format_cents(roll.total_cents, symbol="").replace(",", "")


def test_the_cli_writes_the_csv_and_a_pdf_whose_totals_read_back(app, runner, tmp_path):
    with app.app_context():
        delinquent_town(db.session)
        db.session.commit()
        roll = delinquent_roll(db.session, ASSESSED, today=TODAY)
    pdf, sheet = tmp_path / "roll.pdf", tmp_path / "roll.csv"
    result = runner.invoke(
        args=["tax", "delinquent-roll", "--as-of", "2026-03-15", "--csv", sheet, "--pdf", pdf]
    )
    assert result.exit_code == 0, result.output
    assert f"total {format_cents(roll.total_cents)}" in result.output
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Delinquent property tax roll" in text and "As of March 15, 2026" in text
    for line in roll.lines:
        assert line.parcel_number in text
        assert format_cents(line.total_cents) in text
    assert "Total: 3 parcels" in text and format_cents(roll.total_cents) in text
    assert sheet.read_text().startswith("parcel_number,owner,situs")
    refused = runner.invoke(args=["tax", "delinquent-roll", "--as-of", "2099-01-01"])
    assert refused.exit_code != 0 and "after today" in refused.output


def test_the_api_answers_the_roll_as_json_and_csv_and_refuses_a_later_day(app, client, api_headers):
    with app.app_context():
        delinquent_town(db.session)
        db.session.commit()
        roll = delinquent_roll(db.session, ASSESSED, today=TODAY)
    headers = api_headers("auditor")
    answer = client.get("/api/v1/tax/delinquent-roll?as_of=2026-03-15", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.get_json()
    assert body["total_cents"] == roll.total_cents and body["parcel_count"] == 3
    assert [line["parcel_number"] for line in body["lines"]] == [
        line.parcel_number for line in roll.lines
    ]
    sheet = client.get("/api/v1/tax/delinquent-roll?as_of=2026-03-15&format=csv", headers=headers)
    assert sheet.mimetype == "text/csv" and sheet.text == roll_csv(roll)
    later = client.get("/api/v1/tax/delinquent-roll?as_of=2099-01-01", headers=headers)
    assert later.status_code == 422 and "after today" in later.text
