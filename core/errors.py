"""Error handling: JSON of one shape under /api/v1, friendly HTML pages elsewhere.

A database, or the shared rate-limit store (Redis), that cannot be reached
answers 503 ("temporarily unavailable"), never a 500 with a traceback. With
the rate-limit store down the throttled forms (sign-in, quick pay) refuse
rather than let unlimited guesses through.
"""

from __future__ import annotations

import logging

import redis.exceptions
from flask import Flask, render_template, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import (
    Conflict,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    ServiceUnavailable,
)

from core.apidoc import API_PREFIX, error_body
from core.extensions import db

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    """API paths, and clients that ask only for JSON, get JSON errors."""
    if request.path.startswith((API_PREFIX + "/", "/webhooks/")) or request.path in {
        "/healthz",
        "/readyz",
    }:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


#: Error page templates of blueprints with their own look, by blueprint name prefix.
ERROR_TEMPLATES: dict[str, str] = {}


def use_error_template(blueprint_prefix: str, template: str) -> None:
    """Pages of blueprints whose names start with the prefix show errors with this template."""
    ERROR_TEMPLATES[blueprint_prefix] = template


#: Staff pages keep the staff look, whichever package's blueprint serves them.
STAFF_PREFIX = "/staff/"


def _template() -> str:
    if request.path.startswith(STAFF_PREFIX):
        return "errors/error.html"
    blueprint = request.blueprint or ""
    for prefix, template in ERROR_TEMPLATES.items():
        if blueprint.startswith(prefix):
            return template
    return "errors/error.html"


def _respond(error: HTTPException):
    """Render an HTTP error as JSON or HTML (or the response the error already carries)."""
    if error.response is not None:
        return error.response
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # NOTE: RFC 9110: a 405 names the methods the address does take.
        headers.setdefault("Allow", ", ".join(sorted(error.valid_methods)))
    if error.code == 401 and _wants_json():
        headers.setdefault("WWW-Authenticate", 'Bearer realm="munibill"')
    if _wants_json():
        return error_body(error), error.code, headers
    try:
        page = render_template(_template(), error=error)
    except DBAPIError:
        # NOTE: the page's frame reads the database (who is signed in, the resident's
        # language); when that is what failed, a plain page says the same thing.
        log.warning("the %s page needs the database; a plain page is sent", error.code)
        _reset_session()
        page = PLAIN_PAGE.format(
            code=error.code, name=escape(error.name), description=escape(error.description)
        )
    return page, error.code, headers


#: An error page that needs nothing but this text.
PLAIN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{code} {name}</title></head>
<body><main><h1>{name}</h1><p>{description}</p></main></body>
</html>
"""


def handle_http_exception(error: HTTPException):
    """Every HTTPException (400-599) goes through here."""
    return _respond(error)


def _reset_session() -> None:
    """Roll the request's transaction back; a connection the database cut is dropped, not raised."""
    try:
        db.session.rollback()
    except DBAPIError as error:
        log.warning("rollback failed (%s); the session is discarded", error.__class__.__name__)
        db.session.remove()


def handle_database_unavailable(error: DBAPIError):
    """A lost database connection is a 503, and the session is reset for the next request."""
    log.error("database unavailable: %s", error.__class__.__name__)
    _reset_session()
    return _respond(
        ServiceUnavailable("The service is temporarily unavailable. Try again shortly.")
    )


def handle_rate_limit_store_unavailable(error: redis.exceptions.RedisError):
    """The shared rate-limit store is down: the throttled request cannot be counted, so 503."""
    log.error("rate-limit store unavailable: %s", error.__class__.__name__)
    _reset_session()
    return _respond(
        ServiceUnavailable("The service is temporarily unavailable. Try again shortly.")
    )


def handle_database_error(error: DBAPIError):
    """A driver error on a connection that was lost is a 503 too; any other is unexpected."""
    if error.connection_invalidated:
        return handle_database_unavailable(error)
    return handle_unexpected(error)


def handle_conflict(error: IntegrityError):
    """A unique or check constraint refused the change: 409, and nothing was written."""
    log.warning("constraint refused a change: %s", error.orig.__class__.__name__)
    _reset_session()
    return _respond(Conflict("This change conflicts with the current data and was not made."))


def handle_unexpected(error: Exception):
    """Log an unexpected error once and answer a plain 500."""
    if isinstance(error, HTTPException):
        return _respond(error)
    # NOTE: the route's rule, not the path: a path can carry what someone typed.
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    log.exception("unhandled error on %s %s", request.method, rule)
    _reset_session()
    return _respond(InternalServerError("Something went wrong on our side. It has been logged."))


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(IntegrityError, handle_conflict)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(
        redis.exceptions.ConnectionError, handle_rate_limit_store_unavailable
    )
    app.register_error_handler(redis.exceptions.TimeoutError, handle_rate_limit_store_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
