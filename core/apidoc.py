"""The /api/v1 framework: flask-smorest with munibill's one error shape.

Every API error is ``{"errors": {"field": ["message"]}}``; errors that are not
about one field use the key ``_request``. The OpenAPI document is served at
/api/v1/openapi.json and browsed at /api/v1/docs with Swagger UI served by the
app itself (no outside CDN).
"""

from __future__ import annotations

import json

import marshmallow as ma
import swagger_ui_bundle
from flask import Blueprint, request, send_from_directory
from flask_smorest import Api, abort
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/v1"
REQUEST_KEY = "_request"


def file_response(*media_types: str) -> dict:
    """Doc for a 200 whose body is a file of one of these media types (for `Blueprint.doc`)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"responses": {200: {"content": dict.fromkeys(media_types, binary)}}}


class ErrorSchema(ma.Schema):
    """The body of every API error."""

    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "Messages by field; `_request` for the request as a whole"},
    )


_LOCATIONS = {"json", "query", "form", "headers", "files", "view_args", "path", "cookies"}


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn webargs/marshmallow messages into {"field.sub": [message, ...]}."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            key = str(key)
            if not prefix and key in _LOCATIONS:
                name = ""
            elif key == "_schema":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else key
            for field, texts in _flatten(value, name).items():
                flat.setdefault(field, []).extend(texts)
        return flat
    texts = messages if isinstance(messages, (list, tuple)) else [messages]
    return {prefix or REQUEST_KEY: [str(text) for text in texts]}


def error_body(error: HTTPException) -> dict:
    """The JSON body for an HTTP error raised in the API."""
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    if messages:
        return {"errors": _flatten(messages)}
    message = data.get("message") or error.description or error.name
    return {"errors": {REQUEST_KEY: [message]}}


def links(code: str, **targets: tuple[str, dict[str, str]]) -> dict:
    """OpenAPI links from an operation's answer to the operations that take what it returns,
    for `Blueprint.doc(**links(...))`: name=("METHOD /path/{param}", {param: expression}).

    Clients and stateful fuzzers follow them from a created resource to its own operations.
    """

    def ref(target: str) -> str:
        method, path = target.split(" ", 1)
        pointer = path.replace("~", "~0").replace("/", "~1")
        return f"#/paths/{pointer}/{method.lower()}"

    return {
        "responses": {
            code: {
                "links": {
                    name: {"operationRef": ref(target), "parameters": parameters}
                    for name, (target, parameters) in targets.items()
                }
            }
        }
    }


NUL = "\x00"


def _nul_places(value, place: str) -> list[str]:
    """The fields of parsed JSON whose text (or name) holds a NUL character."""
    if isinstance(value, str):
        return [place or REQUEST_KEY] if NUL in value else []
    if not isinstance(value, dict | list):
        return []
    places = []
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        name = f"{place}.{key}" if place else str(key)
        places += [name] if NUL in str(key) else _nul_places(item, name)
    return places


def refuse_nul_characters() -> None:
    """422 for an API request with a NUL character in its path, query or body, naming where;
    400 for a JSON body no parser reads (a number of thousands of digits).

    PostgreSQL cannot store the character (SQLite would), so it is refused on either database,
    after the token was checked and before any view reads the request.
    """
    places = [name for name, value in (request.view_args or {}).items() if NUL in str(value)]
    places += [name for name, value in request.args.items(multi=True) if NUL in name + value]
    if request.is_json and request.get_data():
        try:
            # NOTE: a number of thousands of digits is a ValueError, not a JSON error, and
            # would get past the parsers as a 500.
            body = json.loads(request.get_data())
        except ValueError as error:
            message = f"The body is not JSON this service reads: {error}"[:200]
            abort(400, errors={REQUEST_KEY: [message]})
        places += _nul_places(body, "")
    elif NUL.encode() in request.get_data():
        places.append(REQUEST_KEY)
    if places:
        message = ["Text must not contain the NUL character (0x00)."]
        abort(422, errors=dict.fromkeys(places, message))


class MunibillApi(Api):
    """flask-smorest's Api with munibill's error shape and locally served docs."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Leave error handling to core.errors, which knows API from HTML."""

    def register_blueprint(self, blp, **options):
        """Register an API blueprint; the API authenticates by token, so CSRF does not apply."""
        super().register_blueprint(blp, **options)
        self._app.extensions["csrf"].exempt(blp)
        # The blueprint's own hooks run after the app's, which authenticate the token.
        self._app.before_request_funcs.setdefault(blp.name, []).append(refuse_nul_characters)

    def _register_doc_blueprint(self):
        """Register the spec routes plus the Swagger UI assets served locally."""
        super()._register_doc_blueprint()
        assets = Blueprint("swagger_ui_assets", __name__)
        folder = swagger_ui_bundle.swagger_ui_path

        @assets.route(f"{API_PREFIX}/docs/assets/<path:filename>")
        def swagger_asset(filename: str):
            """Serve a Swagger UI file from the installed bundle."""
            return send_from_directory(folder, filename, max_age=86400)

        self._app.register_blueprint(assets)


API_SETTINGS = {
    "API_TITLE": "munibill",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": f"{API_PREFIX}/docs/assets/",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "munibill's JSON API. Authenticate with `Authorization: Bearer <token>` "
                "(create one with `munibill tokens create`). Errors are always "
                '`{"errors": {"field": ["message"]}}`.'
            )
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    },
}
