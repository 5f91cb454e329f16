"""Without DATABASE_REPLICA_URL read-only work runs on the primary as it always did; the
setting names a PostgreSQL replica of a PostgreSQL primary, or the app does not start."""

from __future__ import annotations

import pytest

from core import create_app
from core.audit import Actor
from core.auth import create_api_token
from core.extensions import db
from core.replica import read_engine, read_session, replica_engine
from core.settings import ConfigError, load_settings
from tests.conftest import app_settings, reset_database, sign_in
from tests.private_postgres import free_port

PRIMARY = "postgresql://munibill@db/munibill"


def test_without_a_replica_read_only_work_uses_the_primary(app):
    with app.app_context():
        assert app.config["DATABASE_REPLICA_URL"] == ""
        assert replica_engine() is None
        assert read_engine() is db.engine
        assert read_session() is db.session


def test_without_a_replica_the_dashboard_says_nothing_of_one(client, make_staff):
    assert sign_in(client, make_staff("clerk")).status_code == 302
    page = client.get("/staff/dashboard").text
    assert "<h1>Dashboard</h1>" in page
    assert "replica" not in page


def test_the_replica_url_uses_the_same_driver_as_the_primary(tmp_path):
    env = {
        "DATABASE_URL": PRIMARY,
        "DATABASE_REPLICA_URL": "postgresql://munibill@replica/munibill",
    }
    settings = load_settings(env, tmp_path)
    assert settings["DATABASE_REPLICA_URL"] == "postgresql+psycopg://munibill@replica/munibill"


@pytest.mark.parametrize(
    ("primary", "replica", "named"),
    [
        (PRIMARY, "sqlite:///replica.db", "DATABASE_REPLICA_URL"),
        ("sqlite:///munibill.db", "postgresql://munibill@replica/munibill", "DATABASE_URL"),
    ],
)
def test_a_replica_that_is_not_postgresql_is_refused(tmp_path, primary, replica, named):
    env = {"DATABASE_URL": primary, "DATABASE_REPLICA_URL": replica}
    with pytest.raises(ConfigError, match=named):
        load_settings(env, tmp_path)


@pytest.fixture
def replica_down(database_url, reference_rows, instance, monkeypatch):
    """The app on the test database, with DATABASE_REPLICA_URL naming a port nothing answers."""
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(instance))
    settings = app_settings(database_url, instance)
    settings["ENV"]["DATABASE_REPLICA_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    app = create_app(settings)
    yield app
    replica_engine(app).dispose()
    with app.app_context():
        db.session.remove()
        reset_database(db.engine, reference_rows)
        db.engine.dispose()


@pytest.mark.postgres
def test_with_the_replica_down_the_dashboard_is_unavailable_and_the_staff_home_answers(
    replica_down, make_staff
):
    client = replica_down.test_client()
    assert sign_in(client, make_staff("clerk")).status_code == 302
    assert client.get("/staff/dashboard").status_code == 503
    assert client.get("/staff/").status_code == 200


@pytest.mark.postgres
def test_with_the_replica_down_exports_are_unavailable_and_the_ledger_still_answers(replica_down):
    with replica_down.app_context():
        _token, secret = create_api_token(
            db.session, Actor.system("test"), name="auditor", role="auditor"
        )
        db.session.commit()
    client = replica_down.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/exports/ledger", headers=headers).status_code == 503
    assert client.get("/api/v1/ledger/trial-balance", headers=headers).status_code == 200
