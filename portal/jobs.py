"""Scheduled portal work: charging autopay on the bills' due dates, and forgetting residents'
sessions long over (see scheduler.py).

Each function takes (session, JobContext), commits as it goes, returns counts
and is idempotent: running it twice does nothing new.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.calendar import town_zone
from core.jobs import JobContext
from payments.gateway import StripeGateway
from portal.ach_notices import tell_returns, waiting_returns
from portal.autopay_charging import UNAVAILABLE, charge_due, due_charges
from portal.models import PortalSession

#: How long a finished session's row is kept (who was signed in, from where, until when).
SESSIONS_KEPT_DAYS = 90


class StripeUnavailable(RuntimeError):
    """Stripe could not be reached: the bills not charged wait for the next run."""


def charge_autopay(session: Session, context: JobContext) -> dict:
    """Charge the saved cards of the bills due as of the day (portal.autopay_charging.charge_due).

    Each bill is committed as soon as it is charged. When Stripe cannot be reached the
    run fails after keeping what it did, so the operations address hears of it; the
    bills left over are charged by the next run (within CATCH_UP_DAYS of their due date).
    """
    if not context.config.get("AUTOPAY_ENABLED"):
        return {"disabled": 1}
    if context.dry_run:
        zone = town_zone(context.config)
        return {"due": len(due_charges(session, context.as_of, zone=zone))}
    with StripeGateway.from_config(context.config) as gateway:
        counts = charge_due(
            session,
            context.config,
            context.actor,
            gateway,
            context.as_of,
            commit=session.commit,
        )
    if counts[UNAVAILABLE]:
        context.counts.update(counts)
        left = counts[UNAVAILABLE] + counts["not_attempted"]
        raise StripeUnavailable(
            f"Stripe could not be reached; {left} autopay charge(s) wait for the next run"
        )
    return counts


def tell_bank_returns(session: Session, context: JobContext) -> dict:
    """E-mail residents whose bank returned a debit (portal.ach_notices), once per return."""
    if context.dry_run:
        return {"waiting": len(waiting_returns(session))}
    return tell_returns(session, context.config, context.actor)


def purge_portal_sessions(session: Session, context: JobContext) -> dict:
    """Delete residents' sessions last seen more than SESSIONS_KEPT_DAYS before the day.

    A session idle that long ended long ago; only its row is left. The audit log keeps
    the sign-ins and lookups themselves.
    """
    zone = town_zone(context.config)
    before = datetime.combine(context.as_of - timedelta(days=SESSIONS_KEPT_DAYS), time(), zone)
    old = sa.select(sa.func.count(PortalSession.id)).where(PortalSession.last_seen_at < before)
    if context.dry_run:
        return {"old_sessions": session.scalar(old)}
    deleted = session.execute(
        sa.delete(PortalSession).where(PortalSession.last_seen_at < before)
    ).rowcount
    session.commit()
    return {"deleted": deleted}
