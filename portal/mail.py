"""Short e-mails to residents (address checks, password resets, answers, autopay failures),
sent the way notices are: by SMTP with retries, or to the outbox folder.

Mail that would tell a stranger whether an address is registered (a reset link, a new
confirmation link, a one-time code) is written and sent after the answer has gone out
(`after_the_answer`): the answer does the same work whoever the address belongs to."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping

from flask import after_this_request, current_app

from notices.mail_delivery import Delivery, Mailer
from notices.mail_message import Message

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


def after_the_answer(deliver: Callable[[], object]) -> None:
    """Run deliver (which writes and sends a message) once this request's answer is sent,
    in its own app context; a failure is logged, never shown to the resident."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                deliver()
            except Exception:
                log.exception("a resident e-mail could not be sent after the answer")

    @after_this_request
    def schedule(response):
        response.call_on_close(run)
        return response
