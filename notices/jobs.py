"""Scheduled notice work: payment reminders (see scheduler.py and notices.reminders), and the
e-mail to operations when any scheduled run fails.

Each function takes (session, JobContext), commits as it goes, returns counts
and is idempotent: running it twice does nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape

from sqlalchemy.orm import Session

from core.jobs import JobContext
from core.models import JobRun
from notices.mail_delivery import Mailer
from notices.mail_message import Message
from notices.reminders import send_reminders as send

log = logging.getLogger(__name__)


def send_reminders(session: Session, context: JobContext) -> dict:
    """Send the reminder stages due as of the day: one notice per account, e-mailed or printed."""
    outcome = send(
        session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
    )
    return outcome.counts()


def email_operations(config: Mapping, run: JobRun) -> None:
    """E-mail the operations address about a failed run (if one is configured)."""
    address = config.get("OPERATIONS_EMAIL")
    if not address:
        return
    text = (
        f"The job {run.job} failed on {run.started_at:%Y-%m-%d %H:%M} UTC "
        f"(run {run.id}, as of {run.as_of}, on {run.holder}).\n\n{run.error}\n"
    )
    message = Message(
        to=address,
        subject=f"munibill: job {run.job} failed",
        text=text,
        html=f"<pre>{escape(text)}</pre>",
        attachment_name="",
        attachment=b"",
        language="en",
    )
    delivery = Mailer.from_config(config).send(message)
    log.warning("job %s failed; operations e-mail %s", run.job, delivery.status)
