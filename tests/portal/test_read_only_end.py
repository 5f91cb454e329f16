"""A request that wrote nothing ends its transaction with COMMIT, so on PostgreSQL the
connection keeps the statements psycopg prepared (the resident's bill page then runs the
account position on a plan made once); a request that wrote, left a change in the session or
failed is rolled back exactly as before, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import abort

from accounts.models import Account
from core.extensions import db


def _holder(app, account_id: int) -> str:
    with app.app_context():
        return db.session.scalar(sa.select(Account.holder_name).where(Account.id == account_id))


@pytest.fixture
def routes(app, households):
    """Pages that read or write the first household's name and never commit."""
    with app.app_context():
        account_id = db.session.scalar(
            sa.select(Account.id).where(Account.number == households[0].number)
        )

    def rename():
        db.session.execute(
            sa.update(Account).where(Account.id == account_id).values(holder_name="Renamed")
        )

    def read_only():
        db.session.get(Account, account_id)
        return "read"

    def writes_without_commit():
        rename()
        return "wrote"

    def changes_without_flush():
        db.session.get(Account, account_id).holder_name = "Renamed"
        return "changed"

    def writes_then_refuses():
        rename()
        abort(409)

    def writes_then_fails_a_statement():
        rename()
        try:
            db.session.execute(sa.text("SELECT * FROM no_such_table"))
        except sa.exc.DBAPIError:
            return "went on"
        return "no error?"

    for view in (
        read_only,
        writes_without_commit,
        changes_without_flush,
        writes_then_refuses,
        writes_then_fails_a_statement,
    ):
        app.add_url_rule(f"/test-only/{view.__name__}", view.__name__, view)
    return account_id


def test_a_write_that_was_not_committed_is_rolled_back_whatever_the_page_answered(
    app, routes, households
):
    client = app.test_client()
    name = _holder(app, routes)
    assert client.get("/test-only/read_only").text == "read"
    assert client.get("/test-only/writes_without_commit").text == "wrote"
    assert _holder(app, routes) == name
    assert client.get("/test-only/changes_without_flush").text == "changed"
    assert _holder(app, routes) == name
    assert client.get("/test-only/writes_then_refuses").status_code == 409
    assert _holder(app, routes) == name
    # On PostgreSQL the failed statement aborted the transaction; the page still answers.
    assert client.get("/test-only/writes_then_fails_a_statement").text == "went on"
    assert _holder(app, routes) == name
    assert client.get("/test-only/read_only").text == "read"


def test_the_bill_page_runs_the_account_position_on_a_prepared_plan(app, resident):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's prepared statements are PostgreSQL's")
        engine = db.engine
    used = set()

    def record(connection, _cursor, statement, *_args):
        if statement.startswith("WITH live AS"):
            used.add(connection.connection.dbapi_connection)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(12):
            page = resident.get("/my/bill")
            assert page.status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    # NOTE: one request at a time takes the same pooled connection back each time.
    (connection,) = used
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans, generic_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH live AS%'"
        )
        runs, generic = cursor.fetchone()
    connection.rollback()
    # psycopg runs a statement five times before it prepares it; every later page ran the
    # prepared statement, and PostgreSQL chose its generic plan after five custom ones.
    assert runs == 12 - 5
    assert generic >= 1
