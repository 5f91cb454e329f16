"""How large a request body may be: one limit for the app, and a setting of its own for each
address that needs another (uploads larger, Stripe's webhooks smaller).

A body over its limit is refused with 413 before anything reads it, in the app's
error shape (JSON for the API and the webhooks, a page elsewhere).
"""

from __future__ import annotations

from flask import Flask, current_app, request

#: Where the endpoints with a limit of their own are kept, in app.extensions.
EXTENSION = "munibill.body_limits"


def body_limit(app: Flask, endpoint: str, setting: str) -> None:
    """Give an endpoint the body limit that the setting holds (bytes), instead of MAX_CONTENT_LENGTH."""
    app.extensions.setdefault(EXTENSION, {})[endpoint] = setting


def apply_body_limit() -> None:
    """Set the limit of this request's endpoint before anything reads its body."""
    setting = current_app.extensions.get(EXTENSION, {}).get(request.endpoint or "")
    if setting is not None:
        request.max_content_length = current_app.config[setting]


def init_app(app: Flask) -> None:
    """Check bodies against their limit; registered before every hook that reads a form."""
    app.before_request(apply_body_limit)
