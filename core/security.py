"""Security headers sent with every response, and the flags of every cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask.wrappers import Response


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
    if request.path.startswith(("/staff", "/login", "/api/", "/my/", "/pay")):
        headers.setdefault("Cache-Control", "no-store")
    return response
