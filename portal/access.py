"""Who may see which account: quick-pay lookups and the residents' server-side sessions.

A quick-pay lookup takes an account number and the access code printed on every
notice, or (where the municipality allows it) the service ZIP code and the holder's
last name. Whatever goes wrong, the answer is the same `LookupFailed`: it never
tells whether the account exists. Each lookup does the same hashing work whether
the account exists or not.

A session is a random token in the browser and its SHA-256 here; it names the one
account it may show (and, for a registered resident, the resident). It ends after
PORTAL_IDLE_MINUTES without a request, or when the resident signs out.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash

from billing.accounts import check_access_code
from billing.models import Account, AccountStatus, Parcel, ServicePoint
from core.audit import Actor, record
from portal.models import PortalSession, ResidentAccount

#: How often a session's last-seen time is written (a page view within this is not written).
TOUCH_EVERY = timedelta(seconds=60)
_NUMBER_RE = re.compile(r"\D")
#: A hash to check when the account does not exist, so both cases take the same time.
_DUMMY_CODE_HASH = (
    "pbkdf2:sha256:1000$munibill$0000000000000000000000000000000000000000000000000000000000000000"
)


class LookupFailed(Exception):
    """The details did not match an account (never says which part, or whether it exists)."""


def clean_account_number(text: str) -> str:
    """The digits of an account number as typed ('1000-0017 ' -> '10000017')."""
    return _NUMBER_RE.sub("", text or "")[:12]


def _folded(text: str) -> str:
    """A name compared without case, accents, punctuation or spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if ch.isalnum()).casefold()


def last_name_matches(holder_name: str, typed: str) -> bool:
    """True when typed is the holder's last name (any case, accents optional).

    Holder names are written "First Last", "Last, First" or "First Middle Last"; a
    household's several names ("Ana & Luis Ortega") end in the shared last name.
    """
    wanted = _folded(typed)
    if len(wanted) < 2:
        return False
    name = holder_name.strip()
    if "," in name:
        candidates = [name.split(",", 1)[0]]
    else:
        words = name.replace("&", " ").split()
        candidates = [words[-1]] if words else []
        if len(words) >= 2:
            candidates.append(" ".join(words[-2:]))  # "de la Cruz", "Van Dyke"
        if len(words) >= 3:
            candidates.append(" ".join(words[-3:]))
    return any(_folded(candidate) == wanted for candidate in candidates)


def _service_zips(session: Session, account: Account) -> set[str]:
    """The five-digit ZIP codes where the account has service or property, and its mailing ZIP."""
    zips = {account.mail_zip[:5]}
    points = session.scalars(
        sa.select(ServicePoint.service_zip).where(ServicePoint.account_id == account.id)
    ).all()
    parcels = session.scalars(
        sa.select(Parcel.situs_zip).where(Parcel.owner_account_id == account.id)
    ).all()
    zips.update(z[:5] for z in [*points, *parcels] if z)
    return zips


def find_by_code(session: Session, number: str, code: str) -> Account:
    """The account whose number and current access code match; else LookupFailed."""
    account = session.scalar(
        sa.select(Account).where(Account.number == clean_account_number(number))
    )
    if account is None:
        check_access_code_hash(_DUMMY_CODE_HASH, code)
        raise LookupFailed
    if not check_access_code(account, code) or account.status == AccountStatus.CLOSED:
        raise LookupFailed
    return account


def check_access_code_hash(stored: str, code: str) -> bool:
    """The same work as checking a real code (the answer is thrown away)."""
    return check_password_hash(stored, code or "x")


def find_by_zip(session: Session, number: str, zip_code: str, last_name: str) -> Account:
    """The account whose number, service ZIP code and holder's last name match; else LookupFailed."""
    account = session.scalar(
        sa.select(Account).where(Account.number == clean_account_number(number))
    )
    typed_zip = _NUMBER_RE.sub("", zip_code or "")[:5]
    if (
        account is None
        or account.status == AccountStatus.CLOSED
        or len(typed_zip) != 5
        or typed_zip not in _service_zips(session, account)
        or not last_name_matches(account.holder_name, last_name)
    ):
        raise LookupFailed
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    """A new session and the token the browser keeps."""

    row: PortalSession
    token: str


def start_session(
    session: Session,
    *,
    now: datetime,
    origin: str | None,
    account: Account | None = None,
    resident_id: int | None = None,
) -> Started:
    """A new session for one account (quick pay) or a resident; a fresh token every time."""
    token = secrets.token_urlsafe(32)
    row = PortalSession(
        token_hash=_token_hash(token),
        account_id=account.id if account is not None else None,
        resident_id=resident_id,
        created_at=now,
        last_seen_at=now,
        origin=(origin or "")[:64] or None,
    )
    session.add(row)
    session.flush()
    return Started(row, token)


def current_session(
    session: Session, token: str | None, *, now: datetime, idle: timedelta
) -> PortalSession | None:
    """The live session of a token, touched; None (and ended) once idle too long."""
    if not token:
        return None
    row = session.scalar(
        sa.select(PortalSession)
        .where(PortalSession.token_hash == _token_hash(token))
        .options(joinedload(PortalSession.account))
    )
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > idle:
        row.ended_at = row.last_seen_at + idle
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end_session(row: PortalSession, now: datetime) -> None:
    """Sign out: the token stops working at once, on every device that holds it."""
    if row.ended_at is None:
        row.ended_at = now


def may_view(session: Session, row: PortalSession, account_id: int) -> bool:
    """True when the session may look at the account: its own, or one its resident linked."""
    if row.resident_id is None:
        return row.account_id == account_id
    return (
        session.scalar(
            sa.select(ResidentAccount.id).where(
                ResidentAccount.resident_id == row.resident_id,
                ResidentAccount.account_id == account_id,
            )
        )
        is not None
    )


def quick_pay_actor(account: Account, origin: str | None) -> Actor:
    """The actor of what a resident does in a quick-pay session."""
    return Actor("resident", None, f"quickpay:{account.number}", origin)


def record_lookup(
    session: Session, *, account: Account | None, origin: str | None, ok: bool, how: str
) -> None:
    """Audit a quick-pay lookup (the typed code is never recorded)."""
    actor = Actor("anonymous", None, "quickpay", origin)
    action = "portal.quickpay" if ok else "portal.quickpay_failed"
    record(
        session,
        actor,
        action,
        account,
        object_type=None if account is not None else "Account",
        how=how,
    )
