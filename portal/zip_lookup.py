"""Quick pay by ZIP code and last name (QUICKPAY_ZIP_FALLBACK, off unless the town turns it
on): what a lookup by public facts may show, and the one-time code that opens the bill.

A ZIP code and a last name are public facts, so finding an account by them opens no bill:
the page shows a masked summary (the amount due, its due date, "J*** S***, 1** Oak St")
and asks for the access code from the bill, or a one-time code e-mailed to the account's
address on file. The account found is kept in the signed session cookie for
PENDING_FOR; the one-time code is an HMAC of the app's secret key over the account number
and a random value kept in the cookie, so the cookie alone never reveals it. Each wrong
code costs a try from the account's lookup bucket (portal.limits).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _

from notices.mail_delivery import Delivery
from portal.limits import PENDING_KEY
from portal.mail import send_email

#: How long the account a ZIP-code lookup found waits for its code.
PENDING_FOR = timedelta(minutes=15)
#: How long an e-mailed code works.
CODE_VALID_FOR = timedelta(minutes=15)
CODE_DIGITS = 6
_DIGITS_RE = re.compile(r"\d")


@dataclass(frozen=True)
class Pending:
    """The account a ZIP-code lookup found, and the one-time code last e-mailed for it."""

    number: str
    found_at: datetime
    nonce: str
    sent_at: datetime | None


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(stamp: object) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None


def remember(cookie: MutableMapping, number: str, now: datetime) -> None:
    """Keep the account found (no code sent yet) in the session cookie."""
    cookie[PENDING_KEY] = {"account": number, "at": _stamp(now), "nonce": "", "sent": None}


def pending(cookie: Mapping, now: datetime) -> Pending | None:
    """The account found by a ZIP-code lookup in this browser, while it is fresh."""
    kept = cookie.get(PENDING_KEY)
    if not isinstance(kept, dict) or not isinstance(kept.get("account"), str):
        return None
    found_at = _moment(kept.get("at"))
    if found_at is None or now - found_at > PENDING_FOR:
        return None
    return Pending(
        kept["account"], found_at, str(kept.get("nonce") or ""), _moment(kept.get("sent"))
    )


def forget(cookie: MutableMapping) -> None:
    """The lookup is over (the bill is open, or the resident starts again)."""
    cookie.pop(PENDING_KEY, None)


def code_sent(cookie: MutableMapping, found: Pending, now: datetime) -> Pending:
    """A new one-time code for the account (any earlier one stops working)."""
    nonce = secrets.token_hex(16)
    kept = {"account": found.number, "at": _stamp(found.found_at), "nonce": nonce}
    cookie[PENDING_KEY] = kept | {"sent": _stamp(now)}
    return Pending(found.number, found.found_at, nonce, datetime.fromtimestamp(_stamp(now), UTC))


def one_time_code(secret: str, found: Pending) -> str:
    """The code e-mailed for the account: six digits only the server can work out."""
    message = f"quickpay-code:{found.number}:{found.nonce}:{found.sent_at}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def code_matches(secret: str, found: Pending, typed: str, now: datetime) -> bool:
    """True when typed is the code last e-mailed for the account and it still works."""
    if found.sent_at is None or not found.nonce or now - found.sent_at > CODE_VALID_FOR:
        return False
    digits = "".join(_DIGITS_RE.findall(typed or ""))
    return len(digits) == CODE_DIGITS and hmac.compare_digest(digits, one_time_code(secret, found))


def looks_like_one_time_code(typed: str) -> bool:
    """True for six digits (an access code has letters and is ten characters long)."""
    cleaned = re.sub(r"[\s-]", "", typed or "")
    return len(cleaned) == CODE_DIGITS and cleaned.isascii() and cleaned.isdigit()


def _masked_word(word: str) -> str:
    return word if not word[:1].isalnum() else word[0] + "***"


def mask_name(name: str) -> str:
    """A holder's name with only each word's first letter ("John Smith" -> "J*** S***")."""
    return " ".join(
        ",".join(_masked_word(part) for part in word.split(",")) for word in (name or "").split()
    )


def mask_street(street: str) -> str:
    """A street address with only the house number's first digit ("123 Oak St" -> "1** Oak St")."""
    words = (street or "").split()
    if words and words[0][:1].isdigit():
        words[0] = words[0][0] + "*" * (len(words[0]) - 1)
    return " ".join(words)


def mask_email(address: str) -> str:
    """An e-mail address with only first letters ("maria@example.net" -> "m***@e***.net")."""
    local, _at, domain = (address or "").partition("@")
    host, _dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}" if host else f"{local[:1]}***@***"


def send_code(config: Mapping, *, to: str, language: str, number: str, code: str) -> Delivery:
    """E-mail the one-time code to the address on file of the account."""
    with force_locale(language):
        subject = _("Your code to see your bill")
        text = _(
            "Someone, we hope you, looked up the bill of account %(number)s with %(municipality)s "
            "by ZIP code and last name.\n\n"
            "To see the bill, enter this code within 15 minutes:\n%(code)s\n\n"
            "If it was not you, ignore this e-mail: nothing is shown without the code.",
            number=number,
            municipality=config["MUNICIPALITY_NAME"],
            code=code,
        )
    return send_email(config, to=to, subject=subject, text=text, language=language)
