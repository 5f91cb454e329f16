"""The 48-hour notice the ways the resident chose (docs/shutoff.md, "The 48-hour notice"):
besides the door hanger left at the service address, a text where the account consented to
texts and an e-mail with the hanger's PDF to a paperless account with a working address.

The hanger becomes a notice (`Notice`, kind shutoff, delivered by e-mail or for download only,
never in a print batch: the paper is the hanger at the door) so its PDF is kept by its hash and
the text has its notice (one text per account and notice). Call after the hanger is committed:
the text commits, and a failed e-mail or text leaves the hanger as it is.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from accounts.models import Account
from billing.models import DoorHanger
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from notices import content
from notices.document import NoticeKind
from notices.issuing import Rendered, can_email, store_pdf
from notices.mail_delivery import Mailer
from notices.mail_message import Message, format_date
from notices.models import Delivery, Notice
from notices.shutoff_field_pdf import hangers_pdf
from notices.text_messages import CANCELED, FAILED, active_consent, send_notice_text
from notices.text_rules import shutoff_body
from notices.texts import texts_for

log = logging.getLogger(__name__)


@dataclass
class Delivered:
    """How one hanger also reached the account."""

    texted: bool = False
    emailed: bool = False


def _wants_text(session, config: Mapping, account: Account) -> bool:
    return bool(config.get("TEXTS_ENABLED")) and active_consent(session, account.id) is not None


def hanger_notice(
    session, config: Mapping, actor: Actor, hanger: DoorHanger, *, email: bool
) -> tuple[Notice, bytes]:
    """The hanger's notice (made once: its PDF stored under NOTICES_DIR) and the PDF. Flushes."""
    pdf = hangers_pdf(session, config, [hanger])
    if hanger.notice_id is not None:
        return session.get(Notice, hanger.notice_id), pdf
    digest = hashlib.sha256(pdf).hexdigest()
    # NOTE: the hanger's page is drawn by the field papers, not a NoticeDocument.
    path = store_pdf(config, Rendered(None, pdf, digest, 1))  # type: ignore[arg-type]
    notice = Notice(
        kind=NoticeKind.SHUTOFF,
        account_id=hanger.account_id,
        invoice_id=hanger.invoice_id,
        language=hanger.language,
        reference=f"48-hour {hanger.shutoff_on.isoformat()}",
        sha256=digest,
        pages=1,
        path=path,
        delivery=Delivery.EMAIL if email else Delivery.DOWNLOAD,
        created_by=actor.label,
    )
    session.add(notice)
    session.flush()
    hanger.notice_id = notice.id
    record(session, actor, "notice.issue", notice, kind="door_hanger", sha256=digest)
    return notice, pdf


def hanger_message(config: Mapping, account: Account, hanger: DoorHanger, pdf: bytes) -> Message:
    """The hanger's e-mail in the account's language, the hanger's PDF attached."""
    words = texts_for(hanger.language)
    when = format_date(hanger.shutoff_on, hanger.language)
    lines = [
        str(words["hanger.body"]).format(
            address=hanger.service_address,
            account=account.number,
            date=when,
            amount=format_cents(hanger.amount_cents),
        ),
        "",
        str(words["hanger.pay"]),
        content.pay_url(config, account),
        "",
        str(words["hanger.medical"]).format(date=when),
    ]
    text = "\n".join(lines) + "\n"
    return Message(
        to=account.email,
        subject=str(words["hanger.subject"]).format(town=config["MUNICIPALITY_NAME"]),
        text=text,
        html="<p>" + "<br>".join(escape(line) for line in lines) + "</p>",
        attachment_name=f"48-hour-notice-{account.number}.pdf",
        attachment=pdf,
        language=hanger.language,
    )


def deliver_door_hanger(
    session, config: Mapping, actor: Actor, hanger: DoorHanger, *, mailer: Mailer | None = None
) -> Delivered:
    """Text and e-mail a committed hanger where the account chose them; commits. Never raises:
    the hanger at the door stands whatever becomes of its text or e-mail."""
    done = Delivered()
    account = session.get(Account, hanger.account_id)
    email, text = can_email(account), _wants_text(session, config, account)
    if not (email or text):
        return done
    try:
        notice, pdf = hanger_notice(session, config, actor, hanger, email=email)
        session.commit()
    except Exception:  # noqa: BLE001 - the hanger was left at the door
        session.rollback()
        log.exception("the 48-hour notice of account %s could not be stored", account.number)
        return done
    if email and notice.emailed_at is None:
        done.emailed = _email(session, config, actor, mailer, notice, account, hanger, pdf)
    if text:
        done.texted = _text(session, config, notice, account, hanger)
    return done


def _email(session, config, actor, mailer, notice, account, hanger, pdf) -> bool:
    try:
        outcome = (mailer or Mailer.from_config(config)).send(
            hanger_message(config, account, hanger, pdf)
        )
    except Exception:  # noqa: BLE001 - the hanger was left at the door
        log.exception("e-mailing the 48-hour notice of account %s failed", account.number)
        return False
    notice.email_to, notice.email_status = account.email, outcome.status
    went = outcome.status in ("sent", "written")
    if went:
        notice.emailed_at = utcnow()
    elif outcome.status == "bounced":
        account.email_bounced_at = utcnow()
        record(session, actor, "account.email_bounced", account, email=account.email)
    session.commit()
    return went


def _text(session, config, notice, account, hanger) -> bool:
    body = shutoff_body(
        hanger.language,
        config["MUNICIPALITY_NAME"],
        hanger.amount_cents,
        hanger.shutoff_on,
        content.pay_url(config, account),
        kind="hanger",
    )
    try:
        sent = send_notice_text(session, config, notice, body)
    except Exception:  # noqa: BLE001 - the hanger was left at the door
        session.rollback()
        log.exception("texting the 48-hour notice of account %s failed", account.number)
        return False
    return sent is not None and sent.status not in (FAILED, CANCELED)
