"""E-mail delivery of notices: compose a message with its PDF and send it by SMTP or to the outbox.

Pure of the database: plain values in, plain results out. `message_for` writes
the subject and bodies of a notice e-mail in the account's language;
`compose` builds the MIME message; `Mailer.send` delivers it and says what
happened in a `Delivery`:

- With SMTP_HOST set, over SMTP (STARTTLS and login when configured).
  Temporary failures (a 4xx reply, a dropped connection, a refused connection,
  a timeout) are retried with exponential backoff; a 5xx reply is not.
- With no SMTP_HOST, as an .eml file in OUTBOX_DIR, written atomically.

The body and the attachment are never logged; the recipient and the outcome are.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from core.money import format_cents

log = logging.getLogger(__name__)

#: The notice kinds an e-mail can carry (the values of notices.document.NoticeKind).
KINDS = (
    "utility_bill",
    "tax_bill",
    "reminder",
    "past_due",
    "final",
    "receipt",
    "refund",
    "statement",
)

#: Every text of a notice e-mail, per language; both languages have the same keys.
#: Placeholders: {municipality}, {account_number}, {reference}, {amount}, {due_date},
#: {pay_url}, {name}. Values are escaped when the HTML body is built, never here.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject.utility_bill": "{municipality}: utility bill for account {account_number}",
        "subject.tax_bill": "{municipality}: property tax bill for account {account_number}",
        "subject.reminder": "{municipality}: payment reminder for account {account_number}",
        "subject.past_due": "{municipality}: past-due notice for account {account_number}",
        "subject.final": "{municipality}: final notice for account {account_number}",
        "subject.receipt": "{municipality}: payment receipt for account {account_number}",
        "subject.refund": "{municipality}: refund notice for account {account_number}",
        "subject.statement": "{municipality}: account statement for account {account_number}",
        "intro.utility_bill": "Your utility bill is attached as a PDF.",
        "intro.tax_bill": "Your property tax bill is attached as a PDF.",
        "intro.reminder": (
            "This is a reminder about a payment on your account. "
            "The reminder notice is attached as a PDF."
        ),
        "intro.past_due": (
            "Your account has a past-due balance. The past-due notice is attached as a PDF."
        ),
        "intro.final": (
            "This is a final notice about the unpaid balance on your account. "
            "The notice is attached as a PDF; please read it promptly."
        ),
        "intro.receipt": "Thank you for your payment. Your receipt is attached as a PDF.",
        "intro.refund": (
            "A refund has been issued on your account. The refund notice is attached as a PDF."
        ),
        "intro.statement": "Your account statement is attached as a PDF.",
        "amount.utility_bill": "Amount due",
        "amount.tax_bill": "Amount due",
        "amount.reminder": "Amount due",
        "amount.past_due": "Amount past due",
        "amount.final": "Amount due",
        "amount.receipt": "Amount paid",
        "amount.refund": "Amount refunded",
        "amount.statement": "Balance",
        "greeting": "Dear {name},",
        "account": "Account",
        "reference": "Reference",
        "due_date": "Due date",
        "pay_text": "Pay online: {pay_url}",
        "pay_link": "Pay online",
        "footer": (
            "This message was sent by {municipality}. Please do not reply to it; "
            "for questions, contact the office shown on the attached notice."
        ),
    },
    "es": {
        "subject.utility_bill": (
            "{municipality}: factura de servicios públicos de la cuenta {account_number}"
        ),
        "subject.tax_bill": (
            "{municipality}: factura del impuesto sobre la propiedad de la cuenta {account_number}"
        ),
        "subject.reminder": "{municipality}: recordatorio de pago de la cuenta {account_number}",
        "subject.past_due": "{municipality}: aviso de pago vencido de la cuenta {account_number}",
        "subject.final": "{municipality}: aviso final de la cuenta {account_number}",
        "subject.receipt": "{municipality}: recibo de pago de la cuenta {account_number}",
        "subject.refund": "{municipality}: aviso de reembolso de la cuenta {account_number}",
        "subject.statement": "{municipality}: estado de cuenta de la cuenta {account_number}",
        "intro.utility_bill": "Adjuntamos su factura de servicios públicos en PDF.",
        "intro.tax_bill": "Adjuntamos su factura del impuesto sobre la propiedad en PDF.",
        "intro.reminder": (
            "Le recordamos un pago pendiente en su cuenta. Adjuntamos el recordatorio en PDF."
        ),
        "intro.past_due": (
            "Su cuenta tiene un saldo vencido. Adjuntamos el aviso de pago vencido en PDF."
        ),
        "intro.final": (
            "Este es un aviso final sobre el saldo impago de su cuenta. "
            "Adjuntamos el aviso en PDF; léalo cuanto antes."
        ),
        "intro.receipt": "Gracias por su pago. Adjuntamos su recibo en PDF.",
        "intro.refund": (
            "Se ha emitido un reembolso en su cuenta. Adjuntamos el aviso de reembolso en PDF."
        ),
        "intro.statement": "Adjuntamos su estado de cuenta en PDF.",
        "amount.utility_bill": "Importe a pagar",
        "amount.tax_bill": "Importe a pagar",
        "amount.reminder": "Importe a pagar",
        "amount.past_due": "Importe vencido",
        "amount.final": "Importe a pagar",
        "amount.receipt": "Importe pagado",
        "amount.refund": "Importe reembolsado",
        "amount.statement": "Saldo",
        "greeting": "Estimado(a) {name}:",
        "account": "Cuenta",
        "reference": "Referencia",
        "due_date": "Fecha de vencimiento",
        "pay_text": "Pague en línea: {pay_url}",
        "pay_link": "Pague en línea",
        "footer": (
            "Este mensaje fue enviado por {municipality}. No responda a este correo; "
            "si tiene preguntas, comuníquese con la oficina que figura en el aviso adjunto."
        ),
    },
}

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}

#: An enhanced status code saying the destination address is bad (RFC 3463: 5.1.x).
_BAD_ADDRESS_STATUS = re.compile(r"\b5\.1\.\d{1,3}\b")
#: Characters kept from a recipient in an outbox file name.
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9@._+-]+")
#: The longest wait between two attempts, whatever the base delay.
MAX_DELAY_SECONDS = 300.0


@dataclass(frozen=True)
class Message:
    """One notice e-mail, ready to compose: texts already in its language."""

    #: The recipient's address.
    to: str
    subject: str
    #: The plain-text body.
    text: str
    #: The HTML body (every value in it already escaped).
    html: str
    #: The PDF's file name, e.g. "bill-12345678-2025-03.pdf".
    attachment_name: str
    #: The PDF's bytes.
    attachment: bytes
    #: "en" or "es"; becomes the Content-Language header.
    language: str


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


# --- Texts -----------------------------------------------------------------------------


def _language(language: str) -> str:
    """The language's key in TEXTS; ValueError if munibill has no texts for it."""
    key = str(language).lower()
    if key not in TEXTS:
        raise ValueError(f"no e-mail texts in language {language!r}; known: {', '.join(TEXTS)}")
    return key


def format_date(day: date, language: str) -> str:
    """A date as written in a sentence: "March 15, 2025" or "15 de marzo de 2025"."""
    month = _MONTHS[_language(language)][day.month - 1]
    if _language(language) == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"


def _one_line(text: str) -> str:
    """Collapse line breaks and runs of spaces, so a value cannot add a header."""
    return " ".join(text.split())


def message_for(
    kind: str,
    language: str,
    *,
    municipality: str,
    account_number: str,
    reference: str,
    amount_cents: int | None,
    due_date: date | None,
    pay_url: str | None,
    to: str,
    pdf: bytes,
    filename: str,
    holder_name: str | None = None,
) -> Message:
    """The subject and both bodies of a notice e-mail, in English or Spanish.

    Says what is attached, the amount and the due date when given, and the pay
    link when given. Every value is escaped in the HTML body. ValueError for an
    unknown kind or language, or a pay link that is not http(s).
    """
    kind = str(kind)
    if kind not in KINDS:
        raise ValueError(f"no e-mail texts for notice kind {kind!r}")
    lang = _language(language)
    texts = TEXTS[lang]
    if pay_url is not None and not pay_url.lower().startswith(("https://", "http://")):
        raise ValueError(f"the pay link must be an http(s) URL, not {pay_url!r}")
    values = {
        "municipality": municipality,
        "account_number": account_number,
        "reference": reference,
        "amount": format_cents(amount_cents) if amount_cents is not None else "",
        "due_date": format_date(due_date, lang) if due_date is not None else "",
        "pay_url": pay_url or "",
        "name": holder_name or "",
    }

    def say(key: str) -> str:
        return texts[key].format(**values)

    subject = _one_line(say(f"subject.{kind}"))
    details = [(texts["account"], account_number)]
    if reference:
        details.append((texts["reference"], reference))
    if amount_cents is not None:
        details.append((texts[f"amount.{kind}"], values["amount"]))
    if due_date is not None:
        details.append((texts["due_date"], values["due_date"]))

    text_lines = []
    if holder_name:
        text_lines += [say("greeting"), ""]
    text_lines += [say(f"intro.{kind}"), ""]
    text_lines += [f"{label}: {value}" for label, value in details]
    if pay_url:
        text_lines += ["", say("pay_text")]
    text_lines += ["", "-- ", say("footer"), ""]

    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{esc(lang)}">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(subject)}</title></head>",
        '<body style="font-family: Arial, Helvetica, sans-serif; color: #222;">',
    ]
    if holder_name:
        parts.append(f"<p>{esc(say('greeting'))}</p>")
    parts.append(f"<p>{esc(say(f'intro.{kind}'))}</p>")
    parts.append('<table role="presentation" cellpadding="4" cellspacing="0">')
    parts += [
        f'<tr><th align="left">{esc(label)}</th><td>{esc(value)}</td></tr>'
        for label, value in details
    ]
    parts.append("</table>")
    if pay_url:
        parts.append(f'<p><a href="{esc(pay_url)}">{esc(texts["pay_link"])}</a></p>')
    parts.append(f'<p style="color: #666; font-size: 90%;">{esc(say("footer"))}</p>')
    parts += ["</body>", "</html>", ""]

    return Message(
        to=to,
        subject=subject,
        text="\n".join(text_lines),
        html="\n".join(parts),
        attachment_name=filename,
        attachment=pdf,
        language=lang,
    )


# --- Composing -------------------------------------------------------------------------


def _address(value: str) -> str:
    """The bare address in "Name <addr>" or "addr"."""
    return parseaddr(value)[1]


def is_deliverable_address(value: str) -> bool:
    """Whether the text looks like one e-mail address that can go in a header and an envelope."""
    if not value or any(c in value for c in "\r\n\x00"):
        return False
    bare = _address(value)
    local, at, domain = bare.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in bare)


def _domain(sender: str) -> str:
    """The domain of the sender's address, for the Message-ID."""
    domain = _address(sender).rpartition("@")[2].strip().strip(">").lower()
    return domain or "localhost"


def compose(message: Message, *, sender: str) -> EmailMessage:
    """The MIME message: multipart/mixed of multipart/alternative (plain, HTML) and the PDF."""
    composed = EmailMessage(policy=policy.default)
    composed["From"] = sender
    composed["To"] = message.to
    composed["Subject"] = _one_line(message.subject)
    composed["Date"] = formatdate(localtime=False)
    composed["Message-ID"] = make_msgid(domain=_domain(sender))
    composed.set_content(message.text, subtype="plain", charset="utf-8")
    composed.add_alternative(message.html, subtype="html", charset="utf-8")
    if message.attachment:
        composed.add_attachment(
            message.attachment,
            maintype="application",
            subtype="pdf",
            filename=message.attachment_name,
        )
    # Last: making the message multipart moves every Content-* header into the first part.
    composed["Content-Language"] = message.language
    return composed


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
