"""Throttles on every form that checks an access code: per client address and per account
number; and on the forms that e-mail a resident's documents (a receipt).

A failed lookup costs one try from both buckets (QUICKPAY_LIMIT, "5 per 15 minutes"
by default); a successful one costs nothing. The buckets are shared by every form that
checks a code (quick pay, sign-up, linking an account, the code after a ZIP lookup), so
an account gets its five tries in all, not five per form. A client address is an IPv4
address or an IPv6 /64 (core.clients). Once either bucket is empty, even the
right details are refused until the window passes. An e-mail costs one try from its
own two buckets (per client address and per account the session shows), whatever
its outcome. With RATELIMIT_STORAGE_URI set to Redis, every app server shares the counts.
"""

from __future__ import annotations

import hashlib

from flask import current_app, g, render_template, request, session
from limits import parse

from core.clients import client_key
from core.extensions import limiter
from portal import web
from portal.access import clean_account_number

#: Where the session cookie keeps the account a ZIP-code lookup found, until its code is typed.
PENDING_KEY = "zip_lookup"


def _limit() -> str:
    return current_app.config["QUICKPAY_LIMIT"]


def _by_address() -> str:
    return f"lookup-address:{client_key()}"


def account_key(number: str) -> str:
    """The bucket name of an account number's lookups."""
    return f"lookup-account:{clean_account_number(number) or '-'}"


def _by_account() -> str:
    return account_key(request.form.get("account", ""))


def _by_pending_account() -> str:
    """The account a ZIP-code lookup found and whose code is being asked for (from the
    signed session cookie)."""
    pending = session.get(PENDING_KEY)
    number = pending.get("account") if isinstance(pending, dict) else None
    return account_key(str(number or ""))


def failed() -> None:
    """Count this request's lookup as a failure."""
    g.lookup_failed = True


def _was_failure(_response) -> bool:
    return bool(g.get("lookup_failed"))


def window_minutes(limit: str | None = None) -> int:
    """How long a throttle window lasts (QUICKPAY_LIMIT's unless named), in whole minutes
    (at least 1)."""
    return max(1, -(-parse(limit or _limit()).get_expiry() // 60))


def _too_many(_request_limit):
    """The page residents see once a bucket is empty (HTTP 429)."""
    page = render_template("portal/limited.html", minutes=window_minutes())
    return current_app.make_response((page, 429))


def mail_sent() -> None:
    """Count this request against the e-mail throttles: a message is being sent."""
    g.mail_sent = True


def _was_sent(_response) -> bool:
    return bool(g.get("mail_sent"))


def _by_session_account() -> str:
    row = web.load_portal_session()
    account = row.account if row is not None else None
    return f"mail-account:{account.number if account is not None else '-'}"


def _by_sender_address() -> str:
    return f"mail-address:{client_key()}"


def _too_many_mails(_request_limit):
    """The page residents see once they have e-mailed too much for now (HTTP 429)."""
    page = render_template("portal/limited.html", minutes=window_minutes(), sending=True)
    return current_app.make_response((page, 429))


def mail_limits(view):
    """Both throttles on a view's POSTs that e-mail a resident's documents: per client
    address and per account shown; every message sent counts (QUICKPAY_LIMIT)."""
    return _throttled(view, (_by_session_account, _by_sender_address), _was_sent, _too_many_mails)


def _throttled(view, key_funcs, deduct_when, on_breach):
    """A bucket of QUICKPAY_LIMIT per key on a view's POSTs."""
    for key_func in key_funcs:
        view = limiter.limit(
            _limit,
            key_func=key_func,
            methods=["POST"],
            deduct_when=deduct_when,
            on_breach=on_breach,
            scope=key_func.__name__,
        )(view)
    return view


def _shared(view, scope: str, key_func):
    """A bucket of QUICKPAY_LIMIT per key, shared by every view in the scope."""
    return limiter.shared_limit(
        _limit,
        scope,
        key_func=key_func,
        methods=["POST"],
        deduct_when=_was_failure,
        on_breach=_too_many,
    )(view)


def lookup_limits(view):
    """Both lookup throttles on a view's POSTs: per account number and per client address,
    each shared with every other form that checks an access code."""
    view = _shared(view, "lookup-account", _by_account)
    return _shared(view, "lookup-address", _by_address)


def pending_lookup_limits(view):
    """The lookup throttles on the form that asks for the code of the account a ZIP-code
    lookup found (the account comes from the lookup, never from the form)."""
    view = _shared(view, "lookup-account", _by_pending_account)
    return _shared(view, "lookup-address", _by_address)


def _address_limit() -> str:
    return current_app.config["ADDRESS_MAIL_LIMIT"]


def _by_typed_address() -> str:
    """The e-mail address typed on the form (hashed: the store never holds an address)."""
    typed = (request.form.get("email") or "").strip().lower()[:254]
    return "mail-to:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


def asked_to_mail() -> None:
    """Count this request against its address's bucket: it named a well-formed address."""
    g.asked_to_mail = True


def _was_asked(_response) -> bool:
    return bool(g.get("asked_to_mail"))


def _too_many_to_address(_request_limit):
    """The page shown once an address has been sent links too often for now (HTTP 429); the
    same for a registered and an unknown address."""
    minutes = window_minutes(_address_limit())
    page = render_template("portal/limited.html", minutes=minutes, to_address=True)
    return current_app.make_response((page, 429))


def address_mail_limits(view):
    """A bucket of ADDRESS_MAIL_LIMIT per e-mail address typed, shared by the forms that
    e-mail a reset or confirmation link; every request naming a well-formed address counts,
    registered or not (the per-client limit stays on each form)."""
    return limiter.shared_limit(
        _address_limit,
        "mail-to-address",
        key_func=_by_typed_address,
        methods=["POST"],
        deduct_when=_was_asked,
        on_breach=_too_many_to_address,
    )(view)


def _by_pending_mail_account() -> str:
    pending = session.get(PENDING_KEY)
    number = pending.get("account") if isinstance(pending, dict) else None
    return f"mail-account:{clean_account_number(str(number or '')) or '-'}"


def code_mail_limits(view):
    """The e-mail throttles on the form that e-mails a one-time code for the account a
    ZIP-code lookup found: per that account and per client address; every message counts."""
    return _throttled(view, (_by_pending_mail_account, _by_sender_address), _was_sent, _too_many)
