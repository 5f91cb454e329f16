"""The staff's delinquent tax pages: the roll as of a day a page at a time with its CSV and PDF,
a later day refused with the reason, the sale list certified once from the liens page, and the
lien shown on the account page."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest
import time_machine

from billing.liens import certify_sale, find_lien
from billing.tax_delinquency import delinquent_roll
from core.extensions import db
from core.money import format_cents
from tests.billing.lien_fixtures import ASSESSED, CLERK, NOW, delinquent_town
from tests.conftest import csrf_token


@pytest.fixture(autouse=True)
def _on_the_day():
    """Today is December 6, 2026 in the town, whatever the real clock says."""
    with time_machine.travel(NOW, tick=True):
        yield


def _town(app):
    with app.app_context():
        owners = delinquent_town(db.session)
        db.session.commit()
        roll = delinquent_roll(db.session, ASSESSED, today=date(2026, 12, 6))
        return {number: account.number for number, account in owners.items()}, roll


def test_the_roll_page_shows_the_rolls_lines_and_totals_and_its_files(app, signed_in, tmp_path):
    _numbers, roll = _town(app)
    client = signed_in("auditor")
    page = client.get("/staff/tax/delinquent-roll?as_of=2026-03-15")
    assert page.status_code == 200
    assert "3 parcels delinquent as of March 15, 2026" in page.text
    assert f"total {format_cents(roll.total_cents)}" in page.text
    for line in roll.lines:
        assert line.parcel_number in page.text
    sheet = client.get("/staff/tax/delinquent-roll.csv?as_of=2026-03-15")
    assert sheet.mimetype == "text/csv" and "TOTAL" in sheet.text
    pdf = client.get("/staff/tax/delinquent-roll.pdf?as_of=2026-03-15")
    path = tmp_path / "roll.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert format_cents(roll.total_cents) in text
    later = client.get("/staff/tax/delinquent-roll?as_of=2099-01-01")
    assert later.status_code == 422 and "after today" in later.text


def test_a_clerk_certifies_the_sale_once_and_the_account_page_shows_the_lien(app, signed_in):
    numbers, _roll = _town(app)
    client = signed_in("clerk")
    page = client.get("/staff/tax/liens?sale_date=2027-01-15")
    assert page.status_code == 200
    assert "P-300: exemption senior-deferral keeps it off the sale" in page.text
    data = {"csrf_token": csrf_token(page.text), "sale_date": "2027-01-15"}
    made = client.post("/staff/tax/liens", data=data)
    assert made.status_code == 303
    listed = client.get("/staff/tax/liens").text
    assert "LS-2027-01-15" in listed and "under lien" in listed
    again = client.post("/staff/tax/liens", data=data)
    assert again.status_code == 422 and "already certified" in again.text
    early = client.get("/staff/tax/liens?sale_date=2026-03-01")
    assert early.status_code == 422 and "before the rule allows" in early.text
    account = client.get(f"/staff/accounts/{numbers['P-100']}").text
    assert "Under tax lien: parcel P-100 was on sale list LS-2027-01-15" in account
    assert "cannot be paid online" in account
    assert "Under tax lien" not in client.get(f"/staff/accounts/{numbers['P-300']}").text


def test_a_supervisor_cancels_a_lien_with_the_reason_and_a_clerk_cannot(app, signed_in):
    numbers, _roll = _town(app)
    with app.app_context():
        certify_sale(db.session, CLERK, date(2027, 1, 15), today=date(2026, 12, 6))
        db.session.commit()
        lien_id = find_lien(db.session, "LS-2027-01-15", "P-100").id
    clerk = signed_in("clerk")
    page = clerk.get("/staff/tax/liens")
    assert "Cancel the lien on P-100" not in page.text
    data = {"csrf_token": csrf_token(page.text), "reason": "sold in error"}
    assert clerk.post(f"/staff/tax/liens/{lien_id}/cancel", data=data).status_code == 403
    supervisor = signed_in("supervisor")
    page = supervisor.get("/staff/tax/liens")
    assert "Cancel the lien on P-100" in page.text
    token = csrf_token(page.text)
    empty = supervisor.post(f"/staff/tax/liens/{lien_id}/cancel", data={"csrf_token": token})
    assert empty.status_code == 422 and "say why the lien is cancelled" in empty.text
    done = supervisor.post(
        f"/staff/tax/liens/{lien_id}/cancel", data={"csrf_token": token, "reason": "sold in error"}
    )
    assert done.status_code == 303
    listed = supervisor.get("/staff/tax/liens").text
    assert "cancelled on 2026-12-06 by" in listed and "sold in error" in listed
    assert "Cancel the lien on P-100" not in listed
    assert "Under tax lien" not in supervisor.get(f"/staff/accounts/{numbers['P-100']}").text
