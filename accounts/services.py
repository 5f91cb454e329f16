"""Billing account services: numbers, quick-pay access codes, create and update.

Access codes: the code printed on a notice is derived, never stored. It is
HMAC-SHA256(ACCESS_CODE_KEY, "<account number>:<version>") written in ten
characters of Crockford's base32; the database holds only a salted hash of it
for verification, so a copy of the database alone reveals no codes. Raising
`access_code_version` issues a new code and retires the old one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from accounts.models import Account, AccountStatus, Language
from accounts.search import search_accounts
from core.audit import Actor, changes, record
from core.checkdigit import is_valid_luhn, with_luhn
from core.numbering import next_number
from core.text import only_digits

#: Account numbers start here so that every number has eight digits.
FIRST_ACCOUNT_BASE = 1_000_000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_STD_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: A fast, salted hash is enough: codes carry 50 random bits and lookups are rate limited.
_CODE_HASH_METHOD = "pbkdf2:sha256:1000"
EDITABLE_FIELDS = (
    "holder_name",
    "mail_street",
    "mail_street2",
    "mail_city",
    "mail_state",
    "mail_zip",
    "email",
    "phone",
    "language",
    "paperless",
    "status",
    "flags",
)


class AccountError(ValueError):
    """An account change that cannot be made; the message names the field."""


def derive_access_code(key: bytes, number: str, version: int) -> str:
    """The access code printed on notices for this account, e.g. 'K7Q2M-9XH4B'."""
    digest = hmac.new(key, f"{number}:{version}".encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest).decode()[:10].translate(str.maketrans(_STD_B32, _CROCKFORD))
    return f"{text[:5]}-{text[5:]}"


def normalize_access_code(text: str) -> str:
    """Read a code as a person types it: any case, spaces or dashes, O for 0, I or L for 1."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else cleaned


def hash_access_code(code: str) -> str:
    """The salted hash stored on the account."""
    return generate_password_hash(normalize_access_code(code), method=_CODE_HASH_METHOD)


def check_access_code(account: Account, typed: str) -> bool:
    """True when typed matches the account's current code."""
    return check_password_hash(account.access_code_hash, normalize_access_code(typed))


def new_account_number(session: Session) -> str:
    """The next account number: seven digits of sequence and a Luhn check digit."""
    return with_luhn(str(FIRST_ACCOUNT_BASE + next_number(session, "account")))


def valid_account_number(number: str) -> bool:
    """True for eight digits whose last one is the Luhn check digit."""
    return len(number) == 8 and is_valid_luhn(number)


def snapshot(account: Account) -> dict[str, Any]:
    """The editable fields, for before/after audit summaries."""
    return {name: getattr(account, name) for name in EDITABLE_FIELDS}


def create_account(
    session: Session, actor: Actor, data: dict[str, Any], *, code_key: bytes
) -> tuple[Account, str]:
    """Open a billing account; returns it with its access code (to print or tell the holder)."""
    if data.get("email"):
        data = {**data, "email": data["email"].strip().lower()}
    number = new_account_number(session)
    code = derive_access_code(code_key, number, 1)
    account = Account(
        number=number, access_code_hash=hash_access_code(code), access_code_version=1, **data
    )
    session.add(account)
    session.flush()
    record(session, actor, "account.create", account, after={"number": number, **snapshot(account)})
    return account, code


def update_account(
    session: Session, actor: Actor, account: Account, data: dict[str, Any]
) -> Account:
    """Change an account's contact details or status; audits what changed."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise AccountError(f"{sorted(unknown)[0]}: cannot be changed here")
    if data.get("email"):
        data = {**data, "email": data["email"].strip().lower()}
    before = snapshot(account)
    for name, value in data.items():
        setattr(account, name, value)
    before, after = changes(before, snapshot(account))
    if "email" in after:
        account.email_bounced_at = None  # a new address is tried again
    if after:
        session.flush()
        record(session, actor, "account.update", account, before=before, after=after)
    return account


def reissue_access_code(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    code_key: bytes,
    reason: str | None = None,
    **audited: Any,
) -> str:
    """Retire the account's access code and issue a new one; audited with the staff's reason.

    Who may still see the account with the old code is the portal's business
    (portal.access_changes ends its sessions and links); audited carries what it ended.
    """
    account.access_code_version += 1
    code = derive_access_code(code_key, account.number, account.access_code_version)
    account.access_code_hash = hash_access_code(code)
    session.flush()
    record(
        session,
        actor,
        "account.access_code_reissued",
        account,
        version=account.access_code_version,
        reason=reason,
        **audited,
    )
    return code


def find_account(session: Session, number: str) -> Account | None:
    """The account with this number (spaces and dashes ignored), or None."""
    digits = "".join(ch for ch in number if only_digits(ch))
    return session.scalar(sa.select(Account).where(Account.number == digits))


@dataclass(frozen=True)
class FormerNumbers:
    """Whether a converted account's former number is still accepted for it, and until when."""

    today: date
    #: Days after its conversion day that an account's former number is accepted (0: never).
    days: int

    def accepts(self, converted_on: date | None) -> bool:
        """Whether the former number of an account converted on that day is still accepted."""
        if converted_on is None or self.days <= 0:
            return False
        return self.today <= converted_on + timedelta(days=self.days)


def find_by_former_number(session: Session, typed: str, accepted: FormerNumbers) -> Account | None:
    """The converted account with this former number (any case), while it is still accepted."""
    text = (typed or "").strip().upper()
    if not text or accepted.days <= 0:
        return None
    account = session.scalar(sa.select(Account).where(sa.func.upper(Account.former_number) == text))
    if account is None or not accepted.accepts(account.converted_on):
        return None
    return account


__all__ = [
    "AccountError",
    "AccountStatus",
    "Language",
    "check_access_code",
    "create_account",
    "derive_access_code",
    "find_account",
    "find_by_former_number",
    "reissue_access_code",
    "search_accounts",
    "update_account",
]
