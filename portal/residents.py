"""Registered residents: sign-up, the e-mail check, sign-in with a lockout, password reset,
and the accounts a resident links by proving each one's access code.

Nothing here tells a stranger whether an e-mail address is registered: sign-up with a
known address answers like a new one (and warns the owner by e-mail), a reset request
answers the same either way, and a sign-in does the same hashing work for an unknown
address. Links sent by e-mail are signed with the app's secret key (itsdangerous) and
carry their issue time; a reset link also carries the password version, so it works once.
Those e-mails are written and sent after the answer (portal.mail.after_the_answer), so a
known and an unknown address cost the request the same work.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from accounts.models import Account
from core.audit import Actor, record
from core.lockouts import stranger_failed
from core.text import typed_address
from notices.mail_delivery import Delivery
from payments.payflow import open_bills
from portal.mail import send_email
from portal.models import Autopay, PortalSession, Resident, ResidentAccount

MIN_PASSWORD_LENGTH = 12
VERIFY_SALT = "munibill.resident.verify"
RESET_SALT = "munibill.resident.reset"  # noqa: S105 - a salt, not a secret
VERIFY_FOR = timedelta(hours=48)
RESET_FOR = timedelta(hours=1)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Checked when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH = generate_password_hash("not a resident's password")


class AlreadyRegistered(Exception):
    """The e-mail already has a resident (the page must not say so)."""

    def __init__(self, resident: Resident):
        super().__init__(resident.email)
        self.resident = resident


class AlreadyLinked(Exception):
    """The resident had already linked this account."""


class CodeChanged(Exception):
    """The account's access code was reissued after the resident's code was checked."""


class NeedsEmail(Exception):
    """Paperless needs a working e-mail address on the account, and it has none."""


class Refusal(enum.StrEnum):
    """Why a sign-in was refused."""

    WRONG = "wrong"
    LOCKED = "locked"
    UNVERIFIED = "unverified"


class SignInRefused(Exception):
    """A refused sign-in: the reason, and for a lock the minutes left."""

    def __init__(self, reason: Refusal, minutes: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.minutes = minutes


class TokenProblem(enum.StrEnum):
    """What is wrong with a link from an e-mail."""

    EXPIRED = "expired"
    INVALID = "invalid"
    USED = "used"


class BadToken(Exception):
    """A link that cannot be used, and why."""

    def __init__(self, problem: TokenProblem):
        super().__init__(problem)
        self.problem = problem


def normalize_email(text: str | None) -> str:
    """An e-mail address as stored: trimmed, lower case."""
    return (text or "").strip().lower()[:254]


def looks_like_email(text: str) -> bool:
    """True for something@somewhere.tld (the real check is the e-mail we send)."""
    return bool(_EMAIL_RE.match(text))


def resident_by_email(session: Session, email: str) -> Resident | None:
    """The resident with this e-mail address, if any."""
    return session.scalar(sa.select(Resident).where(Resident.email == normalize_email(email)))


def resident_actor(resident: Resident, origin: str | None) -> Actor:
    """The actor of what a resident does."""
    return Actor("resident", str(resident.id), resident.email, origin)


def register(
    session: Session,
    *,
    email: str,
    password: str,
    account: Account,
    language: str,
    origin: str | None,
) -> Resident:
    """A new, unverified resident linked to the account; AlreadyRegistered for a known e-mail."""
    email = normalize_email(email)
    password_hash = generate_password_hash(password)  # the same work either way
    existing = resident_by_email(session, email)
    if existing is not None:
        record(session, resident_actor(existing, origin), "resident.register_again", existing)
        raise AlreadyRegistered(existing)
    resident = Resident(email=email, password_hash=password_hash, language=language)
    session.add(resident)
    session.flush()
    session.add(ResidentAccount(resident=resident, account=account))
    session.flush()
    actor = resident_actor(resident, origin)
    record(session, actor, "resident.register", resident, after={"email": email})
    record(session, actor, "resident.link", account, resident_id=resident.id)
    return resident


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def _read(secret: str, salt: str, token: str, *, now: datetime, valid_for: timedelta) -> dict:
    """The payload of a signed token no older than valid_for; else BadToken."""
    try:
        payload, signed_at = _serializer(secret, salt).loads(token, return_timestamp=True)
    except BadSignature:
        raise BadToken(TokenProblem.INVALID) from None
    if not isinstance(payload, dict):
        raise BadToken(TokenProblem.INVALID)
    if now - signed_at.astimezone(UTC) > valid_for:
        raise BadToken(TokenProblem.EXPIRED)
    return payload


def verification_token(secret: str, resident: Resident) -> str:
    """The signed part of the link that confirms the resident's e-mail address."""
    return _serializer(secret, VERIFY_SALT).dumps({"r": resident.id, "e": resident.email})


def verify(session: Session, secret: str, token: str, *, now: datetime) -> Resident:
    """Confirm the e-mail address of the link's resident (again is harmless); else BadToken."""
    payload = _read(secret, VERIFY_SALT, token, now=now, valid_for=VERIFY_FOR)
    resident = (
        session.get(Resident, payload.get("r")) if isinstance(payload.get("r"), int) else None
    )
    if resident is None or resident.email != payload.get("e"):
        raise BadToken(TokenProblem.INVALID)
    if resident.verified_at is None:
        resident.verified_at = now
        record(session, resident_actor(resident, None), "resident.verify", resident)
    return resident


def unverified(session: Session, email: str) -> Resident | None:
    """The resident to send a new confirmation link to, if the address is registered and unconfirmed."""
    resident = resident_by_email(session, email)
    return resident if resident is not None and resident.verified_at is None else None


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    origin: str | None,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> Resident:
    """Check a sign-in; count failures and lock the resident after max_failures in a row."""
    resident = resident_by_email(session, email)
    if resident is None:
        check_password_hash(_DUMMY_HASH, password)
        # NOTE: an unknown address is locked like a real one, so the lockout names no one.
        locked = stranger_failed(
            session,
            Actor("anonymous", None, typed_address(email), origin),
            "resident",
            "Resident",
            now=now,
            max_failures=max_failures,
            lockout=lockout,
        )
        if locked is None:
            raise SignInRefused(Refusal.WRONG)
        raise SignInRefused(Refusal.LOCKED, _minutes(locked.left))
    actor = resident_actor(resident, origin)
    matches = check_password_hash(resident.password_hash, password)
    if resident.locked_until is not None and resident.locked_until > now:
        record(session, actor, "resident.login_refused", resident, reason="locked")
        raise SignInRefused(Refusal.LOCKED, _minutes(resident.locked_until - now))
    if not matches:
        resident.failed_logins += 1
        record(session, actor, "resident.login_failed", resident, failures=resident.failed_logins)
        if resident.failed_logins >= max_failures:
            resident.locked_until = now + lockout
            resident.failed_logins = 0
            record(session, actor, "resident.locked", resident, until=resident.locked_until)
            raise SignInRefused(Refusal.LOCKED, _minutes(lockout))
        raise SignInRefused(Refusal.WRONG)
    resident.failed_logins = 0
    resident.locked_until = None
    if resident.verified_at is None:
        record(session, actor, "resident.login_refused", resident, reason="unverified")
        raise SignInRefused(Refusal.UNVERIFIED)
    resident.last_login_at = now
    record(session, actor, "resident.login", resident)
    return resident


def _minutes(left: timedelta) -> int:
    """Whole minutes, rounded up, at least one."""
    return max(1, -(-int(left.total_seconds()) // 60))


def reset_token(secret: str, resident: Resident) -> str:
    """The signed part of a password-reset link; it names the current password version."""
    return _serializer(secret, RESET_SALT).dumps({"r": resident.id, "v": resident.password_version})


def resident_of_reset(session: Session, secret: str, token: str, *, now: datetime) -> Resident:
    """The resident a reset link is for, while it is fresh and unused; else BadToken."""
    payload = _read(secret, RESET_SALT, token, now=now, valid_for=RESET_FOR)
    resident = (
        session.get(Resident, payload.get("r")) if isinstance(payload.get("r"), int) else None
    )
    if resident is None:
        raise BadToken(TokenProblem.INVALID)
    if resident.password_version != payload.get("v"):
        raise BadToken(TokenProblem.USED)
    return resident


def reset_requested(session: Session, resident: Resident, *, origin: str | None) -> None:
    """Audit a password-reset request for a registered address."""
    record(session, resident_actor(resident, origin), "resident.reset_requested", resident)


def change_password(
    session: Session, resident: Resident, password: str, *, now: datetime, origin: str | None
) -> None:
    """A new password: earlier reset links stop working and every open session ends."""
    resident.password_hash = generate_password_hash(password)
    resident.password_version += 1
    resident.failed_logins = 0
    resident.locked_until = None
    if resident.verified_at is None:
        resident.verified_at = now  # the reset link reached the address
    ended = end_sessions(session, resident.id, now)
    record(
        session,
        resident_actor(resident, origin),
        "resident.password_reset",
        resident,
        sessions_ended=ended,
    )


def end_sessions(session: Session, resident_id: int, now: datetime) -> int:
    """End every open portal session of the resident; returns how many."""
    rows = session.scalars(
        sa.select(PortalSession).where(
            PortalSession.resident_id == resident_id, PortalSession.ended_at.is_(None)
        )
    ).all()
    for row in rows:
        row.ended_at = now
    session.flush()
    return len(rows)


def links_of(session: Session, resident_id: int) -> list[ResidentAccount]:
    """The resident's linked accounts, in the order they were linked."""
    return list(
        session.scalars(
            sa.select(ResidentAccount)
            .where(ResidentAccount.resident_id == resident_id)
            .order_by(ResidentAccount.id)
        )
    )


def link_by_number(session: Session, resident_id: int, number: str) -> ResidentAccount | None:
    """The resident's link to the account with this number, if there is one."""
    return session.scalar(
        sa.select(ResidentAccount)
        .join(Account, Account.id == ResidentAccount.account_id)
        .where(ResidentAccount.resident_id == resident_id, Account.number == number[:12])
    )


def link_account(
    session: Session, actor: Actor, resident: Resident, account: Account, nickname: str | None
) -> ResidentAccount:
    """Link an account whose access code the resident proved; AlreadyLinked if it is."""
    if link_by_number(session, resident.id, account.number) is not None:
        raise AlreadyLinked
    proven = account.access_code_version
    link = ResidentAccount(resident=resident, account=account, nickname=nickname or None)
    session.add(link)
    session.flush()
    # NOTE: a code reissued since it was checked ends links; one made meanwhile must not stay.
    current = session.scalar(sa.select(Account.access_code_version).where(Account.id == account.id))
    if current != proven:
        raise CodeChanged
    record(session, actor, "resident.link", account, resident_id=resident.id)
    return link


def unlink_account(session: Session, actor: Actor, link: ResidentAccount) -> Account | None:
    """The resident removes a link; the resident's sessions that showed the account move to
    another one. Returns the account those sessions show now (None when no link is left).
    """
    resident_id, account = link.resident_id, link.account
    instead = drop_link(session, link)
    record(session, actor, "resident.unlink", account, resident_id=resident_id)
    return instead


def drop_link(session: Session, link: ResidentAccount) -> Account | None:
    """Delete a link and move the resident's open sessions that showed its account to another
    linked account (or none). Returns that account; audits nothing."""
    resident_id, account = link.resident_id, link.account
    session.delete(link)
    session.flush()
    remaining = links_of(session, resident_id)
    instead = remaining[0].account if remaining else None
    rows = session.scalars(
        sa.select(PortalSession).where(
            PortalSession.resident_id == resident_id,
            PortalSession.account_id == account.id,
            PortalSession.ended_at.is_(None),
        )
    ).all()
    for row in rows:
        row.account = instead
    session.flush()
    return instead


@dataclass(frozen=True)
class LinkedAccount:
    """One row of a resident's accounts page."""

    link: ResidentAccount
    account: Account
    owed_cents: int
    autopay: Autopay | None


def linked_accounts(session: Session, resident_id: int) -> list[LinkedAccount]:
    """The resident's accounts with what each owes now and its autopay enrollment."""
    rows = []
    for link in links_of(session, resident_id):
        account = link.account
        owed = sum(cents for _invoice, cents in open_bills(session, account))
        autopay = session.scalar(
            sa.select(Autopay).where(Autopay.account_id == account.id, Autopay.active.is_(True))
        )
        rows.append(LinkedAccount(link, account, owed, autopay))
    return rows


def lookup_failed(session: Session, actor: Actor, action: str) -> None:
    """Audit an access-code check that failed (the typed code is never recorded)."""
    record(session, actor, action, object_type="Account")


def has_working_email(account: Account) -> bool:
    """True when e-mailed bills can reach the account."""
    return bool(account.email) and account.email_bounced_at is None


def set_paperless(
    session: Session, actor: Actor, account: Account, on: bool, *, use_email: str | None = None
) -> None:
    """Turn e-mailed bills on or off; on needs a working address (use_email gives one)."""
    if on and use_email:
        before = {"email": account.email, "bounced": account.email_bounced_at is not None}
        account.email = normalize_email(use_email)
        account.email_bounced_at = None
        record(
            session, actor, "account.email", account, before=before, after={"email": account.email}
        )
    if on and not has_working_email(account):
        raise NeedsEmail
    if account.paperless != on:
        record(
            session,
            actor,
            "account.paperless",
            account,
            before={"paperless": account.paperless},
            after={"paperless": on},
        )
        account.paperless = on
    session.flush()


@dataclass(frozen=True)
class Recipient:
    """Whom a message to a resident goes to, read while the request's data are at hand (the
    message itself is written after the answer, portal.mail.after_the_answer)."""

    email: str
    language: str


def recipient(resident: Resident) -> Recipient:
    """The address and language of a resident's mail."""
    return Recipient(resident.email, resident.language)


def reset_asked_for_unknown(session: Session, typed: str, *, origin: str | None) -> None:
    """Audit a password-reset request for an address no resident has (as a known one is)."""
    record(
        session,
        Actor("anonymous", None, typed_address(typed), origin),
        "resident.reset_requested",
        object_type="Resident",
        reason="unknown e-mail",
    )


def _mail(config: Mapping, resident: Resident | Recipient, subject: str, text: str) -> Delivery:
    return send_email(
        config, to=resident.email, subject=subject, text=text, language=resident.language
    )


def send_verification(config: Mapping, resident: Resident | Recipient, link: str) -> Delivery:
    """E-mail the link that confirms the address."""
    with force_locale(resident.language):
        subject = _("Confirm your e-mail address")
        text = _(
            "Someone, we hope you, signed up for online access to the bills of "
            "%(municipality)s with this e-mail address.\n\n"
            "To confirm it, open this link within 48 hours:\n%(link)s\n\n"
            "If it was not you, ignore this e-mail: nothing happens unless the link is opened.",
            municipality=config["MUNICIPALITY_NAME"],
            link=link,
        )
    return _mail(config, resident, subject, text)


def send_already_registered(
    config: Mapping, resident: Resident | Recipient, *, sign_in_link: str, reset_link: str
) -> Delivery:
    """Tell the owner of an address that someone tried to sign up with it."""
    with force_locale(resident.language):
        subject = _("Someone tried to sign up with your e-mail address")
        text = _(
            "Someone tried to sign up for online access to the bills of %(municipality)s "
            "with this e-mail address, which already has an online account.\n\n"
            "If it was you, sign in here:\n%(sign_in)s\n\n"
            "If you forgot your password, choose a new one here:\n%(reset)s\n\n"
            "If it was not you, you can ignore this e-mail: nothing has changed.",
            municipality=config["MUNICIPALITY_NAME"],
            sign_in=sign_in_link,
            reset=reset_link,
        )
    return _mail(config, resident, subject, text)


def send_reset(config: Mapping, resident: Resident | Recipient, link: str) -> Delivery:
    """E-mail the link that lets the resident choose a new password."""
    with force_locale(resident.language):
        subject = _("Choose a new password")
        text = _(
            "We received a request to choose a new password for your online account with "
            "%(municipality)s.\n\n"
            "Open this link within 1 hour to choose it. The link works once:\n%(link)s\n\n"
            "If you did not ask for this, ignore this e-mail: your password has not changed.",
            municipality=config["MUNICIPALITY_NAME"],
            link=link,
        )
    return _mail(config, resident, subject, text)
