"""A success delivered over a real connection to the app as the tests serve it (tests.live_server)
is settled even when its sender resets the connection right after reading the answer.

The endpoint settles once the server closes the answer. A sender that resets the connection
while werkzeug's server still reads what it may have sent made that server skip the close
without a word, so the payment stayed pending.
"""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

import sqlalchemy as sa

from accounts.services import find_account
from core.audit import Actor
from core.extensions import db
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.services import record_payment
from tests.billing.billing_fixtures import bill_households
from tests.live_server import serve
from tests.payments.signing import intent_event, signed

#: Sent after the request, more than the server reads ahead with it: the server is still
#: reading these bytes, after it has answered, when the sender resets the connection.
TRAILING = b"x" * 65536
RESIDENT = Actor("resident", None, "quick pay", "127.0.0.1")


def _pending_payment(app) -> int:
    (billed,) = bill_households(app, "olson")
    with app.app_context():
        payment = record_payment(
            db.session,
            RESIDENT,
            account=find_account(db.session, billed.number),
            amount_cents=billed.owed_cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        payment.stripe_payment_intent_id = f"pi_test_{payment.id}"
        db.session.commit()
        return payment.id


def _success(app, payment_id: int) -> dict:
    with app.app_context():
        return intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))


def _received(connection: socket.socket) -> bytes:
    data = connection.recv(65536)
    assert data, "the server closed the connection before the whole answer"
    return data


def _answer(connection: socket.socket) -> bytes:
    """Read one HTTP answer to its last byte (Content-Length); returns its status line."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _received(connection)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += _received(connection)
    return head.split(b"\r\n", 1)[0]


def _status(app, payment_id: int) -> PaymentStatus:
    with app.app_context():
        return db.session.scalar(sa.select(Payment.status).where(Payment.id == payment_id))


def test_a_success_is_settled_when_its_sender_resets_the_connection_after_the_answer(app):
    payment_id = _pending_payment(app)
    body, headers = signed(_success(app, payment_id))
    with serve(app) as url:
        address = urlsplit(url)
        request = (
            b"POST /webhooks/stripe HTTP/1.1\r\n"
            + f"Host: {address.netloc}\r\n".encode()
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with socket.create_connection((address.hostname, address.port), timeout=10) as sender:
            sender.sendall(request + TRAILING)
            assert _answer(sender) == b"HTTP/1.1 200 OK"
            # Close at once, sending a reset instead of the usual goodbye.
            sender.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        deadline = time.monotonic() + 15
        while _status(app, payment_id) != PaymentStatus.SUCCEEDED:
            assert time.monotonic() < deadline, "the success was stored but never settled"
            time.sleep(0.1)
