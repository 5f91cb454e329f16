"""E-mail delivery of notices, against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notices import mail_delivery
from notices.mail_delivery import Mailer
from notices.mail_message import KINDS, TEXTS, Message, compose, message_for

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
SENDER = "Maple Falls Billing <billing@maplefalls.example>"
TO = "resident@example.net"


@dataclass
class Received:
    """One envelope the test server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Handler:
    """An aiosmtpd handler that keeps envelopes and refuses addresses as told."""

    envelopes: list[Received] = field(default_factory=list)
    rcpt_calls: int = 0
    #: address -> [reply, how many more times (None: always)]
    rules: dict[str, list] = field(default_factory=dict)
    #: A reply to DATA instead of accepting the message.
    data_reply: str | None = None

    def refuse(self, address: str, reply: str, times: int | None = None) -> None:
        """Answer RCPT for the address with the reply, `times` times (always if None)."""
        self.rules[address.lower()] = [reply, times]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_calls += 1
        rule = self.rules.get(address.lower())
        if rule and (rule[1] is None or rule[1] > 0):
            if rule[1] is not None:
                rule[1] -= 1
            return rule[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    handler: Handler
    port: int


def start(handler: Handler, **kwargs) -> tuple[Controller, Server]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, Server(handler, port)


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free port of 127.0.0.1."""
    controller, server = start(Handler())
    yield server
    controller.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    return []


def smtp_config(port: int, **extra) -> dict:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
        "SMTP_STARTTLS": False,
        "MAIL_FROM": SENDER,
        "OUTBOX_DIR": "/nonexistent/outbox",
        **extra,
    }


def smtp_mailer(port: int, sleeps: list[float], attempts: int = 3, **extra) -> Mailer:
    return Mailer.from_config(
        smtp_config(port, **extra),
        attempts=attempts,
        base_delay=0.01,
        timeout=5,
        sleep=sleeps.append,
    )


def notice(language: str = "en", *, to: str = TO, reference: str = "UB-2025-03-000042", **kw):
    values = {
        "municipality": "City of Maple Falls",
        "account_number": "12345674",
        "reference": reference,
        "amount_cents": 12345,
        "due_date": date(2025, 3, 15),
        "pay_url": "https://pay.maplefalls.example/p/12345674",
        "to": to,
        "pdf": PDF,
        "filename": "bill-12345674-2025-03.pdf",
    }
    values.update(kw)
    kind = values.pop("kind", "utility_bill")
    return message_for(kind, language, **values)


def parts(message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


# --- SMTP ------------------------------------------------------------------------------


def test_a_message_reaches_the_server(smtp_server, sleeps):
    delivery = smtp_mailer(smtp_server.port, sleeps).send(notice())

    assert delivery.status == "sent"
    assert delivery.attempts == 1
    assert delivery.smtp_code is None and delivery.error is None
    [received] = smtp_server.handler.envelopes
    assert received.rcpt_tos == [TO]
    assert received.mail_from == "billing@maplefalls.example"
    parsed = parse(received.content)
    assert parsed["To"] == TO
    assert parsed["Message-ID"] == delivery.message_id
    assert parts(parsed) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    ]
    body = parsed.get_body(preferencelist=("plain",))
    assert "Amount due: $123.45" in body.get_content()
    assert "Due date: March 15, 2025" in body.get_content()
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "bill-12345674-2025-03.pdf"
    assert attachment.get_content() == PDF
    assert sleeps == []


def test_a_spanish_message_has_spanish_subject_and_content_language(smtp_server, sleeps):
    delivery = smtp_mailer(smtp_server.port, sleeps).send(notice("es"))

    assert delivery.status == "sent"
    parsed = parse(smtp_server.handler.envelopes[0].content)
    assert parsed["Subject"] == (
        "City of Maple Falls: factura de servicios públicos de la cuenta 12345674"
    )
    assert parsed["Content-Language"] == "es"
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "Fecha de vencimiento: 15 de marzo de 2025" in text
    assert "Pague en línea: https://pay.maplefalls.example/p/12345674" in text
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part.get_content_charset() == "utf-8"
    assert '<html lang="es">' in html_part.get_content()


def test_a_temporary_refusal_twice_then_success(smtp_server, sleeps):
    smtp_server.handler.refuse(TO, "450 4.2.1 Mailbox busy", times=2)

    delivery = smtp_mailer(smtp_server.port, sleeps, attempts=4).send(notice())

    assert delivery.status == "sent"
    assert delivery.attempts == 3
    assert len(smtp_server.handler.envelopes) == 1
    assert smtp_server.handler.rcpt_calls == 3
    assert sleeps == [0.01, 0.02]


def test_a_temporary_refusal_always_fails_after_the_attempts(smtp_server, sleeps):
    smtp_server.handler.refuse(TO, "450 4.2.1 Mailbox busy")

    delivery = smtp_mailer(smtp_server.port, sleeps, attempts=3).send(notice())

    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.smtp_code == 450
    assert "Mailbox busy" in delivery.error
    assert smtp_server.handler.envelopes == []
    assert smtp_server.handler.rcpt_calls == 3
    assert sleeps == [0.01, 0.02]


def test_a_permanent_refusal_bounces_after_one_attempt(smtp_server, sleeps):
    smtp_server.handler.refuse(TO, "550 5.1.1 No such user")

    delivery = smtp_mailer(smtp_server.port, sleeps, attempts=4).send(notice())

    assert delivery.status == "bounced"
    assert delivery.attempts == 1
    assert delivery.smtp_code == 550
    assert "No such user" in delivery.error
    assert smtp_server.handler.envelopes == []
    assert smtp_server.handler.rcpt_calls == 1
    assert sleeps == []


def test_a_bad_address_refused_at_data_bounces(smtp_server, sleeps):
    smtp_server.handler.data_reply = "550 5.1.1 Mailbox unavailable"

    delivery = smtp_mailer(smtp_server.port, sleeps).send(notice())

    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("bounced", 1, 550)


def test_a_message_refused_for_another_reason_fails_without_retrying(smtp_server, sleeps):
    smtp_server.handler.data_reply = "554 5.7.1 Message rejected"

    delivery = smtp_mailer(smtp_server.port, sleeps).send(notice())

    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("failed", 1, 554)
    assert sleeps == []


def test_a_closed_port_fails_after_the_attempts(sleeps):
    delivery = smtp_mailer(free_port(), sleeps, attempts=3).send(notice())

    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.smtp_code is None
    assert "ConnectionRefused" in delivery.error
    assert sleeps == [0.01, 0.02]


def test_a_server_that_hangs_up_fails_after_the_attempts(sleeps):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    connections = []

    def hang_up():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        delivery = smtp_mailer(listener.getsockname()[1], sleeps, attempts=3).send(notice())
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()

    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert "closed" in delivery.error
    assert len(connections) == 3


def test_login_with_the_configured_user():
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        logins.append((mechanism, auth_data.login, ok))
        return AuthResult(success=ok, handled=False)

    controller, server = start(Handler(), authenticator=authenticator, auth_require_tls=False)
    try:
        sleeps: list[float] = []
        good = smtp_mailer(server.port, sleeps, SMTP_USER="billing", SMTP_PASSWORD="s3cret")
        assert good.send(notice()).status == "sent"
        bad = smtp_mailer(server.port, sleeps, SMTP_USER="billing", SMTP_PASSWORD="wrong")
        refused = bad.send(notice())
    finally:
        controller.stop()

    assert len(server.handler.envelopes) == 1
    assert logins[0][1:] == (b"billing", True)
    # A refused login is a configuration problem: not retried, and not the address's fault.
    assert (refused.status, refused.attempts, refused.smtp_code) == ("failed", 1, 535)
    assert sleeps == []


def test_an_address_that_is_not_an_address_bounces_without_connecting(smtp_server, sleeps):
    mailer = smtp_mailer(smtp_server.port, sleeps)

    for bad in ("not-an-address", "", "a@example.net\r\nBcc: victim@example.net"):
        delivery = mailer.send(notice(to=bad))
        assert (delivery.status, delivery.attempts) == ("bounced", 0)

    assert smtp_server.handler.rcpt_calls == 0


def test_the_log_names_the_recipient_but_never_the_body(smtp_server, sleeps, caplog):
    smtp_server.handler.refuse(TO, "450 4.2.1 Mailbox busy", times=1)
    message = notice(reference="REF-SECRET-BODY")

    with caplog.at_level(logging.DEBUG, logger="notices.mail_delivery"):
        smtp_mailer(smtp_server.port, sleeps).send(message)

    records = [r for r in caplog.records if r.name == "notices.mail_delivery"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    logged = "\n".join(r.getMessage() for r in records)
    assert TO in logged
    assert "REF-SECRET-BODY" not in logged
    assert "123.45" not in logged
    assert "PDF" not in logged


def test_backoff_doubles_up_to_a_cap():
    mailer = Mailer(sender=SENDER, host="127.0.0.1", base_delay=1.0)

    assert [mailer.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert mailer.delay(30) == mail_delivery.MAX_DELAY_SECONDS


# --- Outbox ----------------------------------------------------------------------------


def outbox_mailer(folder: Path) -> Mailer:
    config = {"SMTP_HOST": "", "MAIL_FROM": SENDER, "OUTBOX_DIR": str(folder)}
    return Mailer.from_config(config, clock=lambda: datetime(2025, 3, 1, 14, 30, 5, tzinfo=UTC))


def test_no_smtp_host_writes_an_eml_file_to_the_outbox(tmp_path):
    outbox = tmp_path / "outbox"
    mailer = outbox_mailer(outbox)
    assert mailer.mode == "outbox"

    delivery = mailer.send(notice(to="Pat O'Neil <pat.oneil+bills@example.net>"))

    assert delivery.status == "written"
    assert delivery.attempts == 1
    [written] = list(outbox.iterdir())
    assert str(written) == delivery.path
    assert re.fullmatch(
        r"20250301T143005000000Z-pat\.oneil\+bills@example\.net-[0-9a-f]{10}\.eml", written.name
    )
    parsed = parse(written.read_bytes())
    assert parsed["Message-ID"] == delivery.message_id
    assert parsed["Subject"] == "City of Maple Falls: utility bill for account 12345674"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_the_outbox_keeps_no_half_written_file(tmp_path, monkeypatch):
    outbox = tmp_path / "outbox"
    mailer = outbox_mailer(outbox)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(mail_delivery.os, "replace", crash)
    delivery = mailer.send(notice())

    assert delivery.status == "failed"
    assert "disk full" in delivery.error
    assert list(outbox.iterdir()) == []


def test_two_messages_to_one_address_get_two_files(tmp_path):
    mailer = outbox_mailer(tmp_path)

    first = mailer.send(notice())
    second = mailer.send(notice())

    assert first.path != second.path
    assert len(list(tmp_path.glob("*.eml"))) == 2
    assert list(tmp_path.glob(".*")) == []


# --- Texts and composing ---------------------------------------------------------------


def test_the_html_body_escapes_every_value():
    message = notice(
        reference="<script>x</script>",
        municipality='Town of "A" & B',
        holder_name="<b>Pat</b>",
        pay_url='https://pay.example/p?a=1&b="x"',
    )

    assert "<script>" not in message.html
    assert "&lt;script&gt;x&lt;/script&gt;" in message.html
    assert "<b>Pat</b>" not in message.html
    assert "&lt;b&gt;Pat&lt;/b&gt;" in message.html
    assert "Town of &quot;A&quot; &amp; B" in message.html
    assert 'href="https://pay.example/p?a=1&amp;b=&quot;x&quot;"' in message.html
    # The plain body carries the values as they are.
    assert "Reference: <script>x</script>" in message.text


def test_both_languages_have_the_same_texts_for_every_kind():
    assert TEXTS["en"].keys() == TEXTS["es"].keys()
    for language in ("en", "es"):
        for kind in KINDS:
            message = notice(language, kind=kind)
            assert "12345674" in message.subject
            assert message.language == language
            assert TEXTS[language][f"intro.{kind}"] in message.text


def test_amount_due_date_and_pay_link_only_when_given():
    message = notice(kind="statement", amount_cents=None, due_date=None, pay_url=None)

    assert "$" not in message.text
    assert "Due date" not in message.text and "Due date" not in message.html
    assert "Pay online" not in message.text and "<a " not in message.html


def test_unknown_kind_language_or_pay_link_is_refused():
    with pytest.raises(ValueError, match="kind"):
        notice(kind="invoice")
    with pytest.raises(ValueError, match="language"):
        notice("fr")
    with pytest.raises(ValueError, match="pay link"):
        notice(pay_url="javascript:alert(1)")


def test_compose_builds_the_headers():
    message = Message(
        to=TO,
        subject="Línea\nnueva",
        text="texto",
        html="<p>texto</p>",
        attachment_name="aviso.pdf",
        attachment=PDF,
        language="es",
    )

    composed = compose(message, sender=SENDER)
    parsed = parse(bytes(composed))

    assert parsed["From"] == SENDER
    assert parsed["To"] == TO
    assert parsed["Subject"] == "Línea nueva"
    assert parsed["Content-Language"] == "es"
    assert str(parsed["Date"]).endswith("-0000")  # UTC, not the server's local time
    assert parsed["Message-ID"].endswith("@maplefalls.example>")
    assert parts(parsed)[:3] == ["multipart/mixed", "multipart/alternative", "text/plain"]
