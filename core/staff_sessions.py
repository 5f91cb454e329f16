"""Staff sessions: one server-side row per sign-in, and everything that ends them.

A session ends at sign-out; after STAFF_IDLE_MINUTES without a request; STAFF_SESSION_HOURS
after the sign-in however busy it was; when an admin or the operator signs the user out
everywhere; when the user's password changes (a change the user makes keeps the session
that made it); and when the user is deactivated. Every one of these but the limits is
audited, with the number of sessions it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash

from core import sessions
from core.audit import Actor, record
from core.auth import AuthError, check_password_strength, hash_password
from core.models import SessionEnd, StaffSession, StaffUser


class WrongPassword(AuthError):
    """The current password typed to change it is not the user's."""


@dataclass(frozen=True)
class Limits:
    """How long a staff session lives: without a request, and at most from its sign-in."""

    idle: timedelta
    absolute: timedelta


def start(session: Session, user: StaffUser, *, now: datetime, origin: str | None) -> str:
    """A new session for a user who just signed in; returns the token the browser keeps."""
    token = sessions.new_token()
    row = StaffSession(user_id=user.id)
    session.add(sessions.open_row(row, token, now=now, origin=origin))
    session.flush()
    return token


def current(
    session: Session, token: str | None, *, now: datetime, limits: Limits
) -> StaffSession | None:
    """The live session of a token, touched; None (and ended, saying why) past a limit."""
    row = sessions.find_row(session, StaffSession, token, options=(joinedload(StaffSession.user),))
    if row is None or row.ended_at is not None:
        return None
    if sessions.live(row, now=now, idle=limits.idle, absolute=limits.absolute) is None:
        expired = row.ended_at >= row.created_at + limits.absolute
        row.end_reason = SessionEnd.EXPIRED if expired else SessionEnd.IDLE
        return None
    if not row.user.active:
        _end(row, now, SessionEnd.DEACTIVATED)
        return None
    return row


def sign_out(row: StaffSession, now: datetime) -> None:
    """The user signed out: the token stops working at once, wherever it was copied."""
    _end(row, now, SessionEnd.SIGNED_OUT)


def _end(row: StaffSession, now: datetime, reason: SessionEnd) -> bool:
    """End one row for a reason; False if it had already ended."""
    if not sessions.end(row, now):
        return False
    row.end_reason = reason
    return True


def open_sessions(session: Session, user_id: int) -> list[StaffSession]:
    """The user's sessions not yet ended (some may be past a limit, unnoticed yet)."""
    return list(
        session.scalars(
            sa.select(StaffSession)
            .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
            .order_by(StaffSession.id)
        )
    )


def end_sessions(
    session: Session,
    user_id: int,
    *,
    now: datetime,
    reason: SessionEnd,
    keep: StaffSession | None = None,
) -> int:
    """End every open session of the user but `keep`; returns how many ended."""
    ended = sum(
        _end(row, now, reason)
        for row in open_sessions(session, user_id)
        if keep is None or row.id != keep.id
    )
    session.flush()
    return ended


def sign_out_everywhere(session: Session, actor: Actor, user: StaffUser, *, now: datetime) -> int:
    """An admin or the operator ends all of a user's sessions; audited with the count."""
    ended = end_sessions(session, user.id, now=now, reason=SessionEnd.REVOKED)
    record(session, actor, "user.sessions_revoked", user, sessions_ended=ended)
    return ended


def change_own_password(
    session: Session,
    actor: Actor,
    row: StaffSession,
    *,
    current_password: str,
    new_password: str,
    now: datetime,
) -> int:
    """The signed-in user sets a new password; every other session of theirs ends.

    A wrong current password is audited (the caller keeps that event) and changes nothing.
    """
    user = row.user
    if not check_password_hash(user.password_hash, current_password):
        record(session, actor, "user.password_change_refused", user, reason="wrong password")
        raise WrongPassword("The current password is not correct.")
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    ended = end_sessions(session, user.id, now=now, reason=SessionEnd.PASSWORD_CHANGED, keep=row)
    record(session, actor, "user.password_change", user, sessions_ended=ended)
    return ended


def set_password(
    session: Session, actor: Actor, user: StaffUser, password: str, *, now: datetime
) -> int:
    """Someone else sets the user's password; every session of the user ends."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    ended = end_sessions(session, user.id, now=now, reason=SessionEnd.PASSWORD_CHANGED)
    record(session, actor, "user.password_reset", user, sessions_ended=ended)
    return ended


def set_active(
    session: Session, actor: Actor, user: StaffUser, active: bool, *, now: datetime
) -> int:
    """Deactivate (every session ends, no sign-in after) or reactivate a user."""
    if user.active == active:
        return 0
    user.active = active
    ended = 0 if active else end_sessions(session, user.id, now=now, reason=SessionEnd.DEACTIVATED)
    action = "user.reactivate" if active else "user.deactivate"
    record(
        session,
        actor,
        action,
        user,
        before={"active": not active},
        after={"active": active},
        sessions_ended=ended,
    )
    return ended
