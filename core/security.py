"""Security headers sent with every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask.wrappers import Response


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
