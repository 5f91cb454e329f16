"""The PDFs a resident downloads: the bill as it was sent, a receipt, any other notice;
and a receipt e-mailed to an address the resident gives.

A bill or receipt that was never printed or e-mailed is issued on first download
(delivery "download") and kept, so the next download is the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice
from core.audit import Actor, record
from notices import content
from notices.document import NoticeKind
from notices.issuing import issue, issue_and_deliver, open_pdf
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice
from payments.models import Receipt

log = logging.getLogger(__name__)

BILL_KINDS = (NoticeKind.UTILITY_BILL, NoticeKind.TAX_BILL)


def _latest(session: Session, *conditions) -> Notice | None:
    return session.scalar(sa.select(Notice).where(*conditions).order_by(Notice.id.desc()).limit(1))


def bill_notice(session: Session, config: Mapping, actor: Actor, invoice: Invoice) -> Notice:
    """The bill notice of an invoice as it went out (never an owner's copy of it), or one
    issued now for download."""
    notice = _latest(
        session,
        Notice.invoice_id == invoice.id,
        Notice.kind.in_(BILL_KINDS),
        Notice.account_id == invoice.account_id,
        Notice.copy_of_id.is_(None),
    )
    if notice is not None:
        return notice
    document = content.bill(session, config, invoice)
    return issue(
        session,
        config,
        actor,
        document,
        account=invoice.account,
        delivery=Delivery.DOWNLOAD,
        invoice_id=invoice.id,
    )


def receipt_notice(session: Session, config: Mapping, actor: Actor, receipt: Receipt) -> Notice:
    """The receipt PDF of a payment, issued on first download."""
    notice = _latest(
        session, Notice.payment_id == receipt.payment_id, Notice.kind == NoticeKind.RECEIPT
    )
    if notice is not None:
        return notice
    document = content.receipt(session, config, receipt)
    return issue(
        session,
        config,
        actor,
        document,
        account=receipt.payment.account,
        delivery=Delivery.DOWNLOAD,
        payment_id=receipt.payment_id,
    )


def email_receipt(
    session: Session, config: Mapping, actor: Actor, receipt: Receipt, address: str
) -> str:
    """E-mail a receipt's PDF to an address a resident gave, once; flushes; returns the outcome
    (sent, written, bounced, failed).

    The address is kept on the notice sent (to whom, with what outcome) and nowhere
    else: not on the account, and a refusal does not mark the account's own address bad.
    The sending is audited (receipt, notice and outcome).
    """
    try:
        mailer = Mailer.from_config(config)
    except ValueError:
        log.exception("e-mail is not configured; receipt %s was not sent", receipt.number)
        return "failed"
    notice = issue_and_deliver(
        session,
        config,
        actor,
        content.receipt(session, config, receipt),
        account=receipt.payment.account,
        deliver="email",
        mailer=mailer,
        to=address,
        payment_id=receipt.payment_id,
    )
    record(
        session,
        actor,
        "receipt.email",
        receipt.payment,
        receipt=receipt.number,
        notice=notice.id,
        outcome=notice.email_status,
    )
    return notice.email_status


def pdf_bytes(config: Mapping, notice: Notice) -> bytes:
    """The stored file, checked against its hash (NoticeError or OSError if it is not intact)."""
    return open_pdf(config, notice)


def download_name(notice: Notice) -> str:
    """A file name the resident recognises: 'utility_bill-2026-000123.pdf'."""
    return f"{notice.kind.value}-{notice.reference}.pdf".replace("/", "-")
