"""Text messages to residents who chose them (docs/texts.md): their recorded consent, the texts
of notices (one per account and notice), the welcome text, quiet hours, and what Twilio says
of each text afterwards.

Sending commits. A text is first recorded (held, committed: the claim the unique key
guards), then handed to Twilio with no database transaction open, so the call never holds a
lock; its answer is committed after. Call these after the notice itself is committed: a text
that fails leaves the notice as it is, as a failed e-mail does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.calendar import town_zone
from core.db import utcnow
from core.settings import ConfigError
from notices.models import Notice, TextConsent, TextMessage
from notices.sms_gateway import SmsError, SmsGateway, SmsUnreachable
from notices.text_rules import (
    CONSENT_VERSION,
    MAX_SEGMENTS,
    normalize_us_mobile,
    quiet_until,
    segments,
)
from notices.text_rules import words as words_of

log = logging.getLogger(__name__)

HELD, SUBMITTING, FAILED, CANCELED = "held", "submitting", "failed", "canceled"
#: Twilio's statuses by how far along they are: a late callback never moves a text back.
PROGRESS = {
    HELD: 0,
    SUBMITTING: 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
    CANCELED: 6,
}
#: Twilio's error codes that mean the number cannot get our texts: invalid number (21211),
#: not a mobile number (21614), the recipient replied STOP to our sender (21610).
ENDS_CONSENT = {21211, 21610, 21614}
#: Twilio out of reach: tried again this much later, at most this many times.
RETRY_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 3
PROVIDER = Actor("provider", None, "twilio", "webhook")


class TextError(ValueError):
    """A text that may not be sent as asked; the message says why."""


# Consent.


def active_consent(session: Session, account_id: int) -> TextConsent | None:
    """The account's consent to texts in force, if any."""
    return session.scalar(
        sa.select(TextConsent)
        .where(TextConsent.account_id == account_id, TextConsent.ended_at.is_(None))
        .order_by(TextConsent.id.desc())
        .limit(1)
    )


def consent_wording(config: Mapping, account: Account, language: str) -> str:
    """The consent words shown beside the box (and stored with the consent)."""
    return words_of(language)["consent"].format(
        town=config["MUNICIPALITY_NAME"], account=account.number
    )


def give_consent(
    session: Session,
    config: Mapping,
    actor: Actor,
    account: Account,
    raw_phone: str,
    language: str,
    *,
    user_agent: str | None,
) -> TextConsent:
    """Record a resident's express consent to texts about the account, with the words shown,
    their version, the time, the address and the browser; a consent already in force ends.
    BadNumber (text_rules) with the reason for a number that cannot get texts. Flushes."""
    phone = normalize_us_mobile(raw_phone)
    language = language if language in ("en", "es") else "en"
    earlier = active_consent(session, account.id)
    if earlier is not None:
        _end(session, actor, earlier, "replaced")
    consent = TextConsent(
        account_id=account.id,
        phone=phone,
        language=language,
        wording_version=CONSENT_VERSION,
        wording=consent_wording(config, account, language),
        consented_at=utcnow(),
        given_via="portal",
        given_by=actor.label,
        ip=actor.origin,
        user_agent=(user_agent or "")[:512] or None,
    )
    session.add(consent)
    session.flush()
    record(
        session,
        actor,
        "text_consent.give",
        consent,
        account=account.number,
        phone=phone,
        wording_version=CONSENT_VERSION,
    )
    return consent


def _end(session: Session, actor: Actor, consent: TextConsent, via: str) -> None:
    consent.ended_at = utcnow()
    consent.ended_via = via[:64]
    session.flush()
    record(session, actor, "text_consent.end", consent, phone=consent.phone, via=consent.ended_via)


def end_consent(session: Session, actor: Actor, account: Account, via: str) -> TextConsent | None:
    """End the account's consent (the resident's choice in the portal); None if none was in
    force. Flushes."""
    consent = active_consent(session, account.id)
    if consent is not None:
        _end(session, actor, consent, via)
    return consent


def stop_number(session: Session, phone: str) -> list[TextConsent]:
    """A STOP reply from the number: every consent in force for it ends. Flushes."""
    ended = list(
        session.scalars(
            sa.select(TextConsent).where(TextConsent.phone == phone, TextConsent.ended_at.is_(None))
        )
    )
    for consent in ended:
        _end(session, PROVIDER, consent, "reply STOP")
    return ended


def start_number(session: Session, phone: str) -> list[TextConsent]:
    """A START reply from the number: each account whose texts to it were last ended by a STOP
    reply gets them again, as a new consent given by that reply. Flushes."""
    resumed = []
    account_ids = session.scalars(
        sa.select(TextConsent.account_id).where(TextConsent.phone == phone).distinct()
    )
    for account_id in list(account_ids):
        last = session.scalar(
            sa.select(TextConsent)
            .where(TextConsent.account_id == account_id)
            .order_by(TextConsent.id.desc())
            .limit(1)
        )
        if last.phone != phone or last.ended_via != "reply STOP":
            continue
        consent = TextConsent(
            account_id=account_id,
            phone=phone,
            language=last.language,
            wording_version=last.wording_version,
            wording=last.wording,
            consented_at=utcnow(),
            given_via="reply START",
            given_by=phone,
        )
        session.add(consent)
        session.flush()
        record(session, PROVIDER, "text_consent.give", consent, phone=phone, via="reply START")
        resumed.append(consent)
    return resumed


def consents_of_number(session: Session, phone: str) -> list[TextConsent]:
    """The consents ever given for a number, newest first."""
    return list(
        session.scalars(
            sa.select(TextConsent).where(TextConsent.phone == phone).order_by(TextConsent.id.desc())
        )
    )


# Sending.


def send_notice_text(
    session: Session, config: Mapping, notice: Notice, words: str
) -> TextMessage | None:
    """Text a notice to its account's consented number: `words` is the body, in the account's
    language, at most two SMS segments (text_rules.segments; TextError otherwise) and never the
    access code. One text per account and notice: asked again, the first is returned. None when
    texting is off or the account has no consent in force. Commits (see the module's doc)."""
    if not config.get("TEXTS_ENABLED"):
        return None
    if segments(words) > MAX_SEGMENTS:
        raise TextError(f"a notice's text takes {segments(words)} segments, at most {MAX_SEGMENTS}")
    consent = active_consent(session, notice.account_id)
    if consent is None:
        return None
    return _queue(session, config, consent, "notice", words, notice.id)


def send_welcome(session: Session, config: Mapping, consent: TextConsent) -> TextMessage | None:
    """The text that confirms a new consent, with the HELP and STOP words. Commits."""
    if not config.get("TEXTS_ENABLED"):
        return None
    account = session.get(Account, consent.account_id)
    body = words_of(consent.language)["welcome"].format(
        town=config["MUNICIPALITY_NAME"], account=account.number
    )
    return _queue(session, config, consent, "welcome", body, None)


def _queue(
    session: Session,
    config: Mapping,
    consent: TextConsent,
    purpose: str,
    body: str,
    notice_id: int | None,
) -> TextMessage:
    """Record the text held (committed), then send it unless the quiet hours hold."""
    if notice_id is not None:
        earlier = _text_of_notice(session, consent.account_id, notice_id)
        if earlier is not None:
            return earlier
    now = utcnow()
    wait = quiet_until(now, town_zone(config), config["TEXT_QUIET_HOURS"])
    message = TextMessage(
        account_id=consent.account_id,
        notice_id=notice_id,
        consent_id=consent.id,
        purpose=purpose,
        to_number=consent.phone,
        body=body,
        status=HELD,
        send_after=wait or now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # NOTE: the same notice texted at the same moment by another run: that one goes.
        session.commit()
        return _text_of_notice(session, consent.account_id, notice_id)
    session.commit()
    if wait is not None:
        return message
    return deliver(session, config, message)


def _text_of_notice(session: Session, account_id: int, notice_id: int) -> TextMessage | None:
    return session.scalar(
        sa.select(TextMessage).where(
            TextMessage.account_id == account_id, TextMessage.notice_id == notice_id
        )
    )


def deliver(
    session: Session, config: Mapping, message: TextMessage, *, gateway: SmsGateway | None = None
) -> TextMessage:
    """Hand a held text to Twilio now, unless its consent ended (canceled) or the quiet hours
    hold (held until they end). Commits before the call and after it."""
    if message.status != HELD:
        return message
    now = utcnow()
    consent = session.get(TextConsent, message.consent_id)
    if consent.ended_at is not None:
        message.status, message.status_at = CANCELED, now
        session.commit()
        return message
    wait = quiet_until(now, town_zone(config), config["TEXT_QUIET_HOURS"])
    if wait is not None:
        message.send_after = wait
        session.commit()
        return message
    message.status, message.attempts = SUBMITTING, message.attempts + 1
    to, body, message_id = message.to_number, message.body, message.id
    session.commit()
    # NOTE: no transaction is open during the call: it holds no lock however long it takes.
    try:
        gateway = gateway or SmsGateway.from_config(config)
        sent = gateway.send(to, body, f"{config['PUBLIC_BASE_URL']}/webhooks/twilio/status")
    except ConfigError as error:
        _settle(session, message_id, CANCELED, message=str(error))
    except SmsUnreachable as error:
        _unreachable(session, message_id, error)
    except SmsError as error:
        _refused(session, message_id, error)
    else:
        row = session.get(TextMessage, message_id)
        row.provider_sid, row.sent_at = sent.sid, utcnow()
        _settle(session, message_id, sent.status)
    return session.get(TextMessage, message_id)


def _settle(
    session: Session,
    message_id: int,
    status: str,
    *,
    code: int | None = None,
    message: str | None = None,
) -> None:
    row = session.get(TextMessage, message_id)
    row.status, row.status_at = status, utcnow()
    row.error_code = code
    row.error_message = message[:255] if message else None
    session.commit()


def _unreachable(session: Session, message_id: int, error: SmsError) -> None:
    """Twilio did not answer: held for another try later, or failed after the last."""
    row = session.get(TextMessage, message_id)
    log.warning("text %s: Twilio did not answer (try %s): %s", message_id, row.attempts, error)
    if row.attempts < MAX_ATTEMPTS:
        row.send_after = utcnow() + RETRY_AFTER
        _settle(session, message_id, HELD, code=error.code, message=str(error))
    else:
        _settle(session, message_id, FAILED, code=error.code, message=str(error))


def _refused(session: Session, message_id: int, error: SmsError) -> None:
    """Twilio refused the text: failed with its code; a number that cannot get texts ends the
    consent."""
    _settle(session, message_id, FAILED, code=error.code, message=str(error))
    row = session.get(TextMessage, message_id)
    if error.code in ENDS_CONSENT:
        consent = session.get(TextConsent, row.consent_id)
        if consent.ended_at is None:
            _end(session, PROVIDER, consent, f"refused by Twilio ({error.code})")
            session.commit()


def send_held_texts(session: Session, config: Mapping, *, limit: int = 500) -> dict:
    """Send the held texts whose time has come (the quiet hours ended, or a retry is due)."""
    ids = session.scalars(
        sa.select(TextMessage.id)
        .where(TextMessage.status == HELD, TextMessage.send_after <= utcnow())
        .order_by(TextMessage.id)
        .limit(limit)
    ).all()
    counts = {"sent": 0, "held": 0, "failed": 0, "canceled": 0}
    for message_id in ids:
        row = deliver(session, config, session.get(TextMessage, message_id))
        if row.status in (HELD, FAILED, CANCELED):
            counts[row.status] += 1
        else:
            counts["sent"] += 1
    return counts


def record_status(
    session: Session, sid: str, status: str, error_code: str | None, at: datetime | None = None
) -> TextMessage | None:
    """What Twilio's status callback says of a text: kept unless the text is already further
    along (callbacks may come out of order). None for a SID we never sent. Flushes."""
    row = session.scalar(sa.select(TextMessage).where(TextMessage.provider_sid == sid))
    if row is None:
        return None
    if PROGRESS.get(status, 0) >= PROGRESS.get(row.status, 0):
        row.status, row.status_at = status[:16], at or utcnow()
        if error_code and error_code.isdigit():
            row.error_code = int(error_code)
        session.flush()
    return row


def consents_of_account(session: Session, account_id: int) -> list[TextConsent]:
    """Every consent to texts given for the account, newest first (the staff see them)."""
    return list(
        session.scalars(
            sa.select(TextConsent)
            .where(TextConsent.account_id == account_id)
            .order_by(TextConsent.id.desc())
        )
    )


def texts_of_account(session: Session, account_id: int, limit: int = 20) -> list[TextMessage]:
    """The account's texts, newest first."""
    return list(
        session.scalars(
            sa.select(TextMessage)
            .where(TextMessage.account_id == account_id)
            .order_by(TextMessage.id.desc())
            .limit(limit)
        )
    )
