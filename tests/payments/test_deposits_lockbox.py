"""Lockbox and bill-pay files deposited: the whole file moves from 1040 Lockbox clearing to 1050
Deposits in transit once, by the import (the bank deposited it itself) or by a clerk; the
queued items' 2040 waits for the clerks and never touches 1040 again."""

from __future__ import annotations

import io
import re
import threading

import pytest
import sqlalchemy as sa
from flask import current_app
from pypdf import PdfReader
from sqlalchemy.orm import Session

from core.extensions import db
from ledger import chart
from ledger.balances import gl_balance
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.verify import verify_chain
from notices.deposit_slip import deposit_slip, render_slip
from payments.bank_deposits import confirm_at_bank, deposit_sources, undeposited_files
from payments.lockbox_queue import apply_item, return_item
from payments.models import BankDeposit, RemittanceFile, RemittanceItem, RemittanceStatus
from payments.services import PaymentRefused
from tests.conftest import csrf_token
from tests.payments.lockbox_files import Check, bai
from tests.payments.test_lockbox import CLERK, DEPOSIT, TODAY, billed, take


def _file(session, *, deposit: bool = False):
    """A BAI file of three checks in two batches: two settle, the third is short of its stub
    and waits in the queue. (its row, the import's report, the three stubs)."""
    stubs = billed(session, ["olson", "berg", "lind"])
    checks = [
        Check(stubs[0][2].amount_due_cents, stubs[0][2].scan_line, "9001"),
        Check(stubs[1][2].amount_due_cents, stubs[1][2].scan_line, "9002"),
        Check(stubs[2][2].amount_due_cents - 300, stubs[2][2].scan_line, "9003"),
    ]
    report = take(session, bai(checks, DEPOSIT, per_batch=2), deposit=deposit)
    session.commit()
    return session.get(RemittanceFile, report.file_id), report, stubs


def _deposit_lines(session, number: str) -> list[tuple[str, int, int]]:
    """The deposit's entry as (GL code, debit, credit) lines."""
    return [
        tuple(row)
        for row in session.execute(
            sa.select(GLAccount.code, JournalLine.debit_cents, JournalLine.credit_cents)
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
            .where(JournalEntry.source_type == "bank_deposit", JournalEntry.source_id == number)
            .order_by(JournalLine.position)
        )
    ]


def test_a_clerk_deposits_a_whole_file_queued_items_too_from_lockbox_clearing_to_transit(
    session,
):
    upload, report, _stubs = _file(session)
    held = report.exception_cents
    assert held > 0 and gl_balance(session, chart.LOCKBOX_CLEARING) == upload.total_cents
    assert undeposited_files(session) == [upload]

    deposit = deposit_sources(session, CLERK, files=[upload], on=TODAY)
    session.commit()

    assert deposit.amount_cents == upload.total_cents == report.total_cents
    assert _deposit_lines(session, deposit.number) == [
        (chart.DEPOSITS_IN_TRANSIT, upload.total_cents, 0),
        (chart.LOCKBOX_CLEARING, 0, upload.total_cents),
    ]
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == 0
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == upload.total_cents
    # NOTE: the queued check's money went to the bank with the rest; 2040 still says whose
    # it is not yet.
    assert gl_balance(session, chart.REMITTANCES_HELD) == held
    assert session.get(RemittanceFile, upload.id).bank_deposit_id == deposit.id
    assert undeposited_files(session) == []
    assert deposit.parts == [
        {
            "source": "lockbox",
            "id": upload.id,
            "label": f"Lockbox file {upload.id}",
            "gl": chart.LOCKBOX_CLEARING,
            "cents": upload.total_cents,
        }
    ]


def test_a_file_is_deposited_once(session):
    upload, _report, _stubs = _file(session)
    deposit_sources(session, CLERK, files=[upload], on=TODAY)
    session.commit()
    with pytest.raises(PaymentRefused, match="already in a deposit") as refused:
        deposit_sources(session, CLERK, files=[upload], on=TODAY)
    assert refused.value.field == "file_ids"
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(BankDeposit)) == 1
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == upload.total_cents


def test_a_file_cannot_be_deposited_before_the_bank_deposited_it(session):
    upload, _report, _stubs = _file(session)
    with pytest.raises(PaymentRefused, match="deposited by the bank on"):
        deposit_sources(session, CLERK, files=[upload], on=DEPOSIT.replace(day=DEPOSIT.day - 1))
    session.rollback()
    assert session.get(RemittanceFile, upload.id).bank_deposit_id is None


def test_the_import_makes_the_banks_deposit_on_the_files_deposit_date(session):
    upload, report, _stubs = _file(session, deposit=True)

    deposit = session.scalar(
        sa.select(BankDeposit).where(BankDeposit.number == report.bank_deposit)
    )
    assert deposit.made_on == DEPOSIT and deposit.amount_cents == upload.total_cents
    assert upload.bank_deposit_id == deposit.id
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == 0
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == upload.total_cents
    assert verify_chain(session).problem is None


def test_queued_items_resolved_after_the_deposit_leave_clearing_and_transit_alone(session):
    upload, _report, stubs = _file(session, deposit=True)
    (short,) = session.scalars(
        sa.select(RemittanceItem).where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
    ).all()
    apply_item(
        session,
        CLERK,
        short,
        account=stubs[2][0],
        amount_cents=short.amount_cents,
        note="short by three dollars; apply it",
        on=TODAY,
    )
    session.commit()
    assert gl_balance(session, chart.REMITTANCES_HELD) == 0
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == 0
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == upload.total_cents

    deposit = session.get(BankDeposit, upload.bank_deposit_id)
    confirm_at_bank(session, CLERK, deposit, reached_on=TODAY)
    session.commit()
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == 0
    assert gl_balance(session, chart.BANK) == upload.total_cents
    assert verify_chain(session).problem is None


def test_a_returned_check_is_owed_back_from_2040_after_the_deposit(session):
    upload, report, _stubs = _file(session, deposit=True)
    (short,) = session.scalars(
        sa.select(RemittanceItem).where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
    ).all()
    return_item(session, CLERK, short, note="the payer asked for it back", on=TODAY)
    session.commit()
    assert gl_balance(session, chart.REMITTANCES_HELD) == 0
    assert gl_balance(session, chart.REFUNDS_PAYABLE) == report.exception_cents
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == 0
    assert gl_balance(session, chart.DEPOSITS_IN_TRANSIT) == upload.total_cents


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def test_the_deposit_slip_lists_the_files_batches_and_the_total_the_ledger_moved(session):
    upload, _report, stubs = _file(session)
    deposit = deposit_sources(session, CLERK, files=[upload], on=TODAY)
    text = _pdf_text(render_slip(deposit_slip(session, current_app.config, deposit)))
    first = stubs[0][2].amount_due_cents + stubs[1][2].amount_due_cents
    third = stubs[2][2].amount_due_cents - 300
    assert re.search(rf"Batch 001: 2 items\s*{re.escape(_dollars(first))}", text)
    assert re.search(rf"Batch 002: 1 item\s*{re.escape(_dollars(third))}", text)
    assert "of which 1 in the exception queue" in text
    assert f"Lockbox file {upload.id}" in text
    assert re.search(rf"Total deposit\s*{re.escape(_dollars(upload.total_cents))}", text)


def _imported(app) -> tuple[int, int]:
    """A file imported and committed with the deposit on import turned off; (id, total)."""
    app.config["LOCKBOX_DEPOSIT_ON_IMPORT"] = False
    with app.app_context():
        upload, _report, _stubs = _file(db.session)
        return upload.id, upload.total_cents


def test_the_api_lists_a_file_to_deposit_and_deposits_it_once(app, client, api_headers):
    file_id, total = _imported(app)
    clerk = api_headers("clerk")
    waiting = client.get("/api/v1/bank-deposits/files", headers=api_headers("auditor")).json
    assert [(f["id"], f["total_cents"]) for f in waiting] == [(file_id, total)]
    made = client.post("/api/v1/bank-deposits", json={"file_ids": [file_id]}, headers=clerk)
    assert made.status_code == 201, made.json
    assert made.json["amount_cents"] == total
    assert made.json["parts"][0]["label"] == f"Lockbox file {file_id}"
    again = client.post("/api/v1/bank-deposits", json={"file_ids": [file_id]}, headers=clerk)
    assert again.status_code == 422, again.json
    assert "already in a deposit" in again.json["errors"]["file_ids"][0]
    empty = client.post("/api/v1/bank-deposits", json={}, headers=clerk)
    assert empty.status_code == 422
    assert client.get("/api/v1/bank-deposits/files", headers=clerk).json == []


def test_the_api_import_deposits_the_file_when_the_bank_does(app, client, api_headers):
    with app.app_context():
        (_a, _i, stub) = billed(db.session, ["olson"])[0]
        db.session.commit()
    data = bai([Check(stub.amount_due_cents, stub.scan_line, "9101")], DEPOSIT)
    headers = {**api_headers("clerk"), "Content-Type": "application/octet-stream"}
    made = client.post(
        "/api/v1/lockbox/files?layout=bai-lockbox&filename=lb.txt", data=data, headers=headers
    )
    assert made.status_code == 201, made.json
    number = made.json["bank_deposit"]
    shown = client.get(f"/api/v1/bank-deposits/{number}", headers=headers).json
    assert shown["made_on"] == DEPOSIT.isoformat()
    assert shown["amount_cents"] == stub.amount_due_cents
    with app.app_context():
        assert gl_balance(db.session, chart.LOCKBOX_CLEARING) == 0


def test_the_console_deposits_the_files_ticked(app, signed_in):
    file_id, total = _imported(app)
    client = signed_in("clerk")
    page = client.get("/staff/deposits/")
    assert f"lockbox file {file_id}" in page.text
    form = {"csrf_token": csrf_token(page.text), "file": str(file_id)}
    assert client.post("/staff/deposits/", data=form).status_code == 303
    after = client.get("/staff/deposits/").text
    assert "Every imported file is deposited." in after and f"Lockbox file {file_id}" in after
    again = client.post("/staff/deposits/", data=form)
    assert again.status_code == 422 and "already in a deposit" in again.text
    with app.app_context():
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == total


def test_the_cli_deposits_a_file(app, runner):
    file_id, total = _imported(app)
    listed = runner.invoke(args=["payments", "deposits"])
    assert f"lockbox file {file_id}" in listed.output
    done = runner.invoke(args=["payments", "deposit", "--file", str(file_id), "--by", "a@b.org"])
    assert done.exit_code == 0, done.output
    again = runner.invoke(args=["payments", "deposit", "--file", str(file_id), "--by", "a@b.org"])
    assert again.exit_code != 0 and "already in a deposit" in again.output
    with app.app_context():
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == total
        assert gl_balance(db.session, chart.LOCKBOX_CLEARING) == 0


def _deposit_in_thread(engine, file_id: int, results: dict, key: str, barrier):
    """Deposit a file on a connection of its own; its deposit number (or error) in results."""

    def run() -> None:
        with Session(engine) as session:
            try:
                upload = session.get(RemittanceFile, file_id)
                barrier.wait()
                deposit = deposit_sources(session, CLERK, files=[upload], on=TODAY)
                session.commit()
                results[key] = deposit.number
            except Exception as error:  # noqa: BLE001 - the test reads it
                session.rollback()
                results[key] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_clerks_depositing_one_file_at_once_deposit_it_once(app):
    file_id, total = _imported(app)
    with app.app_context():
        results: dict = {}
        both = threading.Barrier(2, timeout=30)
        threads = [_deposit_in_thread(db.engine, file_id, results, key, both) for key in ("a", "b")]
        for thread in threads:
            thread.join(60)
        refused = [r for r in results.values() if isinstance(r, PaymentRefused)]
        made = [r for r in results.values() if isinstance(r, str)]
        assert len(made) == 1 and len(refused) == 1, results
        assert "already in a deposit" in refused[0].message
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BankDeposit)) == 1
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == total
        assert gl_balance(db.session, chart.LOCKBOX_CLEARING) == 0
