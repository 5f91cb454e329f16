"""The shutoff notice: for a utility account the rules let be shut off (notices.
shutoff_eligibility), a notice stating the past-due amount that stops the shutoff and the
earliest shutoff date; by mail always (the day's print batch), by e-mail too where the resident
chose paperless, and a copy to "Occupant" at the service address when the bills go elsewhere
(docs/shutoff.md, "The notice").

One notice per account and delinquency (its oldest past-due utility invoice): the ShutoffNotice
row's unique key makes a second issue for the same delinquency fail, whether from the daily job
or a clerk's request. A clerk's request for an account the rules exclude is refused with the
reasons. Services flush; the job commits account by account.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.closed_days import town_working_calendar
from billing.medical_certificates import ShutoffError
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.working_days import WorkingCalendar
from core.audit import Actor, record
from notices import content
from notices.bill_recipients import address_of, bill_recipient, same_address, service_address
from notices.document import NoticeDocument, NoticeKind, Recipient, Stub
from notices.issuing import can_email, email_notice, issue, render_notice
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice, NoticeBatch, ShutoffNotice
from notices.print_batches import Printed, _merge
from notices.scanline import scan_line
from notices.shutoff_eligibility import Eligibility, shutoff_eligibility
from notices.tenant_protections import issue_tenant_notices
from notices.text_messages import CANCELED, FAILED, send_notice_text
from notices.text_rules import shutoff_body
from notices.texts import texts_for

log = logging.getLogger(__name__)


def shutoff_document(
    session: Session, config: Mapping, account: Account, eligibility: Eligibility, invoice: Invoice
) -> NoticeDocument:
    """The account's notice: addressed where its bills go, asking the past-due utility balance
    (billing.position) by the earliest shutoff date."""
    on, cents, shutoff_on = eligibility.on, eligibility.past_due_cents, eligibility.earliest_shutoff
    assert shutoff_on is not None
    place = service_address(session, invoice)
    return NoticeDocument(
        kind=NoticeKind.SHUTOFF,
        language=account.language.value,
        letterhead=content.letterhead(config),
        recipient=bill_recipient(session, invoice, address_of(account)),
        account_number=account.number,
        access_code=content.access_code(config, account),
        issue_date=on,
        reference=f"S-{on:%Y%m%d}-{account.number}",
        service_location=", ".join(place.lines[:-1]) if place else "",
        due_date=shutoff_on,
        action_date=shutoff_on,
        amount_cents=cents,
        stubs=(
            Stub(
                account_number=account.number,
                amount_due_cents=cents,
                due_date=shutoff_on,
                scan_line=scan_line(account.number, cents, shutoff_on),
                pay_url=content.pay_url(config, account),
            ),
        ),
    )


def occupant_copy(document: NoticeDocument, occupant: Recipient) -> NoticeDocument:
    """The copy to "Occupant" at the service address: the same notice, saying why it came, without
    the account's quick-pay access code."""
    words = texts_for(document.language)["copy.occupant"]
    return replace(
        document,
        recipient=occupant,
        access_code=None,
        messages=(words.format(address=document.service_location), *document.messages),
    )


def _calendar(session: Session, config: Mapping) -> WorkingCalendar:
    return town_working_calendar(session, config.get("MUNICIPALITY_STATE", ""))


def issue_shutoff_notice(
    session: Session,
    config: Mapping,
    actor: Actor,
    account: Account,
    on: date,
    *,
    mailer: Mailer | None = None,
    calendar: WorkingCalendar | None = None,
) -> ShutoffNotice:
    """Issue the account's shutoff notice for its present delinquency (and the occupant's copy);
    e-mail it too when the account is paperless. ShutoffError with the reasons when the rules
    exclude the account or it was already noticed for this delinquency. Flushes, never commits."""
    eligibility = shutoff_eligibility(
        session, account, on, calendar=calendar or _calendar(session, config)
    )
    if eligibility.reasons:
        raise ShutoffError(
            f"no shutoff notice for account {account.number}: " + "; ".join(eligibility.reasons)
        )
    invoice = session.get(Invoice, eligibility.delinquency_invoice_id)
    earlier = session.scalar(
        sa.select(ShutoffNotice).where(
            ShutoffNotice.account_id == account.id, ShutoffNotice.invoice_id == invoice.id
        )
    )
    if earlier is not None:
        raise ShutoffError(
            f"account {account.number} was sent a shutoff notice for this delinquency on "
            f"{earlier.issued_on.isoformat()} (shutoff from {earlier.earliest_shutoff_on})"
        )
    document = shutoff_document(session, config, account, eligibility, invoice)
    rendered = render_notice(document)
    notice = issue(
        session,
        config,
        actor,
        document,
        account=account,
        delivery=Delivery.PRINT,
        invoice_id=invoice.id,
        rendered=rendered,
    )
    occupant = service_address(session, invoice)
    copy = None
    if occupant is not None and not same_address(document.recipient, occupant):
        copy = issue(
            session,
            config,
            actor,
            occupant_copy(document, occupant),
            account=account,
            delivery=Delivery.PRINT,
            invoice_id=invoice.id,
        )
        copy.copy_of_id = notice.id
    row = ShutoffNotice(
        account_id=account.id,
        invoice_id=invoice.id,
        notice_id=notice.id,
        occupant_notice_id=copy.id if copy else None,
        issued_on=on,
        amount_cents=eligibility.past_due_cents,
        earliest_shutoff_on=eligibility.earliest_shutoff,
        requested_by=actor.label,
    )
    session.add(row)
    session.flush()
    issue_tenant_notices(session, config, actor, row, on)
    record(
        session,
        actor,
        "shutoff_notice.issue",
        row,
        account=account.number,
        amount_cents=row.amount_cents,
        earliest_shutoff_on=row.earliest_shutoff_on.isoformat(),
        occupant_copy=copy is not None,
    )
    if can_email(account):
        # The printed notice goes whatever the e-mail does; its status is kept on the notice.
        email_notice(
            session, config, actor, mailer or Mailer.from_config(config), notice, rendered, account
        )
    return row


@dataclass
class Outcome:
    """What one run of the daily job did (or, dry, would do)."""

    noticed: int = 0
    emailed: int = 0
    occupant_copies: int = 0
    excluded: int = 0
    already_noticed: int = 0
    texted: int = 0
    batch_id: int | None = None

    def counts(self) -> dict:
        return {
            "noticed": self.noticed,
            "emailed": self.emailed,
            "occupant_copies": self.occupant_copies,
            "excluded": self.excluded,
            "already_noticed": self.already_noticed,
            "texted": self.texted,
        }


def _candidates(session: Session, as_of: date) -> list[int]:
    """The accounts with a utility bill past its due date and still open, by id."""
    return list(
        session.scalars(
            sa.select(Invoice.account_id)
            .where(
                Invoice.kind == InvoiceKind.UTILITY,
                Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)),
                Invoice.due_date < as_of,
            )
            .distinct()
            .order_by(Invoice.account_id)
        )
    )


def send_shutoff_notices(
    session: Session,
    config: Mapping,
    actor: Actor,
    *,
    as_of: date,
    dry_run: bool = False,
    mailer: Mailer | None = None,
) -> Outcome:
    """Notice every utility account the rules let be shut off and not yet noticed for its
    present delinquency, each committed on its own; then print the day's batch. dry_run counts
    and changes nothing."""
    outcome = Outcome()
    calendar = _calendar(session, config)
    ids = _candidates(session, as_of)
    for account_id in ids:
        account = session.get(Account, account_id)
        eligibility = shutoff_eligibility(session, account, as_of, calendar=calendar)
        if eligibility.reasons:
            outcome.excluded += 1
            continue
        noticed = session.scalar(
            sa.select(ShutoffNotice.id).where(
                ShutoffNotice.account_id == account_id,
                ShutoffNotice.invoice_id == eligibility.delinquency_invoice_id,
            )
        )
        if noticed is not None:
            outcome.already_noticed += 1
            continue
        if dry_run:
            outcome.noticed += 1
            continue
        try:
            row = issue_shutoff_notice(
                session, config, actor, account, as_of, mailer=mailer, calendar=calendar
            )
            emailed = session.get(Notice, row.notice_id).emailed_at is not None
            session.commit()
        except IntegrityError:
            # The same delinquency noticed at the same moment by another run or a clerk.
            session.rollback()
            outcome.already_noticed += 1
            continue
        outcome.noticed += 1
        outcome.emailed += int(emailed)
        outcome.occupant_copies += int(row.occupant_notice_id is not None)
        outcome.texted += int(text_shutoff_notice(session, config, row))
    if dry_run:
        session.rollback()
        return outcome
    outcome.batch_id = print_shutoff_batch(session, config, actor, as_of)
    return outcome


def text_shutoff_notice(session: Session, config: Mapping, row: ShutoffNotice) -> bool:
    """Text the committed notice where the resident chose texts (notices.text_messages): the
    town, the amount that stops the shutoff, its earliest date, where to pay. True when a text
    went or waits for the end of the quiet hours. Never raises: the mailed notice stands."""
    account = session.get(Account, row.account_id)
    body = shutoff_body(
        account.language.value,
        config["MUNICIPALITY_NAME"],
        row.amount_cents,
        row.earliest_shutoff_on,
        content.pay_url(config, account),
    )
    try:
        text = send_notice_text(session, config, session.get(Notice, row.notice_id), body)
    except Exception:  # noqa: BLE001 - the notice is mailed whatever becomes of its text
        session.rollback()
        log.exception("texting the shutoff notice of account %s failed", account.number)
        return False
    return text is not None and text.status not in (FAILED, CANCELED)


def print_shutoff_batch(session: Session, config: Mapping, actor: Actor, as_of: date) -> int | None:
    """Merge the shutoff notices (and occupant copies) not in a batch yet into one print batch;
    commits. The batch's id, or None when nothing was left to print."""
    rows = session.execute(
        sa.select(Notice, Account)
        .join(Account, Account.id == Notice.account_id)
        .where(
            Notice.kind == NoticeKind.SHUTOFF,
            Notice.delivery == Delivery.PRINT,
            Notice.batch_id.is_(None),
        )
        .order_by(Notice.id)
    ).all()
    if not rows:
        return None
    # "shut-2026-12-07": notice_batch.cycle holds 16 characters.
    batch = NoticeBatch(
        kind=NoticeKind.SHUTOFF, cycle=f"shut-{as_of:%Y-%m-%d}", created_by=actor.label
    )
    session.add(batch)
    session.flush()
    printed = []
    for notice, account in rows:
        notice.batch_id = batch.id
        printed.append(
            Printed(
                content.recipient(account).zip_code,
                account.number,
                notice.id,
                notice.pages,
                notice.sha256,
                notice.path,
            )
        )
    printed.sort(key=lambda item: (item.zip_code, item.account_number, item.notice_id))
    _merge(config, batch, printed)
    batch.printed = len(printed)
    record(session, actor, "notice_batch.create", batch, cycle=batch.cycle, printed=batch.printed)
    session.commit()
    return batch.id
