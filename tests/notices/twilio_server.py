"""A real HTTP server on 127.0.0.1 that answers Twilio's Programmable Messaging API as Twilio
documents it (Message resource, "Create a Message"), for the twilio client to be pointed at:

- POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form fields To, From or
  MessagingServiceSid, Body, StatusCallback; HTTP basic auth with the account SID and token;
- 201 with the Message resource (sid "SM" + 32 hex, status "accepted" with a messaging
  service, else "queued");
- 400 with Twilio's error document ({"code", "message", "more_info", "status"}): 21211 for an
  invalid To, 21610 for a recipient who replied STOP, 21604 for no body, 21603/21606 for no
  sender; 401 with 20003 for bad credentials; 404 with 20404 for another account.

`requests` holds every request as Twilio would get it (path, headers, form fields); a number
in `invalid` or `unsubscribed` is refused with its code; `down` answers 503 to everything.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "f" * 32
SERVICE_SID = "MG" + "2" * 32
PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


@dataclass
class Received:
    """One request as the server got it."""

    path: str
    headers: dict
    form: dict[str, str]


@dataclass
class FakeTwilio:
    """What the server was sent, and how it should answer."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    unsubscribed: set[str] = field(default_factory=set)
    down: bool = False


def _error(code: int, message: str, status: int) -> tuple[int, dict]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _answer(state: FakeTwilio, path: str, auth: str | None, form: dict) -> tuple[int, dict]:
    """Twilio's answer to a Create Message request."""
    match = PATH.match(path)
    if not match:
        return _error(20404, "The requested resource was not found", 404)
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    if auth != expected:
        return _error(20003, "Authenticate", 401)
    if match.group(1) != ACCOUNT_SID:
        return _error(20404, "The requested resource was not found", 404)
    to, sender, service = form.get("To", ""), form.get("From"), form.get("MessagingServiceSid")
    if not form.get("Body"):
        return _error(21604, "A 'Body' parameter is required to send a message.", 400)
    if not sender and not service:
        return _error(21603, "A 'From' or 'MessagingServiceSid' parameter is required", 400)
    if to in state.invalid or not re.fullmatch(r"\+[1-9]\d{6,14}", to):
        return _error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
    if to in state.unsubscribed:
        return _error(21610, "Attempt to send to unsubscribed recipient", 400)
    sid = "SM" + uuid.uuid4().hex
    now = formatdate(usegmt=True)
    return 201, {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": form["Body"],
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if service else "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"
        },
        "to": to,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def start() -> tuple[ThreadingHTTPServer, FakeTwilio]:
    """Start the server on a free port of 127.0.0.1."""
    state = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the handler's name is http.server's
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {key: values[0] for key, values in parse_qs(raw).items()}
            state.requests.append(Received(self.path, dict(self.headers), form))
            if state.down:
                status, body = _error(20500, "Service Unavailable", 503)
            else:
                status, body = _answer(state, self.path, self.headers.get("Authorization"), form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


@contextmanager
def serve(app) -> Iterator[FakeTwilio]:
    """The local Twilio, and the app's texting turned on and pointed at it (quiet hours as by
    default, 21:00 to 08:00 town time). A test file's `twilio` fixture yields it."""
    server, state = start()
    app.config.update(
        TEXTS_ENABLED=True,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID,
        TWILIO_FROM_NUMBER="",
        TWILIO_API_BASE=state.url,
        TEXT_QUIET_HOURS=(21 * 60, 8 * 60),
    )
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
