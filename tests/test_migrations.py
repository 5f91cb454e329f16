"""Migrations build the schema from empty on SQLite and PostgreSQL and match the models."""

import uuid

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from accounts.search import not_in_models
from billing.models import InvoiceLine
from core import create_app
from core.db import Base
from core.extensions import db
from tests.conftest import app_settings


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A new, empty database on the same server as the test database."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"munibill_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_upgrade_from_empty_and_match_the_models(empty_database_url, tmp_path):
    app = create_app(app_settings(empty_database_url, tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": not_in_models}
            )
            differences = compare_metadata(context, Base.metadata)
            tables = set(sa.inspect(connection).get_table_names())
            codes = (
                connection.execute(sa.text("SELECT code FROM gl_account ORDER BY code"))
                .scalars()
                .all()
            )
            services = connection.execute(sa.text("SELECT code FROM service_kind")).scalars().all()
        assert differences == []
        assert set(Base.metadata.tables) <= tables
        assert {"1000", "1010", "1020", "1100", "2000", "2010", "4500", "5000", "5100"} <= set(
            codes
        )
        assert set(services) == {"water", "sewer", "trash", "stormwater"}

        flask_migrate.downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        flask_migrate.upgrade()
        db.engine.dispose()


def test_lines_and_charges_posted_before_texts_by_language_keep_theirs_as_the_default(
    empty_database_url, tmp_path, monkeypatch
):
    from tests.billing.billing_fixtures import bill_households

    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_settings(empty_database_url, tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
    bill_households(app, "olson")
    with app.app_context():
        with db.engine.connect() as connection:
            before = connection.execute(
                sa.text("SELECT id, description, unit FROM invoice_line ORDER BY id")
            ).all()
        # Back to the schema before the texts by language, and up again: the rows posted then
        # get their description and unit as the default language's.
        flask_migrate.downgrade(revision="d3f5b7c9e1a2")
        flask_migrate.upgrade()
        rows = db.session.execute(
            sa.select(InvoiceLine.id, InvoiceLine.descriptions, InvoiceLine.units).order_by(
                InvoiceLine.id
            )
        ).all()
        db.session.remove()
        db.engine.dispose()
    assert before and len(rows) == len(before)
    for (ident, description, unit), (same, descriptions, units) in zip(before, rows, strict=True):
        assert ident == same and descriptions == {"en": description}
        assert units == ({"en": unit} if unit is not None else None)


def test_the_period_balances_are_backfilled_from_the_journal_posted_before_them(
    empty_database_url, tmp_path, monkeypatch
):
    from ledger import day_balances
    from tests.billing.billing_fixtures import bill_households

    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_settings(empty_database_url, tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
    bill_households(app, "olson", "nguyen")
    with app.app_context():
        # Back to the schema before the period balances, and up again: the migration sums
        # the journal posted meanwhile.
        flask_migrate.downgrade(revision="ef929eea3a1e")
        flask_migrate.upgrade()
        kept = day_balances.stored(db.session)
        differing = day_balances.differences(db.session)
        db.session.remove()
        db.engine.dispose()
    assert kept and differing == []
