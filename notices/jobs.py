"""Scheduled notice work: payment reminders (see scheduler.py and notices.reminders), the daily
review of payment plans with the letter to each resident whose plan defaulted, the shutoff
notices (notices.shutoff_notices), the door hangers and shutoff work orders
(notices.shutoff_field), the texts held through the quiet hours, and the e-mail to operations when
any scheduled run fails.

Each function takes (session, JobContext), commits as it goes, returns counts
and is idempotent: running it twice does nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape

from sqlalchemy.orm import Session

from billing.arrangements import plan_standing, review_plans
from billing.models import PaymentPlan
from core.jobs import JobContext
from core.models import JobRun
from notices.mail_delivery import Mailer
from notices.mail_message import Message
from notices.plan_letters import tell_default
from notices.reminders import send_reminders as send
from notices.shutoff_field import FieldError, hang_door_hangers, issue_work_orders
from notices.shutoff_notices import send_shutoff_notices as send_shutoffs
from notices.text_messages import send_held_texts as send_held

log = logging.getLogger(__name__)


def send_reminders(session: Session, context: JobContext) -> dict:
    """Send the reminder stages due as of the day: one notice per account, e-mailed or printed."""
    outcome = send(
        session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
    )
    return outcome.counts()


def send_shutoff_notices(session: Session, context: JobContext) -> dict:
    """Send the shutoff notice of each utility account the rules let be shut off and not yet
    noticed for its present delinquency; print the day's batch."""
    outcome = send_shutoffs(
        session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
    )
    return outcome.counts()


def send_held_texts(session: Session, context: JobContext) -> dict:
    """Send the texts held through the quiet hours (or for another try) whose time has come."""
    if context.dry_run:
        return {"sent": 0, "held": 0, "failed": 0, "canceled": 0}
    return send_held(session, context.config)


def leave_door_hangers(session: Session, context: JobContext) -> dict:
    """Record the day's door hangers (the 48-hour notices) of the noticed delinquencies whose
    shutoff comes within the rule's hours, each asked again; the list is printed by route."""
    outcome = hang_door_hangers(
        session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
    )
    return outcome.counts("hung") | {"texted": outcome.texted, "emailed": outcome.emailed}


def issue_shutoff_orders(session: Session, context: JobContext) -> dict:
    """Issue the day's shutoff work orders (each account asked again) and cancel the open ones
    whose account paid or became ineligible; a day with no shutoffs issues none."""
    try:
        outcome = issue_work_orders(
            session, context.config, context.actor, as_of=context.as_of, dry_run=context.dry_run
        )
    except FieldError:
        session.rollback()
        return {"issued": 0, "excluded": 0, "already": 0, "cancelled": 0, "no_shutoff_day": 1}
    return outcome.counts("issued") | {"no_shutoff_day": 0}


def review_payment_plans(session: Session, context: JobContext) -> dict:
    """Complete, default or lapse the payment plans as of the day; tell each resident whose plan
    defaulted. Rerunning it for the day changes nothing and tells no one twice."""
    review = review_plans(session, context.actor, context.as_of)
    counts = review.counts() | {"emailed": 0, "to_mail": 0}
    if context.dry_run:
        session.rollback()
        return counts
    session.commit()
    mailer = Mailer.from_config(context.config)
    for plan_id in review.defaulted:
        plan = session.get(PaymentPlan, plan_id)
        now = plan_standing(session, plan, context.as_of)
        counts[tell_default(context.config, mailer, plan, plan.account, now)] += 1
    return counts


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
