"""Server-side sessions, for staff and residents alike: signing out ends one everywhere.

The browser holds a random token (inside the signed session cookie); only its SHA-256 is
stored, on a row of a table that mixes in `SessionRow`. Each request looks the row up by
the token's hash: an ended row, one idle longer than its idle limit, or one older than its
absolute limit gives no session. Using a session moves its last-seen time (which the idle
limit counts from), never its start (which the absolute limit counts from).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import UTCDateTime

#: How often a session's last-seen time is written (a page view within this is not written).
TOUCH_EVERY = timedelta(seconds=60)


class SessionRow:
    """The columns every server-side session has (mixed into a model with its own id)."""

    #: SHA-256 of the browser's token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    origin: Mapped[str | None] = mapped_column(sa.String(64))


Row = TypeVar("Row", bound=SessionRow)


def token_hash(token: str) -> str:
    """SHA-256 of a session token (long and random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token for the browser to hold."""
    return secrets.token_urlsafe(32)


def open_row(row: Row, token: str, *, now: datetime, origin: str | None) -> Row:
    """Fill a new session row's shared columns for the token."""
    row.token_hash = token_hash(token)
    row.created_at = now
    row.last_seen_at = now
    row.origin = (origin or "")[:64] or None
    return row


def find_row(session: Session, model: type[Row], token: str | None, options=()) -> Row | None:
    """The session row of a token, live or not; None for no token or an unknown one."""
    if not token:
        return None
    return session.scalar(
        sa.select(model).where(model.token_hash == token_hash(token)).options(*options)
    )


def ends_at(row: SessionRow, *, idle: timedelta, absolute: timedelta | None) -> datetime:
    """When the row ends by itself unless used again: idle, or at its absolute limit."""
    end = row.last_seen_at + idle
    if absolute is not None:
        end = min(end, row.created_at + absolute)
    return end


def live(
    row: Row | None, *, now: datetime, idle: timedelta, absolute: timedelta | None = None
) -> Row | None:
    """The row if it is still live, touched; None (and the row ended) once past a limit."""
    if row is None or row.ended_at is not None:
        return None
    limit = ends_at(row, idle=idle, absolute=absolute)
    if now > limit:
        row.ended_at = limit
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(row: SessionRow, now: datetime) -> bool:
    """End the row now (its token stops working on every device); False if it had ended."""
    if row.ended_at is not None:
        return False
    row.ended_at = now
    return True
