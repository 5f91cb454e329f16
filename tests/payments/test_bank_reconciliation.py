"""The bank reconciliation as of a statement date: the bank's balance, brought forward by the
deposits in transit, the receipts not yet on a statement and the unmatched lines, equals the
books' 1000 Bank and 1050 Deposits in transit; as a page, a PDF and a command."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from core.money import format_cents
from ledger import chart
from ledger.balances import gl_balance
from notices.bank_reconciliation import render_reconciliation
from payments.bank_deposits import confirm_at_bank
from payments.bank_reconciliation import NoStatement, reconcile, reconciliation_lines
from payments.bank_statements import import_statement
from payments.models import ReconciliationItem
from payments.webhooks import post_payout
from tests.conftest import csrf_token
from tests.payments.bank_files import CREDIT_CODE, DEBIT_CODE, FEE_CODE, bai2_statement
from tests.payments.test_bank_statements import BANK_DAY, RULE, STRIPE, deposit_of
from tests.payments.test_counter_refunds import CLERK, DAY, _billed

OTHER = Actor("user", "9", "second@example.org", None)


def _a_day_at_the_bank(session, opening: int = 0):
    """Two deposits (one reaches the bank), two payouts (one on the statement), a fee, a stray
    credit and a returned item; returns the statement's bytes and the deposit still in transit."""
    account = _billed(session)
    banked = deposit_of(session, account, 2500)
    in_transit = deposit_of(session, account, 1800, OTHER)
    post_payout(session, STRIPE, "po_OnStatement1", 43210, BANK_DAY)
    post_payout(session, STRIPE, "po_NotYetSeen22", 5000, BANK_DAY)
    data = bai2_statement(
        [
            (2500, CREDIT_CODE, banked.number, "DEPOSIT"),
            (43210, "165", "", "STRIPE TRANSFER"),
            (-1500, FEE_CODE, "", "MONTHLY SERVICE CHARGE"),
            (777, "195", "", "INCOMING WIRE"),
            (-300, DEBIT_CODE, "", "RETURNED ITEM"),
        ],
        day=BANK_DAY,
        opening=opening,
    )
    import_statement(session, CLERK, data, filename="nov11.bai", fee_rule=RULE)
    return in_transit


def test_a_statement_day_reconciles_to_the_books_item_by_item(session):
    in_transit = _a_day_at_the_bank(session)
    rec = reconcile(session, BANK_DAY)
    assert rec.bank_cents == 2500 + 43210 - 1500 + 777 - 300
    assert [(i.label, i.cents) for i in rec.in_transit] == [(f"Deposit {in_transit.number}", 1800)]
    assert [(i.label, i.cents) for i in rec.receipts] == [("Payout po_NotYetSeen22", 5000)]
    assert rec.outstanding == ()
    assert sorted(i.cents for i in rec.unmatched) == [-300, 777]
    assert rec.book_bank_cents == gl_balance(session, chart.BANK, BANK_DAY) == 49210
    assert rec.book_in_transit_cents == gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 1800
    assert rec.adjusted_bank_cents == rec.book_cents == 51010
    assert rec.difference_cents == 0


def test_an_opening_balance_the_books_do_not_know_shows_as_the_difference(session):
    _a_day_at_the_bank(session, opening=12345)
    assert reconcile(session, BANK_DAY).difference_cents == 12345


def test_a_later_date_uses_the_newest_statement_and_the_books_of_that_date(session):
    in_transit = _a_day_at_the_bank(session)
    later = BANK_DAY + timedelta(days=3)
    rec = reconcile(session, later)
    assert rec.statement_date == BANK_DAY and rec.as_of == later
    assert rec.difference_cents == 0
    with pytest.raises(NoStatement):
        reconcile(session, DAY)
    nxt = bai2_statement(
        [(1800, CREDIT_CODE, "", "DEPOSIT")], day=later, opening=rec.bank_cents, file_id="2"
    )
    import_statement(session, CLERK, nxt, filename="nov14.bai", fee_rule=RULE)
    after = reconcile(session, later)
    assert after.in_transit == () and after.difference_cents == 0
    assert in_transit.number not in {i.label for i in after.in_transit}
    assert reconcile(session, BANK_DAY).in_transit[0].label == f"Deposit {in_transit.number}"


def _pdf_text(data: bytes, tmp_path) -> str:
    """The PDF's text as pdftotext reads it (layout kept)."""
    path = tmp_path / "rec.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_pdf_prints_every_figure_of_the_computation(session, tmp_path):
    _a_day_at_the_bank(session)
    rec = reconcile(session, BANK_DAY)
    text = _pdf_text(render_reconciliation(rec, "Town of Example"), tmp_path)
    rows = [" ".join(row.split()) for row in text.splitlines()]
    for line in reconciliation_lines(rec):
        wanted = " ".join(f"{line.words} {format_cents(line.cents)}".split())
        assert wanted in rows, wanted
    figures = {
        "Bank balance per statement": rec.bank_cents,
        "Deposits in transit (1)": 1800,
        "Receipts in the books not on a statement (1)": 5000,
        "Unmatched statement lines (2)": 477,
        "Adjusted bank balance": 51010,
        "Book balance": 51010,
        "Difference": 0,
    }
    for words, cents in figures.items():
        assert re.search(rf"{re.escape(words)}.*\s{re.escape(format_cents(cents))}$", text, re.M)
    assert "Reconciled." in text


def test_the_page_and_the_pdf_for_the_auditor(app, signed_in, tmp_path):
    with app.app_context():
        _a_day_at_the_bank(db.session)
        db.session.commit()
    auditor = signed_in("auditor")
    page = auditor.get(f"/staff/bank/reconciliation?date={BANK_DAY}")
    assert page.status_code == 200
    assert "Reconciled: the difference is zero." in page.text and "$510.10" in page.text
    assert auditor.get("/staff/bank/reconciliation?date=nope").status_code == 422
    assert auditor.get(f"/staff/bank/reconciliation?date={DAY}").status_code == 404
    pdf = auditor.get(f"/staff/bank/reconciliation.pdf?date={BANK_DAY}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "Difference" in _pdf_text(pdf.data, tmp_path)
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "bank_reconciliation.pdf")
        )
    listing = auditor.get("/staff/bank/")
    assert "nov11.bai" in listing.text and "Import the statement" not in listing.text


def test_a_clerk_imports_a_statement_and_a_refused_file_says_why(app, signed_in):
    clerk = signed_in("clerk")
    page = clerk.get("/staff/bank/").text
    data = bai2_statement([(900, CREDIT_CODE, "", "WIRE")], day=BANK_DAY)
    done = clerk.post(
        "/staff/bank/",
        data={
            "csrf_token": csrf_token(page),
            "layout": "bai2",
            "file": (io.BytesIO(data), "a.bai"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 303
    assert "1 in the reconciliation queue" in clerk.get("/staff/bank/").text
    again = clerk.post(
        "/staff/bank/",
        data={
            "csrf_token": csrf_token(page),
            "layout": "bai2",
            "file": (io.BytesIO(data), "b.bai"),
        },
        content_type="multipart/form-data",
    )
    assert again.status_code == 422 and "was imported already" in again.text
    queue = clerk.get("/staff/reconciliation/")
    assert queue.status_code == 200 and "BS-" in queue.text
    with app.app_context():
        item_id = db.session.scalar(sa.select(ReconciliationItem.id))
    item = clerk.get(f"/staff/reconciliation/{item_id}")
    assert "The bank's statement" in item.text and "Stripe's record" not in item.text
    assert "WIRE" in item.text and "no deposit or payout in the books" in item.text


def test_the_commands_import_and_reconcile(app, runner, tmp_path):
    path = tmp_path / "nov11.bai"
    path.write_bytes(bai2_statement([(-1200, FEE_CODE, "", "SERVICE CHARGE")], day=BANK_DAY))
    done = runner.invoke(args=["bank", "import", str(path), "--by", "clerk@example.org"])
    assert done.exit_code == 0, done.output
    assert "1 fees posted, 0 queued" in done.output
    again = runner.invoke(args=["bank", "import", str(path), "--by", "clerk@example.org"])
    assert again.exit_code != 0 and "imported already" in again.output
    rec = runner.invoke(args=["bank", "reconcile", "--date", str(BANK_DAY)])
    assert rec.exit_code == 0, rec.output
    assert re.search(r"Difference\s+\$0\.00", rec.output)
    out = tmp_path / "rec.pdf"
    pdf = runner.invoke(
        args=["notices", "bank-reconciliation", "--date", str(BANK_DAY), "--out", str(out)]
    )
    assert pdf.exit_code == 0, pdf.output
    assert out.read_bytes().startswith(b"%PDF")


def test_the_api_imports_a_statement_and_answers_the_reconciliation(app, client, api_headers):
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    data = bai2_statement([(-1200, FEE_CODE, "", "SERVICE CHARGE")], day=BANK_DAY)
    url = "/api/v1/bank-statements?layout=bai2&filename=nov11.bai"
    assert client.post(url, data=data, headers=auditor).status_code == 403
    made = client.post(url, data=data, headers=clerk)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["fee_count"] == 1 and made.get_json()["queued_count"] == 0
    again = client.post(url, data=data, headers=clerk)
    assert again.status_code == 422 and "imported already" in again.get_json()["errors"]["file"][0]
    bad = client.post(url, data=data.replace(b"99,", b"99,1"), headers=clerk)
    assert bad.status_code == 422
    rec = client.get(f"/api/v1/bank-statements/reconciliation?date={BANK_DAY}", headers=auditor)
    body = rec.get_json()
    assert rec.status_code == 200 and body["difference_cents"] == 0
    assert body["bank_cents"] == body["book_cents"] == -1200
    listed = client.get("/api/v1/bank-statements", headers=auditor).get_json()
    assert [s["filename"] for s in listed] == ["nov11.bai"]


def test_a_queued_line_and_the_deposit_a_clerk_marked_by_hand_cancel_out(session):
    account = _billed(session)
    deposit = deposit_of(session, account, 2500)
    data = bai2_statement([(2500, CREDIT_CODE, "BD-2026-999999", "DEPOSIT")], day=BANK_DAY)
    report = import_statement(session, CLERK, data, filename="n.bai", fee_rule=RULE)
    assert len(report.queued) == 1
    assert reconcile(session, BANK_DAY).difference_cents == 0  # in transit, and unmatched
    confirm_at_bank(session, CLERK, deposit, reached_on=BANK_DAY)
    rec = reconcile(session, BANK_DAY)
    assert rec.in_transit == ()
    assert [(i.label, i.cents) for i in rec.receipts] == [(f"Bank deposit {deposit.number}", 2500)]
    assert [i.cents for i in rec.unmatched] == [2500]
    assert rec.difference_cents == 0
