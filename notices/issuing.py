"""Issuing one notice: render it, keep the PDF by its hash, record it, and e-mail it or not.

A notice's PDF is written to NOTICES_DIR under its SHA-256 through a
temporary file and a rename, and recorded only once it is in place, so a
full disk or a read-only folder leaves no half file and no record of one.
The same data renders the same bytes, so issuing a notice twice stores one file.
Print batches (notices.print_batches) issue their bills through here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.db import utcnow
from notices.document import NoticeDocument, NoticeKind
from notices.mail_delivery import Mailer
from notices.mail_message import message_for
from notices.models import Delivery, Notice
from notices.pdf_canvas import long_date
from notices.receipt_words import payment_rows
from notices.render import render_counted
from notices.texts import texts_for


class NoticeError(RuntimeError):
    """A notice or batch that cannot be made; the message says what to do."""


@dataclass(frozen=True)
class Rendered:
    """A rendered notice: its document, PDF bytes, hash and page count."""

    document: NoticeDocument
    pdf: bytes
    sha256: str
    pages: int


def render_notice(document: NoticeDocument) -> Rendered:
    """Render a document and measure it."""
    pdf, pages = render_counted(document)
    return Rendered(document, pdf, hashlib.sha256(pdf).hexdigest(), pages)


def _folder(config: Mapping) -> Path:
    return Path(config["NOTICES_DIR"])


def store_pdf(config: Mapping, rendered: Rendered, *, durable: bool = True) -> str:
    """Write the PDF under NOTICES_DIR by its hash (atomically); returns its relative path.

    durable=False leaves flushing to disk to the caller (a batch syncs once per chunk).
    """
    folder = _folder(config) / rendered.sha256[:2]
    target = folder / f"{rendered.sha256}.pdf"
    try:
        if str(folder) not in _MADE:
            folder.mkdir(parents=True, exist_ok=True)
            _MADE.add(str(folder))
        if not target.exists():
            _write_atomically(target, rendered.pdf, durable=durable)
    except OSError as error:
        _MADE.discard(str(folder))
        raise NoticeError(
            f"could not write the notice to {folder}: {error.strerror or error}. "
            "Check that the notices folder exists, is writable and has free space."
        ) from error
    return f"{rendered.sha256[:2]}/{rendered.sha256}.pdf"


#: Folders this process has made (or found) under NOTICES_DIR, so each is made once.
_MADE: set[str] = set()


def _write_atomically(target: Path, data: bytes, *, durable: bool = True) -> None:
    """Write data to a temporary file beside target, flush it to disk, then rename it into place.

    The temporary name carries the process id, so two processes writing the
    same file (the same bytes) never share a temporary file.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            if durable:
                os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def open_pdf(config: Mapping, notice: Notice) -> bytes:
    """The stored PDF of a notice, checked against its recorded hash."""
    data = (_folder(config) / notice.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != notice.sha256:
        raise NoticeError(f"the stored PDF of notice {notice.id} does not match its hash")
    return data


def issue(
    session: Session,
    config: Mapping,
    actor: Actor,
    document: NoticeDocument,
    *,
    account: Account,
    delivery: Delivery,
    invoice_id: int | None = None,
    payment_id: int | None = None,
    refund_id: int | None = None,
    batch_id: int | None = None,
    rendered: Rendered | None = None,
    durable: bool = True,
) -> Notice:
    """Render (unless given), store and record one notice; flushes when durable.

    A batch passes durable=False: it syncs the files and flushes the records
    once per chunk, before its commit.
    """
    rendered = rendered or render_notice(document)
    path = store_pdf(config, rendered, durable=durable)
    notice = Notice(
        kind=document.kind,
        account_id=account.id,
        invoice_id=invoice_id,
        payment_id=payment_id,
        refund_id=refund_id,
        batch_id=batch_id,
        language=document.language,
        reference=document.reference[:64],
        sha256=rendered.sha256,
        pages=rendered.pages,
        path=path,
        delivery=delivery,
        created_by=actor.label,
    )
    session.add(notice)
    if durable:
        session.flush()
        record(
            session, actor, "notice.issue", notice, kind=document.kind.value, sha256=rendered.sha256
        )
    return notice


def can_email(account: Account) -> bool:
    """Paperless, with an address that has not bounced."""
    return bool(account.paperless and account.email and account.email_bounced_at is None)


def email_notice(
    session: Session,
    config: Mapping,
    actor: Actor,
    mailer: Mailer,
    notice: Notice,
    rendered: Rendered,
    account: Account,
    *,
    to: str | None = None,
) -> bool:
    """E-mail a notice; True if it went (or was written to the outbox).

    It goes to the account's address, or to `to` (an address a resident gave for this
    one message, which is kept on the notice and nowhere else). A permanent refusal of
    the account's address marks it bad, so the next notices are printed.
    """
    document = rendered.document
    stub = document.stubs[0] if document.stubs else None
    # A receipt's e-mail says how, when and under which numbers it was paid (the receipt
    # number among them, as the confirmation number).
    receipt = document.kind is NoticeKind.RECEIPT
    message = message_for(
        document.kind.value,
        document.language,
        municipality=document.letterhead.name,
        account_number=account.number,
        reference="" if receipt else document.reference,
        amount_cents=stub.amount_due_cents if stub else (document.amount_cents or None),
        # A shutoff notice's stub is due on the earliest shutoff date, which its own row names:
        # one date under one label, not the same date twice.
        due_date=None
        if document.kind is NoticeKind.SHUTOFF
        else (stub.due_date if stub else document.due_date),
        pay_url=stub.pay_url if stub else None,
        to=to or account.email,
        pdf=rendered.pdf,
        filename=f"{document.kind.value}-{document.reference}.pdf".replace("/", "-").replace(
            " ", ""
        ),
        rows=_rows(document),
    )
    outcome = mailer.send(message)
    notice.email_to, notice.email_status = to or account.email, outcome.status
    if outcome.status in ("sent", "written"):
        notice.emailed_at = utcnow()
        return True
    if outcome.status == "bounced" and to is None:
        account.email_bounced_at = utcnow()
        record(
            session,
            actor,
            "account.email_bounced",
            account,
            email=account.email,
            smtp_code=outcome.smtp_code,
        )
    return False


def _rows(document: NoticeDocument) -> tuple[tuple[str, str], ...]:
    """The e-mail's rows beyond the amount and the date: a receipt's payment, a shutoff notice's
    earliest shutoff date."""
    texts = texts_for(document.language)
    if document.kind is NoticeKind.RECEIPT:
        return tuple(payment_rows(document, texts))
    if document.kind is NoticeKind.SHUTOFF and document.action_date:
        return ((str(texts["earliest_shutoff"]), long_date(document.action_date, texts)),)
    return ()


def issue_and_deliver(
    session: Session,
    config: Mapping,
    actor: Actor,
    document: NoticeDocument,
    *,
    account: Account,
    deliver: str,
    mailer: Mailer | None = None,
    to: str | None = None,
    **links: int | None,
) -> Notice:
    """Issue one notice for download, or e-mail it to the account's working address (or to
    `to`, an address given for this one message); flushes.

    E-mail to an account without a working address is refused (NoticeError);
    a permanent refusal marks the address bad (the notice stays recorded).
    """
    working = account.email and account.email_bounced_at is None
    if deliver == "email" and to is None and not working:
        raise NoticeError(f"account {account.number} has no working e-mail address")
    rendered = render_notice(document)
    notice = issue(
        session,
        config,
        actor,
        document,
        account=account,
        delivery=Delivery.EMAIL if deliver == "email" else Delivery.DOWNLOAD,
        rendered=rendered,
        **links,
    )
    if deliver == "email":
        mailer = mailer or Mailer.from_config(config)
        email_notice(session, config, actor, mailer, notice, rendered, account, to=to)
    return notice
