"""A print batch rendered by worker processes is the batch one process makes: the same
notices in the same order, the same manifest, the same pages; cut off, it resumes; a worker
that fails fails the batch with its reason and records nothing of its chunk."""

import csv
import io
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa

from core.extensions import db
from notices import print_batches, print_workers
from notices.issuing import NoticeError
from notices.models import Delivery, Notice, NoticeBatch
from notices.print_batches import print_batch
from tests.notices.test_notices import CLERK, CYCLE, ISSUED, _town

PEOPLE = [
    ("Zed", "54999-0001", False, None, "en"),
    ("Paper", "54901-0002", True, "paper@example.org", "es"),
    ("Amy", "54902-0003", False, None, "es"),
    ("Bob", "54500-0005", False, None, "en"),
    ("Cy", "54100-0006", False, None, "en"),
    ("Di", "54500-0004", True, "di@example.org", "en"),
    ("Ed", "54300-0007", False, None, "en"),
]


def _printed(app, batch: NoticeBatch) -> tuple[list[dict], list[str], dict[int, int]]:
    """The batch's manifest rows, the text of each page of its merged PDF, and the invoice
    of each of its notices."""
    folder = Path(app.config["NOTICES_DIR"])
    rows = list(csv.DictReader(io.StringIO((folder / batch.manifest_path).read_text())))
    reader = pypdf.PdfReader(folder / batch.pdf_path)
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    invoices = dict(
        db.session.execute(
            sa.select(Notice.id, Notice.invoice_id).where(Notice.batch_id == batch.id)
        ).all()
    )
    return rows, pages, invoices


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_two_workers_print_the_batch_one_process_prints(app, monkeypatch, start):
    monkeypatch.setattr(print_workers, "START", start)  # forked on Linux, spawned elsewhere
    _town(app, PEOPLE)
    with app.app_context():
        one = print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, workers=1)
        one_rows, one_pages, one_invoices = _printed(app, one)
        one_id, one_counts = one.id, (one.printed, one.emailed, one.pages)
        two = print_batch(
            db.session,
            app.config,
            CLERK,
            cycle=CYCLE,
            on=ISSUED,
            reprint=True,
            workers=2,
            chunk=2,
        )
        two_rows, two_pages, two_invoices = _printed(app, two)
        assert (two.printed, two.emailed, two.pages) == one_counts
        assert one_counts[:2] == (5, 2)
        # every page of the merged PDF says the same, in the same order
        assert two_pages == one_pages and len(one_pages) == one_counts[2]
        # the manifest lists the same bills, on the same pages, with the same PDFs
        without_notice = [{k: v for k, v in row.items() if k != "notice"} for row in one_rows]
        assert [{k: v for k, v in row.items() if k != "notice"} for row in two_rows] == (
            without_notice
        )
        # the notices are numbered in the same order: the second batch's follow the first's,
        # bill for bill
        offset = min(two_invoices) - min(one_invoices)
        assert {n + offset: i for n, i in one_invoices.items()} == two_invoices
        assert [int(r["notice"]) + offset for r in one_rows] == [int(r["notice"]) for r in two_rows]
        emailed = db.session.scalars(
            sa.select(Notice.batch_id).where(Notice.delivery == Delivery.EMAIL)
        ).all()
        assert sorted(emailed) == [one_id, one_id, two.id, two.id]


def test_a_two_worker_batch_cut_off_part_way_resumes_without_doubling(app, monkeypatch):
    _town(app, PEOPLE)
    real_bill_out, calls = print_batches._bill_out, []

    def disk_full_at_the_fourth_bill(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real_bill_out(*args, **kwargs)

    monkeypatch.setattr(print_batches, "_bill_out", disk_full_at_the_fourth_bill)
    with app.app_context():
        with pytest.raises(OSError):
            print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, workers=2, chunk=1)
        db.session.rollback()
        (cut,) = db.session.scalars(sa.select(NoticeBatch)).all()
        assert cut.completed_at is None and cut.pdf_path is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 3
    monkeypatch.setattr(print_batches, "_bill_out", real_bill_out)
    with app.app_context():
        batch = print_batch(
            db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, workers=2, chunk=1
        )
        assert batch.id == cut.id and batch.completed_at is not None
        rows, pages, invoices = _printed(app, batch)
        assert sorted(invoices.values()) == sorted(
            db.session.scalars(sa.select(Notice.invoice_id))
        )  # each bill issued once
        assert len(set(invoices.values())) == len(PEOPLE)
        assert (batch.printed, batch.emailed) == (5, 2) and len(rows) == 5
        assert [row["zip"] for row in rows] == sorted(row["zip"] for row in rows)
        assert len(pages) == batch.pages


def test_a_worker_that_fails_fails_the_batch_with_its_reason(app, tmp_path):
    _town(app, PEOPLE)
    # the workers open the database named in the config; this one cannot be opened
    unreachable = {
        **app.config,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-such-folder' / 'town.db'}",
    }
    with app.app_context():
        with pytest.raises(NoticeError, match="print worker"):
            print_batch(db.session, unreachable, CLERK, cycle=CYCLE, on=ISSUED, workers=2, chunk=2)
        db.session.rollback()
        (cut,) = db.session.scalars(sa.select(NoticeBatch)).all()
        assert cut.completed_at is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0
        batch = print_batch(db.session, app.config, CLERK, cycle=CYCLE, on=ISSUED, workers=2)
        assert (batch.printed, batch.emailed) == (5, 2) and batch.completed_at is not None
