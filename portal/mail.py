"""Short e-mails to residents (address checks, password resets, answers, autopay failures),
sent the way notices are: by SMTP with retries, or to the outbox folder."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from notices.mail import Delivery, Mailer, Message

log = logging.getLogger(__name__)


def _as_html(text: str) -> str:
    """The plain text as simple HTML paragraphs, every value escaped."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)


def send_email(
    config: Mapping, *, to: str, subject: str, text: str, language: str = "en"
) -> Delivery:
    """Send one plain message (and its HTML twin); never raises for a delivery problem."""
    message = Message(
        to=to,
        subject=subject,
        text=text,
        html=_as_html(text),
        attachment_name="",
        attachment=b"",
        language=language,
    )
    try:
        mailer = Mailer.from_config(config)
    except ValueError as error:
        log.error("e-mail is not configured: %s", error)
        return Delivery(status="failed", attempts=0, error=str(error))
    delivery = mailer.send(message)
    log.info("resident e-mail to %s: %s", to, delivery.status)
    return delivery
