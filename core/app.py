"""The app factory: a list of one-purpose steps."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from dotenv import load_dotenv
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import errors, limits, read_only_end, replica, submissions
from core.apidoc import API_SETTINGS
from core.extensions import api, csrf, db, limiter, login_manager, migrate
from core.settings import load_settings

#: The Alembic scripts live at the top of the repository.
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    """Create the munibill app from the environment (and test_config, in tests)."""
    load_dotenv(os.environ.get("MUNIBILL_DOTENV", ".env"), override=False)
    instance = os.environ.get("MUNIBILL_INSTANCE_PATH") or str(Path.cwd() / "instance")
    app = Flask(
        "munibill",
        root_path=str(Path(__file__).resolve().parent),
        instance_path=str(Path(instance).resolve()),
    )
    settings_env = dict(os.environ)
    if test_config:
        settings_env.update({k: str(v) for k, v in test_config.get("ENV", {}).items()})
    app.config.update(load_settings(settings_env, Path(app.instance_path)))
    app.config.update(API_SETTINGS)
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if k != "ENV"})
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    errors.init_app(app)
    register_request_hooks(app)
    register_commands(app)
    register_job_hooks(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_HOPS proxies, take the client's address and scheme from them."""
    hops = app.config.get("TRUSTED_PROXY_HOPS", 0)
    if hops > 0:
        # NOTE: the throttles and the audit log then see the resident's address, not the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def configure_logging(app: Flask) -> None:
    """Log to stderr at INFO; never log request bodies (they may hold secrets)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    db.init_app(app)
    replica.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    limits.init_app(app)  # NOTE: before CSRF, which reads the form
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    from core.views import load_signed_in_user

    # NOTE: the user comes from the server-side staff session the cookie names, checked on
    # every request; the user id in the cookie alone signs no one in.
    login_manager.user_loader(load_signed_in_user)


def configure_engine(engine: sa.Engine) -> None:
    """SQLite: WAL, foreign keys, a busy timeout. PostgreSQL needs nothing here."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    """Register the HTML blueprints and the API blueprints of every package."""
    from accounts import api as accounts_api
    from accounts import views as accounts_views
    from billing import api as billing_api
    from console import views as console_views
    from core import api as core_api
    from core import views as core_views
    from ledger import api as ledger_api
    from notices import api as notices_api
    from notices import views as notices_views
    from payments import api as payments_api
    from payments import api_payments
    from payments import views as payments_views
    from portal import blueprints as portal_blueprints

    core_views.init_app(app)
    accounts_views.init_app(app)
    payments_views.init_app(app)
    notices_views.init_app(app)
    console_views.init_app(app)
    core_api.init_app(app, api)
    accounts_api.init_app(app, api)
    ledger_api.init_app(app, api)
    billing_api.init_app(app, api)
    payments_api.init_app(app)
    api_payments.init_app(app, api)
    notices_api.init_app(app, api)
    portal_blueprints.init_app(app)


def register_job_hooks(app: Flask) -> None:
    """A failed scheduled run is e-mailed to operations by notices (core sends no mail); penalties
    wait for a bank debit in flight, which payments knows of (billing does not)."""
    from billing.penalty_service import PENALTY_HOLDS
    from core.scheduling import FAILED_RUN_NOTIFIER
    from notices.jobs import email_operations
    from payments.bank_payments import debits_in_flight

    app.extensions[FAILED_RUN_NOTIFIER] = email_operations
    app.extensions[PENALTY_HOLDS] = debits_in_flight


def register_request_hooks(app: Flask) -> None:
    """Authentication of API tokens, the read-only rule, security headers and cookie flags."""
    from core.auth import guard_current_request
    from core.security import CookieResponse, add_security_headers, refuse_nul_in_pages

    app.response_class = CookieResponse
    app.before_request(refuse_nul_in_pages)
    submissions.init_app(app)

    @app.before_request
    def _guard():
        guard_current_request(app, db.session)

    app.after_request(add_security_headers)
    read_only_end.init_app(app)


def register_commands(app: Flask) -> None:
    """Register every package's Flask CLI group."""
    from accounts import cli as accounts_cli
    from billing import cli as billing_cli
    from console import cli as console_cli
    from core import cli as core_cli
    from demo import cli as demo_cli
    from ledger import cli as ledger_cli
    from notices import cli as notices_cli
    from payments import cli as payments_cli

    core_cli.init_app(app)
    ledger_cli.init_app(app)
    accounts_cli.init_app(app)
    billing_cli.init_app(app)
    payments_cli.init_app(app)
    notices_cli.init_app(app)
    console_cli.init_app(app)
    demo_cli.init_app(app)
