"""Fixtures: a migrated database (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
a fresh app per test, a clean database after every test, and helpers to sign in.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

# Tests never read a developer's .env file.
os.environ["MUNIBILL_DOTENV"] = os.devnull

from core import create_app  # noqa: E402
from core.audit import Actor  # noqa: E402
from core.auth import create_api_token, create_staff_user  # noqa: E402
from core.db import Base  # noqa: E402
from core.extensions import db  # noqa: E402
from core.settings import normalize_database_url  # noqa: E402

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec_test_secret_for_signing_events"
#: Tables whose rows the first migration seeds; restored after every test.
REFERENCE_TABLES = ("gl_account", "service_kind", "ledger_head", "billing_cycle", "ach_return_rule")
FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


class ClosingClient(FlaskClient):
    """A test client that reads every answer to its end and closes it, as a browser and the
    WSGI server do: what the app does once the answer is sent (e-mail) has happened by the
    time a request returns."""

    def open(self, *args, buffered: bool = True, **kwargs):
        """Send a request; the answer comes back read and closed."""
        return super().open(*args, buffered=buffered, **kwargs)


def pytest_configure(config):
    """Every app's test client closes its answers (ClosingClient)."""
    Flask.test_client_class = ClosingClient


def pytest_report_header(config):
    """Say which database the suite runs on."""
    if TEST_DATABASE_URL:
        return (
            f"database: {sa.make_url(normalize_database_url(TEST_DATABASE_URL)).render_as_string()}"
        )
    return "database: SQLite (set TEST_DATABASE_URL to run on PostgreSQL)"


def pytest_collection_modifyitems(config, items):
    """Tests marked long come first, so that a worker starts each at once rather than last,
    alone, while the others have finished; tests marked postgres skip, with a reason, unless
    the suite runs on PostgreSQL."""
    items.sort(key=lambda item: "long" not in item.keywords)
    if TEST_DATABASE_URL.startswith(("postgres://", "postgresql")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def app_settings(database_url: str, instance: Path) -> dict:
    """The config a test app is built with."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ENV": {
            "MUNIBILL_ENV": "test",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
            "DATABASE_URL": database_url,
            "OUTBOX_DIR": str(instance / "outbox"),
        },
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """The database every test runs against; PostgreSQL must answer if it is configured."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'munibill-test.db'}"
        return
    url = normalize_database_url(TEST_DATABASE_URL)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        pytest.exit(
            f"TEST_DATABASE_URL is set but the database does not answer: {error}", returncode=3
        )
    finally:
        engine.dispose()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        yield url
        return
    # NOTE: with pytest -n each worker process gets a database of its own beside the
    # configured one (munibill_ci_1_gw0, …), made empty here and dropped at the end.
    base = sa.make_url(url)
    own = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{own}"'))
    try:
        yield base.set(database=own).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def reference_rows(database_url, tmp_path_factory) -> dict[str, list[dict]]:
    """Migrate the test database from empty once; remember the seeded rows."""
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(app_settings(database_url, instance))
    with app.app_context():
        _drop_everything(db.engine)
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            rows = {
                name: [
                    dict(r._mapping)
                    for r in connection.execute(sa.select(Base.metadata.tables[name]))
                ]
                for name in REFERENCE_TABLES
            }
        db.engine.dispose()
    return rows


def _drop_everything(engine: sa.Engine) -> None:
    """Start from an empty database, whatever an earlier run left."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        else:
            meta = sa.MetaData()
            meta.reflect(connection)
            meta.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def reset_database(engine: sa.Engine, reference_rows: dict[str, list[dict]]) -> None:
    """Empty every table and put back the rows the migration seeded."""
    tables = Base.metadata.sorted_tables
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # NOTE: TRUNCATE of every table makes new files for each of them and costs about a
            # second a test on PostgreSQL; a DELETE of only the tables that hold a row, in the
            # order their foreign keys allow, and the used sequences put back to 1 leave the
            # same empty database in a few milliseconds.
            probe = " UNION ALL ".join(
                f'SELECT {i} WHERE EXISTS (SELECT 1 FROM "{t.name}")' for i, t in enumerate(tables)
            )
            used = {row[0] for row in connection.execute(sa.text(probe))}
            for i, table in reversed(list(enumerate(tables))):
                if i in used:
                    connection.execute(table.delete())
            connection.execute(
                sa.text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)"
                    " FROM pg_sequences WHERE schemaname = current_schema()"
                    " AND last_value IS NOT NULL"
                )
            )
        else:
            for table in reversed(tables):
                connection.execute(table.delete())
        for table in tables:
            rows = reference_rows.get(table.name)
            if rows:
                connection.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('gl_account', 'id'), (SELECT max(id) FROM gl_account))"
                )
            )
            connection.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('billing_cycle', 'id'), "
                    "(SELECT max(id) FROM billing_cycle))"
                )
            )


@pytest.fixture
def instance(tmp_path) -> Path:
    """A private instance folder for one test."""
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


@pytest.fixture
def app(database_url, reference_rows, instance, monkeypatch):
    """A fresh app per test on the migrated database, cleaned afterwards."""
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(instance))
    app = create_app(app_settings(database_url, instance))
    yield app
    with app.app_context():
        db.session.remove()
        reset_database(db.engine, reference_rows)
        db.engine.dispose()


@pytest.fixture(scope="session")
def demo_snapshots() -> dict:
    """The demo town as each test process first loaded it, by its day (tests/demo_town.py)."""
    return {}


@pytest.fixture
def demo_town(app, runner, instance, demo_snapshots):
    """A function that gives this test the demo town as of a day (by default DEMO_AS_OF)
    and returns what `munibill demo load` printed: loaded by the command the first time in
    this test process, put back from what that load left every later time."""
    from tests.demo_town import DEMO_AS_OF, put_back, take

    def load(as_of: date = DEMO_AS_OF) -> str:
        kept = demo_snapshots.get(as_of)
        if kept is None:
            result = runner.invoke(args=["demo", "load", "--as-of", as_of.isoformat()])
            assert result.exit_code == 0, result.output
            with app.app_context():
                demo_snapshots[as_of] = kept = take(db.engine, instance, result.output)
        else:
            with app.app_context():
                put_back(db.engine, kept, instance)
        return kept.output

    return load


@pytest.fixture
def ctx(app):
    """An app context, for tests that call services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def session(ctx):
    """The database session of the app context."""
    return db.session


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for `munibill` commands."""
    return app.test_cli_runner()


@pytest.fixture
def make_staff(app):
    """Create a staff user with a role; returns the e-mail (the password is PASSWORD)."""

    def make(role: str, email: str | None = None) -> str:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        with app.app_context():
            create_staff_user(
                db.session,
                Actor.system("test"),
                email=email,
                name=role.title(),
                role=role,
                password=PASSWORD,
            )
            db.session.commit()
        return email

    return make


@pytest.fixture
def api_headers(app):
    """Authorization headers for an API token of a role."""

    def make(role: str) -> dict[str, str]:
        with app.app_context():
            _token, secret = create_api_token(
                db.session, Actor.system("test"), name=f"test {role}", role=role
            )
            db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


def form_token(html: str) -> str:
    """The one-time token of the first form on a page that records money (core.submissions)."""
    match = FORM_TOKEN_RE.search(html)
    assert match, "the page has no one-time form token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    """Sign in through the real form, CSRF token included; returns the response."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


@pytest.fixture
def signed_in(client, make_staff):
    """A client signed in with a given role."""

    def make(role: str):
        response = sign_in(client, make_staff(role))
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


def account_data(**overrides) -> dict:
    """Valid data for a new account."""
    data = {
        "holder_name": "Maria Olson",
        "mail_street": "412 Oak Street",
        "mail_city": "Maple Falls",
        "mail_state": "WI",
        "mail_zip": "54901-2231",
        "email": "maria.olson@example.org",
        "language": "en",
    }
    data.update(overrides)
    return data


TODAY = date(2026, 11, 26)


@pytest.fixture
def session_account(app) -> str:
    """One account in the database; returns its number."""
    from accounts.services import create_account

    with app.app_context():
        account, _code = create_account(
            db.session, Actor.system("test"), account_data(), code_key=app.config["ACCESS_CODE_KEY"]
        )
        db.session.commit()
        return account.number


@pytest.fixture
def throttled(database_url, reference_rows, instance, monkeypatch):
    """Build apps whose throttles are on (memory, or Redis when given a storage URI; other
    settings as environment variables).

    Each call builds a new app (a new connection to the storage), so counts that survive
    from one app to the next were shared, not kept in one process's memory.
    """
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(instance))
    prefix = f"test-{uuid.uuid4().hex}"
    built: list[Flask] = []

    def make(storage: str = "memory://", **env: str) -> Flask:
        settings = app_settings(database_url, instance)
        settings["ENV"] |= env
        settings |= {
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": storage,
            "RATELIMIT_KEY_PREFIX": prefix,
        }
        app = create_app(settings)
        built.append(app)
        return app

    yield make
    if built:
        with built[0].app_context():
            db.session.remove()
            reset_database(db.engine, reference_rows)
            db.engine.dispose()
