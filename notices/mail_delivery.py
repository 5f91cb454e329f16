"""Delivering a notice e-mail by SMTP or to the outbox folder, and saying what happened.

Pure of the database: plain values in, plain results out. `Mailer.send`
composes a notices.mail_message.Message, delivers it and says what happened
in a `Delivery`:

- With SMTP_HOST set, over SMTP (STARTTLS and login when configured).
  Temporary failures (a 4xx reply, a dropped connection, a refused connection,
  a timeout) are retried with exponential backoff; a 5xx reply is not.
- With no SMTP_HOST, as an .eml file in OUTBOX_DIR, written atomically.

The body and the attachment are never logged; the recipient and the outcome are.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

from notices.mail_message import Message, _address, _one_line, compose

log = logging.getLogger(__name__)

#: An enhanced status code saying the destination address is bad (RFC 3463: 5.1.x).
_BAD_ADDRESS_STATUS = re.compile(r"\b5\.1\.\d{1,3}\b")
#: Characters kept from a recipient in an outbox file name.
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9@._+-]+")
#: The longest wait between two attempts, whatever the base delay.
MAX_DELAY_SECONDS = 300.0


@dataclass
class Delivery:
    """What happened to one message.

    status is one of:

    - "sent": the SMTP server accepted it;
    - "written": it is in the outbox folder (path);
    - "bounced": refused for good because of the address (a 5xx reply to RCPT,
      or a 5.1.x reply to DATA, or an address that is not an address);
    - "failed": not delivered, and the address is not known to be bad: the
      temporary failures outlasted the attempts, or the server refused for good
      for another reason (login, sender or message refused: a configuration
      problem), or the outbox could not be written.
    """

    status: str
    attempts: int
    smtp_code: int | None = None
    error: str | None = None
    #: The .eml file, for the outbox.
    path: str | None = None
    #: The Message-ID header of the composed message.
    message_id: str | None = None


def is_deliverable_address(value: str) -> bool:
    """Whether the text looks like one e-mail address that can go in a header and an envelope."""
    if not value or any(c in value for c in "\r\n\x00"):
        return False
    bare = _address(value)
    local, at, domain = bare.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in bare)


# --- Sending ---------------------------------------------------------------------------


def _reply_text(code: int | None, reply: bytes | str | None) -> str:
    """An SMTP reply as one line of text."""
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    reply = _one_line(reply or "")
    return f"{code} {reply}".strip() if code is not None else reply


def _classify(error: Exception, to: str) -> tuple[str, int | None, str]:
    """("temporary" | "bounce" | "permanent", SMTP code, error text) for a failed attempt."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = error.recipients.get(to) or next(iter(error.recipients.values()), None)
        code, reply = refused if refused else (None, b"")
        text = _reply_text(code, reply) or "recipient refused"
        if code is not None and 500 <= code < 600:
            return "bounce", code, text
        return "temporary", code, text
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        text = _reply_text(code, error.smtp_error)
        if 500 <= code < 600:
            if isinstance(error, smtplib.SMTPDataError) and _BAD_ADDRESS_STATUS.search(text):
                return "bounce", code, text
            return "permanent", code, text
        return "temporary", code, text
    # SMTPException is an OSError: the SMTP cases come before the network ones.
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "temporary", None, str(error) or "the server disconnected"
    if isinstance(error, smtplib.SMTPException):
        # E.g. STARTTLS or AUTH not offered: retrying cannot help.
        return "permanent", None, str(error) or type(error).__name__
    return "temporary", None, f"{type(error).__name__}: {error}".rstrip(": ")


class Mailer:
    """Sends messages by SMTP, or writes them to the outbox folder when no SMTP host is set."""

    def __init__(
        self,
        *,
        sender: str,
        host: str = "",
        port: int = 587,
        user: str = "",
        password: str = "",
        starttls: bool = False,
        outbox_dir: str | os.PathLike[str] | None = None,
        attempts: int = 4,
        base_delay: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if base_delay < 0:
            raise ValueError("base_delay must not be negative")
        if not host and outbox_dir is None:
            raise ValueError("with no SMTP host, an outbox folder is needed")
        self.sender = sender
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.starttls = starttls
        self.outbox_dir = Path(outbox_dir) if outbox_dir is not None else None
        self.attempts = attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_config(
        cls,
        config: Mapping,
        *,
        attempts: int = 4,
        base_delay: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> Mailer:
        """A mailer from the app config (SMTP_*, MAIL_FROM, OUTBOX_DIR; see core.settings)."""
        host = config.get("SMTP_HOST") or ""
        port = int(config.get("SMTP_PORT") or 587)
        outbox = config.get("OUTBOX_DIR") or None
        if not host and not outbox:
            raise ValueError("set SMTP_HOST, or OUTBOX_DIR for the outbox folder")
        return cls(
            sender=config.get("MAIL_FROM") or "billing@example.org",
            host=host,
            port=port,
            user=config.get("SMTP_USER") or "",
            password=config.get("SMTP_PASSWORD") or "",
            starttls=bool(config.get("SMTP_STARTTLS", port == 587)),
            outbox_dir=outbox,
            attempts=attempts,
            base_delay=base_delay,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
        )

    @property
    def mode(self) -> str:
        """Where messages go: "smtp" or "outbox"."""
        return "smtp" if self.host else "outbox"

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt (1, 2, ...) before the next."""
        return min(self.base_delay * 2 ** (attempt - 1), MAX_DELAY_SECONDS)

    def send(self, message: Message) -> Delivery:
        """Deliver one message; never raises for a delivery problem, the Delivery says it."""
        if not is_deliverable_address(message.to):
            log.warning("e-mail to %r bounced: not an e-mail address", message.to)
            return Delivery("bounced", attempts=0, error="not an e-mail address")
        composed = compose(message, sender=self.sender)
        if self.host:
            return self._send_smtp(composed, message.to)
        return self._write_outbox(composed, message.to)

    # -- SMTP

    def _attempt(self, composed: EmailMessage, to: str) -> None:
        """One connection: STARTTLS, login, MAIL/RCPT/DATA; raises what smtplib raises."""
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(composed, from_addr=_address(self.sender), to_addrs=[to])
        finally:
            # The message is delivered (or not) by now: a failing QUIT changes nothing.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def _send_smtp(self, composed: EmailMessage, to: str) -> Delivery:
        address = _address(to)
        message_id = composed["Message-ID"]
        code: int | None = None
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                self._attempt(composed, address)
            except (smtplib.SMTPException, OSError) as exc:
                outcome, code, error = _classify(exc, address)
            else:
                log.info("e-mail to %s sent (attempt %d)", address, attempt)
                return Delivery("sent", attempts=attempt, message_id=message_id)
            if outcome == "bounce":
                log.warning("e-mail to %s bounced: %s", address, error)
                return Delivery("bounced", attempt, code, error, message_id=message_id)
            if outcome == "permanent":
                log.warning("e-mail to %s failed, not retried: %s", address, error)
                return Delivery("failed", attempt, code, error, message_id=message_id)
            if attempt < self.attempts:
                wait = self.delay(attempt)
                log.warning(
                    "e-mail to %s: temporary failure on attempt %d (%s); retrying in %.2fs",
                    address,
                    attempt,
                    error,
                    wait,
                )
                self._sleep(wait)
        log.warning("e-mail to %s failed after %d attempts: %s", address, self.attempts, error)
        return Delivery("failed", self.attempts, code, error, message_id=message_id)

    # -- Outbox

    def _write_outbox(self, composed: EmailMessage, to: str) -> Delivery:
        assert self.outbox_dir is not None
        message_id = composed["Message-ID"]
        data = composed.as_bytes(policy=policy.SMTP)
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe = _UNSAFE_FILENAME.sub("_", _address(to)).strip("._")[:80] or "recipient"
        digest = hashlib.sha256(data).hexdigest()[:10]
        path = self.outbox_dir / f"{stamp}-{safe}-{digest}.eml"
        temporary: str | None = None
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.outbox_dir, prefix=".", suffix=".eml.tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            temporary = None
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("e-mail to %s not written to the outbox: %s", to, error)
            return Delivery("failed", attempts=1, error=error, message_id=message_id)
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
        log.info("e-mail to %s written to the outbox: %s", to, path.name)
        return Delivery("written", attempts=1, path=str(path), message_id=message_id)
