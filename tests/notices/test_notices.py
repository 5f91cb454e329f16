"""Notices from the database: a bill's content adds up, notices are kept by hash, print batches."""

import csv
import hashlib
import io
import re
import subprocess
from datetime import date
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceKind
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from ledger.balances import account_receivable
from notices import content, print_batches
from notices.document import NoticeKind
from notices.issuing import NoticeError, issue, open_pdf
from notices.models import Delivery, Notice, NoticeBatch
from notices.print_batches import mark_mailed, print_batch
from notices.scanline import parse
from payments.counter import open_drawer, take_counter_payment
from payments.models import Tender
from tests.billing.billing_fixtures import household, load_rules
from tests.notices.test_mail import sleeps, smtp_mailer, smtp_server  # noqa: F401 - fixtures

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
CYCLE = "2026-10"
#: The October bills' issue date (and the day their batch is made).
ISSUED = date(2026, 11, 2)


def _town(app, people):
    """Households billed in the October cycle; people: (name, zip, paperless, email, language)."""
    with app.app_context():
        plans = load_rules(db.session)
        ids = []
        for name, zip_code, paperless, email, language in people:
            account = household(db.session, plans, name, [1000, 5000, 9000, 13000, 18400])
            account.mail_zip, account.paperless, account.email = zip_code, paperless, email
            account.language = language
            ids.append(account.id)
        db.session.flush()
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle=CYCLE,
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        db.session.commit()
        return ids


def _text(pdf: bytes, page: int = 0) -> str:
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[page].extract_text()


def test_a_utility_bill_says_what_the_ledger_says(app):
    (account_id,) = _town(app, [("Olson", "54901-2231", False, None, "en")])
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        document = content.bill(db.session, app.config, invoice)
        assert document.kind == NoticeKind.UTILITY_BILL and document.reference == invoice.number
        assert [line.amount_cents for line in document.lines] == [
            line.amount_cents for line in invoice.lines
        ]
        assert document.summary.current_charges_cents == invoice.total_cents
        assert document.summary.total_due_cents == account_receivable(db.session, account_id)
        (read,) = document.reads
        assert (read.previous, read.current, read.consumption) == (13000, 18400, 5400)
        assert [month.quantity for month in document.usage] == [4000, 4000, 4000, 5400]
        (stub,) = document.stubs
        scanned = parse(stub.scan_line)
        account = db.session.get(Account, account_id)
        assert (scanned.account_number, scanned.amount_cents, scanned.due_date) == (
            account.number,
            invoice.total_cents,
            invoice.due_date,
        )
        assert stub.pay_url.endswith(f"/pay?account={account.number}")


def test_a_notice_is_kept_by_its_hash_and_downloads_again_unchanged(app):
    _town(app, [("Olson", "54901-2231", False, None, "en")])
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        document = content.bill(db.session, app.config, invoice)
        first = issue(
            db.session,
            app.config,
            CLERK,
            document,
            account=invoice.account,
            delivery=Delivery.DOWNLOAD,
        )
        again = issue(
            db.session,
            app.config,
            CLERK,
            document,
            account=invoice.account,
            delivery=Delivery.DOWNLOAD,
        )
        db.session.commit()
        assert first.sha256 == again.sha256 and first.path == again.path  # same data, same bytes
        pdf = open_pdf(app.config, first)
        assert hashlib.sha256(pdf).hexdigest() == first.sha256
        assert invoice.number in _text(pdf) and invoice.account.number in _text(pdf)
        stored = Path(app.config["NOTICES_DIR"]) / first.path
        stored.write_bytes(pdf.replace(b"%%EOF", b"%%EOF "))
        with pytest.raises(NoticeError, match="does not match its hash"):
            open_pdf(app.config, first)


def test_a_notice_that_cannot_be_written_is_not_recorded(app, tmp_path):
    _town(app, [("Olson", "54901-2231", False, None, "en")])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app.config["NOTICES_DIR"] = str(blocker / "notices")
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        document = content.bill(db.session, app.config, invoice)
        with pytest.raises(NoticeError, match="could not write the notice"):
            issue(
                db.session,
                app.config,
                CLERK,
                document,
                account=invoice.account,
                delivery=Delivery.DOWNLOAD,
            )
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0


def test_a_print_batch_emails_the_paperless_and_merges_the_rest_in_zip_order(
    app,
    smtp_server,  # noqa: F811 - fixture
    sleeps,  # noqa: F811 - fixture
):
    ids = _town(
        app,
        [
            ("Zed", "54999-0001", False, None, "en"),
            ("Paper", "54901-0002", True, "paper@example.org", "es"),
            ("Amy", "54902-0003", False, "amy@example.org", "es"),
            ("Gone", "54100-0004", True, "gone@example.org", "en"),
            ("Bob", "54500-0005", False, None, "en"),
        ],
    )
    smtp_server.handler.refuse("gone@example.org", "550 5.1.1 No such user")
    mailer = smtp_mailer(smtp_server.port, sleeps)
    with app.app_context():
        batch = print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, mailer=mailer)
        numbers = {i: db.session.get(Account, i).number for i in ids}
        # the paperless account with a working address is e-mailed, with its PDF attached
        (envelope,) = smtp_server.handler.envelopes
        assert envelope.rcpt_tos == ["paper@example.org"]
        assert (batch.emailed, batch.printed) == (1, 4)
        # the bounced address is marked bad and that bill is printed instead
        gone = db.session.get(Account, ids[3])
        assert gone.email_bounced_at is not None
        folder = Path(app.config["NOTICES_DIR"])
        merged = (folder / batch.pdf_path).read_bytes()
        assert hashlib.sha256(merged).hexdigest() == batch.pdf_sha256
        manifest_bytes = (folder / batch.manifest_path).read_bytes()
        assert hashlib.sha256(manifest_bytes).hexdigest() == batch.manifest_sha256
        rows = list(csv.DictReader(io.StringIO(manifest_bytes.decode())))
        assert [row["account"] for row in rows] == [
            numbers[ids[3]],  # 54100
            numbers[ids[4]],  # 54500
            numbers[ids[2]],  # 54902
            numbers[ids[0]],  # 54999
        ]
        check = subprocess.run(
            ["qpdf", "--check", str(folder / batch.pdf_path)], capture_output=True
        )
        assert check.returncode == 0, check.stdout.decode()
        reader = pypdf.PdfReader(io.BytesIO(merged))
        assert len(reader.pages) == batch.pages
        for row in rows:
            first = int(row["first_page"])
            assert first % 2 == 1  # every notice starts on an odd page (duplex)
            assert row["account"] in reader.pages[first - 1].extract_text()
            notice = db.session.get(Notice, int(row["notice"]))
            assert notice.delivery == Delivery.PRINT and notice.batch_id == batch.id
            assert hashlib.sha256(open_pdf(app.config, notice)).hexdigest() == row["sha256"]
            assert int(row["pages"]) == notice.pages
        emailed = db.session.scalar(sa.select(Notice).where(Notice.delivery == Delivery.EMAIL))
        assert (emailed.email_to, emailed.email_status) == ("paper@example.org", "sent")
        assert emailed.language == "es"
        with pytest.raises(NoticeError, match="already has print batch"):
            print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, mailer=mailer)
        mark_mailed(db.session, CLERK, batch)
        db.session.commit()
        with pytest.raises(NoticeError, match="was marked mailed"):
            mark_mailed(db.session, CLERK, batch)


def test_print_batches_through_the_api(app, client, api_headers):
    _town(app, [("Olson", "54901-2231", False, None, "en")])
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    assert (
        client.post("/api/v1/notice-batches", json={"cycle": CYCLE}, headers=auditor).status_code
        == 403
    )
    bad = client.post("/api/v1/notice-batches", json={"cycle": "last month"}, headers=clerk)
    assert bad.status_code == 422 and "cycle" in bad.get_json()["errors"]
    none = client.post("/api/v1/notice-batches", json={"cycle": "2031-01"}, headers=clerk)
    assert none.status_code == 409
    made = client.post("/api/v1/notice-batches", json={"cycle": CYCLE}, headers=clerk)
    assert made.status_code == 201 and made.get_json()["printed"] == 1
    batch_id = made.get_json()["id"]
    with client.get(f"/api/v1/notice-batches/{batch_id}/pdf", headers=auditor) as pdf:
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert hashlib.sha256(pdf.data).hexdigest() == made.get_json()["pdf_sha256"]
    with client.get(f"/api/v1/notice-batches/{batch_id}/manifest", headers=auditor) as manifest:
        assert manifest.status_code == 200 and manifest.data.startswith(b"sequence,account")
    assert (
        client.post(f"/api/v1/notice-batches/{batch_id}/mailed", headers=auditor).status_code == 403
    )
    assert (
        client.post(f"/api/v1/notice-batches/{batch_id}/mailed", headers=clerk).status_code == 200
    )
    assert (
        client.post(f"/api/v1/notice-batches/{batch_id}/mailed", headers=clerk).status_code == 409
    )
    with app.app_context():
        number = db.session.scalar(sa.select(Account.number))
    listed = client.get(f"/api/v1/accounts/{number}/notices", headers=auditor).get_json()
    assert [n["kind"] for n in listed] == ["utility_bill"]
    again = client.get(f"/api/v1/notices/{listed[0]['id']}/pdf", headers=auditor)
    assert hashlib.sha256(again.data).hexdigest() == listed[0]["sha256"]
    assert client.get("/api/v1/notices/999999/pdf", headers=auditor).status_code == 404
    statement = client.post(
        f"/api/v1/accounts/{number}/statements",
        json={"start": "2026-10-01", "end": "2026-11-30"},
        headers=clerk,
    )
    assert statement.status_code == 201 and statement.get_json()["kind"] == "statement"
    backwards = client.post(
        f"/api/v1/accounts/{number}/statements",
        json={"start": "2026-11-30", "end": "2026-10-01"},
        headers=clerk,
    )
    assert backwards.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NoticeBatch)) == 1


def test_clerks_make_download_and_mark_print_batches_on_the_staff_page(app, signed_in):
    from tests.conftest import csrf_token

    _town(app, [("Olson", "54901-2231", False, None, "en")])
    clerk = signed_in("clerk")
    page = clerk.get("/staff/notice-batches").text
    assert "No print batch yet." in page
    bad = clerk.post(
        "/staff/notice-batches", data={"csrf_token": csrf_token(page), "cycle": "soon"}
    )
    assert bad.status_code == 422 and "Enter the billing cycle" in bad.text
    made = clerk.post(
        "/staff/notice-batches", data={"csrf_token": csrf_token(page), "cycle": CYCLE}
    )
    assert made.status_code == 303
    with app.app_context():
        batch = db.session.scalar(sa.select(NoticeBatch))
        batch_id, pdf_sha = batch.id, batch.pdf_sha256
    listed = clerk.get("/staff/notice-batches").text
    assert f"Batch {batch_id} for {CYCLE}: 1 printed" in listed
    twice = clerk.post(
        "/staff/notice-batches", data={"csrf_token": csrf_token(page), "cycle": CYCLE}
    )
    assert twice.status_code == 409 and "already has print batch" in twice.text
    pdf = clerk.get(f"/staff/notice-batches/{batch_id}.pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == pdf_sha
    manifest = clerk.get(f"/staff/notice-batches/{batch_id}.csv")
    assert manifest.data.startswith(b"sequence,account")
    mailed = clerk.post(
        f"/staff/notice-batches/{batch_id}/mailed", data={"csrf_token": csrf_token(listed)}
    )
    assert mailed.status_code == 303
    again = clerk.post(
        f"/staff/notice-batches/{batch_id}/mailed", data={"csrf_token": csrf_token(listed)}
    )
    assert again.status_code == 409
    with app.app_context():
        assert db.session.get(NoticeBatch, batch_id).mailed_by.startswith("clerk-")
        folder = Path(app.config["NOTICES_DIR"])
        (folder / db.session.get(NoticeBatch, batch_id).pdf_path).write_bytes(b"%PDF-altered")
    assert clerk.get(f"/staff/notice-batches/{batch_id}.pdf").status_code == 409


def test_a_print_batch_cut_off_part_way_is_finished_by_the_next_run_without_doubling(
    app,
    monkeypatch,
    smtp_server,  # noqa: F811 - fixture
    sleeps,  # noqa: F811 - fixture
):
    ids = _town(
        app,
        [
            ("Zed", "54999-0001", False, None, "en"),
            ("Paper", "54901-0002", True, "paper@example.org", "en"),
            ("Amy", "54902-0003", False, None, "en"),
            ("Mail", "54100-0004", True, "mail@example.org", "en"),
        ],
    )
    mailer = smtp_mailer(smtp_server.port, sleeps)
    real_bill_out, calls = print_batches._bill_out, []

    def disk_full_at_the_third_bill(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_bill_out(*args, **kwargs)

    monkeypatch.setattr(print_batches, "_bill_out", disk_full_at_the_third_bill)
    with app.app_context():
        with pytest.raises(OSError):
            print_batch(
                db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, mailer=mailer, chunk=2
            )
        db.session.rollback()
        (cut,) = db.session.scalars(sa.select(NoticeBatch)).all()
        assert cut.completed_at is None and cut.pdf_path is None
        with pytest.raises(NoticeError, match="cut off"):
            mark_mailed(db.session, CLERK, cut)
        first_two = db.session.scalar(sa.select(sa.func.count()).select_from(Notice))
        assert first_two == 2  # the first chunk was kept (and e-mailed), the second was not
    monkeypatch.setattr(print_batches, "_bill_out", real_bill_out)
    with app.app_context():
        batch = print_batch(
            db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, mailer=mailer, chunk=2
        )
        assert batch.id == cut.id and batch.completed_at is not None
        notices = db.session.scalars(sa.select(Notice)).all()
        assert sorted(n.invoice_id for n in notices) == sorted(
            db.session.scalars(sa.select(Invoice.id).where(Invoice.account_id.in_(ids)))
        )  # each bill issued once
        assert sorted(e.rcpt_tos[0] for e in smtp_server.handler.envelopes) == [
            "mail@example.org",
            "paper@example.org",
        ]  # each paperless bill e-mailed once
        assert (batch.emailed, batch.printed) == (2, 2)
        rows = list(
            csv.DictReader(
                io.StringIO((Path(app.config["NOTICES_DIR"]) / batch.manifest_path).read_text())
            )
        )
        zed, amy = (db.session.get(Account, i).number for i in (ids[0], ids[2]))
        assert [row["account"] for row in rows] == [amy, zed]  # ZIP order across both runs
        with pytest.raises(NoticeError, match="already has print batch"):
            print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, mailer=mailer)


def test_a_print_batch_prints_each_bill_as_the_account_stands_on_the_day_it_is_made(
    app,
    smtp_server,  # noqa: F811 - fixture
    sleeps,  # noqa: F811 - fixture
):
    paid, part, owing = _town(
        app,
        [
            ("Paid", "54901-0001", False, None, "en"),
            ("Part", "54902-0002", False, None, "en"),
            ("Owing", "54903-0003", False, None, "en"),
        ],
    )
    batch_day = date(2026, 11, 6)
    with app.app_context():
        drawer = open_drawer(db.session, CLERK)
        totals = {
            i.account_id: i.total_cents
            for i in db.session.scalars(
                sa.select(Invoice).where(Invoice.kind == InvoiceKind.UTILITY)
            )
        }
        for account_id, cents in ((paid, totals[paid]), (part, 4000)):
            take_counter_payment(
                db.session,
                CLERK,
                drawer=drawer,
                account=db.session.get(Account, account_id),
                amount_cents=cents,
                tender=Tender.CASH,
                reference=None,
                invoice_numbers=[],
                on=date(2026, 11, 4),  # after the bills were posted, before the batch
            )
        db.session.commit()
        mailer = smtp_mailer(smtp_server.port, sleeps)
        batch = print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=batch_day, mailer=mailer)
        merged = (Path(app.config["NOTICES_DIR"]) / batch.pdf_path).read_bytes()
        reader = pypdf.PdfReader(io.BytesIO(merged))
        text = {}
        for notice in db.session.scalars(sa.select(Notice).where(Notice.batch_id == batch.id)):
            pdf = open_pdf(app.config, notice)
            text[notice.account_id] = " ".join(
                " ".join(page.extract_text().split())
                for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
            )
        assert len(reader.pages) == batch.pages
        # the bill paid in full before the batch asks for nothing: no stub, no scan line
        assert "Paid in full" in text[paid] and "Amounts as of November 6, 2026" in text[paid]
        assert "TOTAL DUE $0.00" in text[paid] and "Detach and return" not in text[paid]
        # the one paid in part asks for what is left; the stub's scan line says the same
        left = totals[part] - 4000
        assert f"TOTAL DUE {format_cents(left)}" in text[part]
        scan = parse(_scan(text[part]))
        assert scan.amount_cents == left and scan.due_date >= batch_day
        # the one nobody paid asks for the whole bill
        assert f"TOTAL DUE {format_cents(totals[owing])}" in text[owing]


def _scan(text: str) -> str:
    """The scan line printed on a notice (27 digits in four groups)."""
    found = re.search(r"\b\d{8} \d{10} \d{8} \d\b", text)
    assert found, "no scan line on the notice"
    return found.group(0)
