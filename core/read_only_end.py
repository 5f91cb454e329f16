"""A request that wrote nothing ends its PostgreSQL transaction with COMMIT, not ROLLBACK.

psycopg prepares a statement on a connection once it has run there five times, and
PostgreSQL then plans it once for every later run (a generic plan) instead of on every run.
But psycopg forgets every statement it prepared whenever the connection rolls back, and a
request that only reads (a resident's bill page) ends with the rollback that closing the
session does: so no page ever ran a prepared statement, and the account position, the
largest query of most pages, was planned anew on each one (about 2 ms of its 3).

A transaction that holds no transaction id has written nothing (no row inserted, updated,
deleted or locked, no table created: any of them assigns one), and committing it is the
same as rolling it back. So after a request that raised nothing, with nothing left unflushed
in the session, this asks PostgreSQL whether the transaction holds an id and commits when it
does not; the rollback then has nothing to undo and psycopg keeps its prepared statements
(docs/architecture.md, "Prepared statements"). Anything else (an error, a write not committed,
SQLite) is rolled back as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from core.extensions import db

#: NULL unless the transaction wrote, locked or created something.
_WROTE = sa.text("SELECT txid_current_if_assigned() IS NOT NULL")


def init_app(app: Flask) -> None:
    """End each request that raised nothing and wrote nothing with a COMMIT."""
    app.teardown_request(_end_read_only)


def _end_read_only(error: BaseException | None) -> None:
    if error is not None:
        return
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return
    if session.new or session.dirty or session.deleted:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    try:
        wrote = connection.execute(_WROTE).scalar_one()
    except sa.exc.DBAPIError:
        # NOTE: a statement failed earlier and the view went on (the transaction is aborted):
        # the session's close rolls it back, as it always did.
        return
    if not wrote:
        session.commit()
