"""Throttles on every form that checks an access code: per address and per account number.

A failed lookup costs one try from both buckets (QUICKPAY_LIMIT, "5 per 15 minutes"
by default); a successful one costs nothing. Once either bucket is empty, even the
right details are refused until the window passes. With RATELIMIT_STORAGE_URI set to
Redis, every app server shares the counts.
"""

from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_limiter.util import get_remote_address
from limits import parse

from core.extensions import limiter
from portal.access import clean_account_number


def _limit() -> str:
    return current_app.config["QUICKPAY_LIMIT"]


def _by_address() -> str:
    return f"lookup-address:{get_remote_address()}"


def _by_account() -> str:
    number = clean_account_number(request.form.get("account", ""))
    return f"lookup-account:{number or '-'}"


def failed() -> None:
    """Count this request's lookup as a failure."""
    g.lookup_failed = True


def _was_failure(_response) -> bool:
    return bool(g.get("lookup_failed"))


def window_minutes() -> int:
    """How long a throttle window lasts, in whole minutes (at least 1)."""
    return max(1, -(-parse(_limit()).get_expiry() // 60))


def _too_many(_request_limit):
    """The page residents see once a bucket is empty (HTTP 429)."""
    page = render_template("portal/limited.html", minutes=window_minutes())
    return current_app.make_response((page, 429))


def lookup_limits(view):
    """Both throttles on a view's POSTs."""
    for key_func in (_by_account, _by_address):
        view = limiter.limit(
            _limit,
            key_func=key_func,
            methods=["POST"],
            deduct_when=_was_failure,
            on_breach=_too_many,
            scope=key_func.__name__,
        )(view)
    return view
