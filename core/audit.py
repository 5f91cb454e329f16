"""Who did what: the Actor passed to every service, and the audit log writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.db import bulk_insert, utcnow
from core.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a staff user, an API token, a job, a resident or the system."""

    kind: str
    id: str | None
    label: str
    #: Where the action came from: an IP address, "cli" or "scheduler".
    origin: str | None = None

    @classmethod
    def job(cls, name: str) -> Actor:
        """A scheduled or manually started job."""
        return cls("job", name, f"job:{name}", "scheduler")

    @classmethod
    def system(cls, label: str = "system", origin: str | None = "cli") -> Actor:
        """The system itself, e.g. a CLI command run by an operator."""
        return cls("system", None, label, origin)


def record(
    session: Session,
    actor: Actor,
    action: str,
    obj: Any = None,
    *,
    object_type: str | None = None,
    object_id: str | int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    **facts: Any,
) -> AuditEvent:
    """Append one audit event; flushes nothing by itself (the caller's transaction holds it)."""
    if obj is not None:
        object_type = object_type or obj.__class__.__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    summary: dict[str, Any] = dict(facts)
    if before is not None:
        summary["before"] = before
    if after is not None:
        summary["after"] = after
    event = AuditEvent(
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        summary=_jsonable(summary),
        origin=actor.origin,
    )
    session.add(event)
    return event


def record_many(
    session: Session, actor: Actor, action: str, object_type: str, facts: dict[str, dict]
) -> None:
    """Append one audit event per object (object id -> its facts) with one bulk insert."""
    now = utcnow()
    bulk_insert(
        session,
        AuditEvent.__table__,
        [
            {
                "occurred_at": now,
                "actor_type": actor.kind,
                "actor_id": actor.id,
                "actor_label": actor.label,
                "action": action,
                "object_type": object_type,
                "object_id": str(object_id),
                "summary": _jsonable(summary),
                "origin": actor.origin,
            }
            for object_id, summary in facts.items()
        ],
    )


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Keep only the keys whose value changed, for a compact before/after summary."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _jsonable(value: Any) -> Any:
    """Make dates, Decimals and enums JSON-safe for the summary column."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
