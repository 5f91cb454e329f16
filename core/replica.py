"""Read-only work on a streaming replica: the auditors' exports and the staff dashboard.

With DATABASE_REPLICA_URL set, read_engine() and read_session() answer from the replica, on
connections whose every transaction is READ ONLY (default_transaction_read_only), so a write
sent there fails loudly instead of going nowhere. Without it they are the primary's engine
and db.session, exactly as before. Everything that writes keeps using db.session.

NOTE: a replica is behind its primary by the time its replay takes (usually well under a
second, longer under heavy load or after a network cut): what a clerk just posted may not be
on the dashboard yet. replica_lag() says by how much; docs/deployment.md says what it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from core.extensions import db

#: Every transaction on a replica connection is read only, whatever the server is.
READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"
_ENGINE_KEY = "munibill_replica_engine"


def init_app(app: Flask) -> None:
    """Create the replica's engine when DATABASE_REPLICA_URL is set; close sessions after use."""
    url = app.config.get("DATABASE_REPLICA_URL", "")
    if url:
        app.extensions[_ENGINE_KEY] = sa.create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"options": READ_ONLY_OPTIONS},
        )
    app.teardown_appcontext(_close_read_session)


def replica_engine(app: Flask | None = None) -> sa.Engine | None:
    """The replica's engine, or None when no replica is configured."""
    return (app or current_app).extensions.get(_ENGINE_KEY)


def read_engine(app: Flask | None = None) -> sa.Engine:
    """Where read-only work connects: the replica if there is one, else the primary."""
    return replica_engine(app) or db.engine


def read_session() -> Session:
    """A session for read-only work in this app context: the replica's, else db.session."""
    engine = replica_engine()
    if engine is None:
        return db.session
    if "munibill_read_session" not in g:
        g.munibill_read_session = Session(engine, autoflush=False, expire_on_commit=False)
    return g.munibill_read_session


def _close_read_session(_error=None) -> None:
    """Give the replica connection back at the end of the app context."""
    session = g.pop("munibill_read_session", None)
    if session is not None:
        session.close()


@dataclass(frozen=True)
class ReplicaLag:
    """How far behind its primary the replica a page was read from is."""

    #: Every change the replica has received is applied (it may still be receiving).
    caught_up: bool
    #: Since the primary committed the last transaction the replica has applied; None before
    #: the first one. On an idle primary this grows although nothing is missing.
    since_last_replay: timedelta | None


def replica_lag(session: Session) -> ReplicaLag | None:
    """The lag of the server this session reads from, or None when it is no replica."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = session.execute(
        sa.text(
            "SELECT pg_is_in_recovery(), "
            "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(), "
            "now() - pg_last_xact_replay_timestamp()"
        )
    ).one()
    in_recovery, caught_up, since = row
    if not in_recovery:
        return None
    return ReplicaLag(caught_up=bool(caught_up), since_last_replay=since)
