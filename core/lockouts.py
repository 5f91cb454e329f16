"""Sign-in lockouts of addresses no one has, kept in the audit log.

A real user or resident is locked after max_failures wrong passwords in a row; a typed
address that belongs to no one is counted the same way, from its own audit events
(`<prefix>.login_failed`, `<prefix>.locked`, `<prefix>.login_refused`, with no object), so
the fifth wrong password says "Too many failed sign-ins" whether or not the address is
registered. The audit log is the one store every app server shares; nothing new is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.models import AuditEvent

#: How far back failures of an unknown address are counted (a real one's never expire).
COUNTED_FOR = timedelta(days=30)


@dataclass(frozen=True)
class Locked:
    """An unknown address is locked: for how long still, and whether this failure locked it."""

    left: timedelta
    now_locked: bool


def _events(actor: Actor, action: str):
    return sa.select(AuditEvent.occurred_at).where(
        AuditEvent.action == action,
        AuditEvent.actor_label == actor.label,
        AuditEvent.actor_type == actor.kind,
        AuditEvent.object_id.is_(None),
    )


def _last_lock(session: Session, actor: Actor, prefix: str, since: datetime) -> datetime | None:
    query = _events(actor, f"{prefix}.locked").where(AuditEvent.occurred_at >= since)
    return session.scalar(query.order_by(AuditEvent.occurred_at.desc()).limit(1))


def stranger_failed(
    session: Session,
    actor: Actor,
    prefix: str,
    object_type: str,
    *,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> Locked | None:
    """A failed sign-in of an address no one has, counted as a real one's would be: None
    while it has failed fewer than max_failures times in a row, else how long it is locked."""
    last_lock = _last_lock(session, actor, prefix, now - COUNTED_FOR)
    if last_lock is not None and last_lock + lockout > now:
        record(session, actor, f"{prefix}.login_refused", object_type=object_type, reason="locked")
        return Locked(last_lock + lockout - now, now_locked=False)
    record(
        session, actor, f"{prefix}.login_failed", object_type=object_type, reason="unknown e-mail"
    )
    since = max(last_lock or now - COUNTED_FOR, now - COUNTED_FOR)
    failures = session.scalar(
        sa.select(sa.func.count()).select_from(
            _events(actor, f"{prefix}.login_failed")
            .where(AuditEvent.occurred_at > since)
            .subquery()
        )
    )
    if failures < max_failures:
        return None
    record(session, actor, f"{prefix}.locked", object_type=object_type, until=now + lockout)
    return Locked(lockout, now_locked=True)
