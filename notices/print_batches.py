"""Print batches for the mail house: a cycle's bills e-mailed or merged into one PDF and a manifest.

Each bill is issued as one notice (notices.issuing); the printed ones are
merged, sorted by ZIP code and each on an odd page, into one PDF written
through a temporary file and a rename, with a CSV manifest beside it. A batch
cut off part way is finished by the next call for its cycle.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from accounts.models import Account
from billing.models import BillingRun, Invoice, InvoiceStatus, RunStatus
from core.audit import Actor, record, record_many
from core.db import utcnow
from notices import content
from notices.bill_recipients import owners_copied, recipient_zip
from notices.issuing import (
    NoticeError,
    Rendered,
    _folder,
    _write_atomically,
    can_email,
    email_notice,
    issue,
)
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice, NoticeBatch
from notices.pdfmerge import StreamingMerger
from notices.print_workers import Made, rendered_chunks

#: The page size of the padding page (US Letter, in points).
LETTER = (612, 792)


def _bill_invoice_ids(session: Session, cycle: str) -> list[int]:
    """The posted, not voided invoices of the billing runs of a cycle."""
    runs = session.scalars(
        sa.select(BillingRun.id).where(
            BillingRun.cycle == cycle, BillingRun.status == RunStatus.POSTED
        )
    ).all()
    if not runs:
        raise NoticeError(f"no posted billing run for cycle {cycle}")
    return list(
        session.scalars(
            sa.select(Invoice.id)
            .where(Invoice.billing_run_id.in_(runs), Invoice.status != InvoiceStatus.VOID)
            .order_by(Invoice.id)
        )
    )


@dataclass(frozen=True)
class ManifestRow:
    """One printed notice in the merged PDF."""

    sequence: int
    account_number: str
    notice_id: int
    first_page: int
    pages: int
    zip_code: str
    sha256: str


@dataclass(frozen=True)
class Printed:
    """One notice going into the merged PDF, and its line of the manifest."""

    zip_code: str
    account_number: str
    notice_id: int
    pages: int
    sha256: str
    path: str


def print_batch(
    session: Session,
    config: Mapping,
    actor: Actor,
    *,
    cycle: str,
    on: date,
    mailer: Mailer | None = None,
    reprint: bool = False,
    chunk: int = 200,
    workers: int | None = None,
) -> NoticeBatch:
    """Bills of a cycle: paperless accounts e-mailed, the rest merged into one PDF for the mail house.

    The merged PDF holds the printed notices sorted by ZIP code (presort),
    each starting on an odd page (a blank page pads a notice with an odd page
    count, for duplex printing); the CSV manifest lists them with their first
    page, page count, ZIP and the SHA-256 of each notice's own PDF. Bills are
    read, rendered and recorded a chunk at a time (each chunk committed), so
    memory does not grow with the batch. `workers` (PRINT_WORKERS unless
    given) processes render the chunks (notices.print_workers); this process
    records them in the order of the invoices, so the notices, their numbers,
    the manifest and the merged pages are the same for any number of workers.

    A batch cut off part way (a full disk, a killed process) is resumed by the
    next call for its cycle: the bills it already issued (and e-mailed) are
    kept and not issued again, the others are, and the merged PDF then holds
    every printed bill of the batch.
    """
    batch = session.scalar(
        sa.select(NoticeBatch)
        .where(NoticeBatch.cycle == cycle, NoticeBatch.completed_at.is_(None))
        .order_by(NoticeBatch.id.desc())
        .limit(1)
    )
    previous = session.scalar(sa.select(NoticeBatch.id).where(NoticeBatch.cycle == cycle).limit(1))
    if batch is None and previous is not None and not reprint:
        raise NoticeError(
            f"cycle {cycle} already has print batch {previous}; ask for a reprint to make another"
        )
    ids = _bill_invoice_ids(session, cycle)
    if not ids:
        raise NoticeError(f"the billing runs of cycle {cycle} posted no bills")
    mailer = mailer or Mailer.from_config(config)
    if batch is None:
        first_kind = session.scalar(sa.select(Invoice.kind).where(Invoice.id == ids[0]))
        batch = NoticeBatch(
            kind=content.BILL_KINDS[first_kind], cycle=cycle, created_by=actor.label
        )
        session.add(batch)
        session.commit()
    batch_id = batch.id
    printed = _already_printed(session, batch_id)
    issued_before = set(
        session.scalars(sa.select(Notice.invoice_id).where(Notice.batch_id == batch_id))
    )
    ids = [i for i in ids if i not in issued_before]
    workers = config.get("PRINT_WORKERS", 1) if workers is None else workers
    chunks = rendered_chunks(session, config, ids, on, chunk=chunk, workers=workers)
    with closing(chunks):  # a batch cut off stops its workers
        for part, made in chunks:
            _record_chunk(session, config, actor, mailer, batch_id, part, made, printed)
    batch = session.get(NoticeBatch, batch_id)
    printed.sort(key=lambda item: (item.zip_code, item.account_number))
    if printed:
        _merge(config, batch, printed)
    batch.printed = len(printed)
    batch.completed_at = utcnow()
    record(
        session,
        actor,
        "notice_batch.create",
        batch,
        cycle=cycle,
        printed=batch.printed,
        emailed=batch.emailed,
    )
    session.commit()
    return batch


def _record_chunk(
    session: Session,
    config: Mapping,
    actor: Actor,
    mailer: Mailer,
    batch_id: int,
    part: Sequence[int],
    made: list[Made],
    printed: list[Printed],
) -> None:
    """Record a chunk's rendered bills in the order of its invoices, e-mail those that can be,
    add the printed ones to `printed`, and commit."""
    batch = session.get(NoticeBatch, batch_id)
    invoices = session.scalars(
        sa.select(Invoice)
        .where(Invoice.id.in_(part))
        .options(joinedload(Invoice.account))
        .order_by(Invoice.id)
    ).all()
    owners = owners_copied(session, invoices)
    issued: list[tuple[Notice, str, str, bool]] = []
    for invoice, bill in zip(invoices, made, strict=True):
        owner = owners.get(invoice.id)
        issued += _bill_out(session, config, actor, mailer, batch, invoice, bill, owner)
    session.flush()
    record_many(
        session,
        actor,
        "notice.issue",
        "Notice",
        {n.id: {"kind": n.kind.value, "sha256": n.sha256} for n, *_ in issued},
    )
    printed.extend(
        Printed(zip_code, number, n.id, n.pages, n.sha256, n.path)
        for n, zip_code, number, to_print in issued
        if to_print
    )
    os.sync()  # the chunk's files are on disk before their records are committed
    session.commit()  # each chunk's notices (and e-mails) are kept as they go
    session.expunge_all()  # the chunk's invoices, accounts and notices can go


def _already_printed(session: Session, batch_id: int) -> list[Printed]:
    """The printed notices a batch cut off part way had issued (none for a new batch)."""
    rows = session.execute(
        sa.select(Notice, Account.number, Account.mail_zip)
        .join(Account, Account.id == Notice.account_id)
        .where(Notice.batch_id == batch_id, Notice.delivery == Delivery.PRINT)
    ).all()
    return [
        Printed(recipient_zip(mail_zip), number, n.id, n.pages, n.sha256, n.path)
        for n, number, mail_zip in rows
    ]


def _bill_out(
    session: Session,
    config: Mapping,
    actor: Actor,
    mailer: Mailer,
    batch: NoticeBatch,
    invoice: Invoice,
    made: Made,
    owner: Account | None,
) -> list[tuple[Notice, str, str, bool]]:
    """Record one rendered bill, e-mailed if it can be, and the owner's copy when `owner`
    gets one (the location's rule): [(notice, ZIP, account, to print?)]."""
    if made.invoice_id != invoice.id or made.owner_id != (owner.id if owner else None):
        raise NoticeError(
            f"invoice {invoice.id} changed while its bill was rendered; make the batch again"
        )
    notice = _send_out(session, config, actor, mailer, batch, invoice, made.bill, invoice.account)
    out = [notice]
    if owner is not None:
        session.flush()  # the copy names the notice it copies
        out.append(
            _send_out(session, config, actor, mailer, batch, invoice, made.copy, owner, notice[0])
        )
    return out


def _send_out(
    session: Session,
    config: Mapping,
    actor: Actor,
    mailer: Mailer,
    batch: NoticeBatch,
    invoice: Invoice,
    rendered: Rendered,
    to: Account,
    copy_of: Notice | None = None,
) -> tuple[Notice, str, str, bool]:
    """Record one rendered bill for `to` (the account, or the owner getting a copy): e-mailed
    when `to` is paperless with a working address, else printed."""
    delivery = Delivery.EMAIL if can_email(to) else Delivery.PRINT
    notice = issue(
        session,
        config,
        actor,
        rendered.document,
        account=to,
        delivery=delivery,
        invoice_id=invoice.id,
        batch_id=batch.id,
        rendered=rendered,
        durable=False,
    )
    if copy_of is not None:
        notice.copy_of_id = copy_of.id
    to_print = True
    if delivery == Delivery.EMAIL:
        if email_notice(session, config, actor, mailer, notice, rendered, to):
            batch.emailed += 1
            to_print = False
        else:
            notice.delivery = Delivery.PRINT  # bounced or undeliverable: the mail house sends it
    return notice, rendered.document.recipient.zip_code, to.number, to_print


def _merge(config: Mapping, batch: NoticeBatch, printed: list[Printed]) -> None:
    """Write the merged PDF (odd-page starts) and the manifest; set their paths and hashes.

    Each notice is read from its stored file and copied straight into the
    merged file (notices.pdfmerge), so memory does not grow with the batch.
    """
    root = _folder(config)
    folder = root / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"batch-{batch.id:06d}-{batch.cycle}"
    rows: list[ManifestRow] = []
    pdf_path = folder / f"{stem}.pdf"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            merger = StreamingMerger(out)
            for sequence, item in enumerate(printed, start=1):
                first = merger.page_count + 1
                pages = merger.add((root / item.path).read_bytes())
                if pages % 2:
                    merger.add_blank(*LETTER)
                rows.append(
                    ManifestRow(
                        sequence,
                        item.account_number,
                        item.notice_id,
                        first,
                        pages,
                        item.zip_code,
                        item.sha256,
                    )
                )
            merger.close()
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, pdf_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    page = merger.page_count + 1
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(["sequence", "account", "notice", "first_page", "pages", "zip", "sha256"])
    for row in rows:
        writer.writerow(
            [
                row.sequence,
                row.account_number,
                row.notice_id,
                row.first_page,
                row.pages,
                row.zip_code,
                row.sha256,
            ]
        )
    manifest_bytes = manifest.getvalue().encode()
    manifest_path = folder / f"{stem}.csv"
    _write_atomically(manifest_path, manifest_bytes)
    batch.pages = page - 1
    batch.pdf_path = str(pdf_path.relative_to(root))
    batch.pdf_sha256 = _sha256_of(pdf_path)
    batch.manifest_path = str(manifest_path.relative_to(root))
    batch.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mark_mailed(session: Session, actor: Actor, batch: NoticeBatch) -> NoticeBatch:
    """Record that the mail house has the batch; once."""
    if batch.mailed_at is not None:
        raise NoticeError(f"batch {batch.id} was marked mailed on {batch.mailed_at:%Y-%m-%d}")
    if batch.completed_at is None:
        raise NoticeError(
            f"batch {batch.id} was cut off before it was finished; make the cycle's batch again "
            "to finish it"
        )
    if not batch.printed:
        raise NoticeError(f"batch {batch.id} has nothing to print")
    batch.mailed_at, batch.mailed_by = utcnow(), actor.label
    record(session, actor, "notice_batch.mailed", batch)
    return batch
