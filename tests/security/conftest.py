"""Fixtures for the security checks: an app built with production settings, and browsers
holding each kind of session (staff, quick pay, registered resident, none)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from accounts.models import Account
from core import create_app
from core.db import utcnow
from core.extensions import db
from portal import residents
from tests.conftest import app_settings, csrf_token, reset_database
from tests.payments import conftest as payments_fixtures

#: localstripe, as the payments tests have it.
localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

RESIDENT_EMAIL = "ana.olson@example.net"
RESIDENT_PASSWORD = "a long enough resident password"
#: The address production serves on; CSRF checks the Referer of HTTPS requests against it.
HTTPS = "https://localhost"


@pytest.fixture
def production_app(database_url, reference_rows, instance, monkeypatch):
    """An app configured as production is (MUNIBILL_ENV=production, an https address).

    Production refuses SQLite in DATABASE_URL, so the settings see a PostgreSQL URL and
    the test database is then put in its place: every other setting is production's own.
    """
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(instance))
    settings = app_settings(database_url, instance)
    settings["ENV"] = {
        "MUNIBILL_ENV": "production",
        "SECRET_KEY": "production-secret-key-of-at-least-32-characters",
        "ACCESS_CODE_KEY": "production-access-code-key-of-32-characters-or-more",
        "DATABASE_URL": "postgresql://placeholder/only-the-scheme-is-read-here",
        "PUBLIC_BASE_URL": "https://billing.example.org",
        "OUTBOX_DIR": str(instance / "outbox"),
    }
    settings.pop("TESTING")
    app = create_app(settings)
    assert app.config["MUNIBILL_ENV"] == "production" and not app.testing
    yield app
    with app.app_context():
        db.session.remove()
        reset_database(db.engine, reference_rows)
        db.engine.dispose()


def https_client(app: Flask) -> FlaskClient:
    """A browser on the https address, sending the Referer a browser sends there."""
    client = app.test_client()
    client.environ_base.update(
        {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost", "HTTP_REFERER": f"{HTTPS}/"}
    )
    return client


def register_resident(app: Flask, number: str, email: str = RESIDENT_EMAIL) -> None:
    """A registered resident whose address is confirmed, linked to the account."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
        resident = residents.register(
            db.session,
            email=email,
            password=RESIDENT_PASSWORD,
            account=account,
            language="en",
            origin=None,
        )
        resident.verified_at = utcnow()
        db.session.commit()


def resident_sign_in(client: FlaskClient, email: str = RESIDENT_EMAIL):
    """Sign in as the registered resident through the real form."""
    token = csrf_token(client.get("/signin").text)
    return client.post(
        "/signin", data={"csrf_token": token, "email": email, "password": RESIDENT_PASSWORD}
    )
