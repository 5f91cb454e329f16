"""Security headers sent with every response, the flags of every cookie, and the refusal of
text no database can store (the NUL character) on pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask.wrappers import Response
from werkzeug.exceptions import BadRequest

from core.text import NUL


class CookieResponse(Response):
    """A response whose cookies, set or cleared, are HttpOnly, SameSite and (as configured)
    Secure, whichever code sets them: Flask-Login clears its remember cookie without them."""

    def set_cookie(self, key: str, value: str = "", **options) -> None:
        """Set a cookie with the app's flags (a flag asked for is kept)."""
        super().set_cookie(key, value, **_cookie_flags(options))

    def delete_cookie(self, key: str, **options) -> None:
        """Clear a cookie with the same flags it was set with."""
        super().delete_cookie(key, **_cookie_flags(options))


def _cookie_flags(options: dict) -> dict:
    """The options with Secure (when the app's cookies are), HttpOnly and SameSite filled in."""
    config = current_app.config
    return {
        **options,
        "secure": bool(options.get("secure")) or config["SESSION_COOKIE_SECURE"],
        "httponly": True,
        "samesite": options.get("samesite") or config["SESSION_COOKIE_SAMESITE"],
    }


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, or '' for a relative one."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def content_security_policy(inline_styles: bool = False) -> str:
    """Only our own origin, plus the configured Stripe.js and Stripe API origins."""
    config = current_app.config
    stripe = {_origin(config["STRIPE_JS_URL"]), _origin(config["STRIPE_API_BASE"])} - {""}
    ours_and_stripe = " ".join(["'self'", *sorted(stripe)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {ours_and_stripe}",
            f"frame-src {ours_and_stripe}",
            f"connect-src {ours_and_stripe}",
            "img-src 'self' data:",
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: Pages and files no cache may keep: everything staff and residents see once signed in or
#: while signing in, and every API answer.
PRIVATE_PATHS = (
    "/staff",
    "/login",
    "/logout",
    "/api/",
    "/my/",
    "/pay",
    "/payments",
    "/portal",
    "/signin",
    "/register",
    "/reset",
    "/verify",
)


def add_security_headers(response: Response) -> Response:
    """Set CSP, framing, sniffing, referrer and (in production) HSTS headers."""
    headers = response.headers
    # Swagger UI sets inline styles; no other page needs them.
    docs_page = request.path.startswith("/api/v1/docs")
    headers.setdefault("Content-Security-Policy", content_security_policy(inline_styles=docs_page))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.path.startswith(PRIVATE_PATHS) and "no-store" not in headers.get(
        "Cache-Control", ""
    ):
        # NOTE: set, not defaulted: send_file's "no-cache" would still let a shared or back
        # button cache keep a bill, a receipt or a sign-in page.
        headers["Cache-Control"] = "no-store"
    return response


def refuse_nul_in_pages() -> None:
    """400 for a page request with a NUL character in its path, query or form, naming where.

    PostgreSQL cannot store the character; the API answers 422 for it on its own
    (core.apidoc.refuse_nul_characters), and Stripe's webhooks are signed JSON.
    """
    if request.path.startswith(("/api/", "/webhooks/")):
        return
    places = ["the address"] if NUL in request.path else []
    for source in (request.args, request.form):
        places += [name for name, value in source.items(multi=True) if NUL in name + value]
    if places:
        fields = [name.replace(NUL, "") for name in places]
        refused = BadRequest(
            description=f"Text must not contain the NUL character (in: {', '.join(fields)})."
        )
        refused.fields = fields  # the pages name them in their own language
        raise refused
