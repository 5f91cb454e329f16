"""Who may see which account: quick-pay lookups and the residents' server-side sessions.

A quick-pay lookup takes an account number and the access code printed on every
notice, or (where the municipality allows it) the service ZIP code and the holder's
last name. Whatever goes wrong, the answer is the same `LookupFailed`: it never
tells whether the account exists. Each lookup does the same hashing work whether
the account exists or not.

A session is a random token in the browser and its SHA-256 here (core.sessions, which
staff sessions share); it names the one account it may show (and, for a registered
resident, the resident). It ends after PORTAL_IDLE_MINUTES without a request, or when
the resident signs out. A quick-pay session also ends when staff reissue the account's
access code: it remembers the code version it was opened under and is refused once that
is no longer the account's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash

from accounts.models import Account, AccountStatus, Parcel, ServicePoint
from accounts.services import FormerNumbers, check_access_code, find_by_former_number
from core import sessions
from core.audit import Actor, record
from portal.models import PortalSession, ResidentAccount

#: Why a quick-pay session ended when the account's access code was reissued.
CODE_CHANGED = "code_changed"
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


def _by_number(session: Session, number: str, former: FormerNumbers | None) -> Account | None:
    """The account with this number, or a converted one's former number while it is accepted."""
    account = session.scalar(
        sa.select(Account).where(Account.number == clean_account_number(number))
    )
    if account is None and former is not None:
        account = find_by_former_number(session, number, former)
    return account


def find_by_code(
    session: Session, number: str, code: str, *, former: FormerNumbers | None = None
) -> Account:
    """The account whose number (or accepted former number) and current access code match;
    else LookupFailed."""
    account = _by_number(session, number, former)
    if account is None:
        check_access_code_hash(_DUMMY_CODE_HASH, code)
        raise LookupFailed
    if not check_access_code(account, code) or account.status == AccountStatus.CLOSED:
        raise LookupFailed
    return account


def check_access_code_hash(stored: str, code: str) -> bool:
    """The same work as checking a real code (the answer is thrown away)."""
    return check_password_hash(stored, code or "x")


def find_by_zip(
    session: Session,
    number: str,
    zip_code: str,
    last_name: str,
    *,
    former: FormerNumbers | None = None,
) -> Account:
    """The account whose number (or accepted former number), service ZIP code and holder's
    last name match; else LookupFailed."""
    account = _by_number(session, number, former)
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
    token = sessions.new_token()
    row = PortalSession(
        account_id=account.id if account is not None else None,
        resident_id=resident_id,
        access_code_version=(
            account.access_code_version if account is not None and resident_id is None else None
        ),
    )
    session.add(sessions.open_row(row, token, now=now, origin=origin))
    session.flush()
    return Started(row, token)


def current_session(
    session: Session, token: str | None, *, now: datetime, idle: timedelta
) -> PortalSession | None:
    """The live session of a token, touched; None (and ended) once idle too long."""
    row = sessions.find_row(
        session, PortalSession, token, options=(joinedload(PortalSession.account),)
    )
    if row is not None and row.ended_at is None and _code_changed(row):
        row.ended_at, row.end_reason = now, CODE_CHANGED
        return None
    return sessions.live(row, now=now, idle=idle)


def _code_changed(row: PortalSession) -> bool:
    """True for a quick-pay session opened before the account's code was last reissued."""
    return (
        row.resident_id is None
        and row.access_code_version is not None
        and row.account is not None
        and row.account.access_code_version != row.access_code_version
    )


def ended_because_code_changed(session: Session, token: str | None) -> bool:
    """True when the token's session ended because the account's access code was reissued."""
    row = sessions.find_row(session, PortalSession, token)
    return row is not None and row.end_reason == CODE_CHANGED


def end_session(row: PortalSession, now: datetime) -> None:
    """Sign out: the token stops working at once, on every device that holds it."""
    sessions.end(row, now)


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
