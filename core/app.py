"""The app factory: a list of one-purpose steps."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from dotenv import load_dotenv
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import errors
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
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    from core.models import StaffUser

    @login_manager.user_loader
    def load_user(user_id: str):
        """Load the signed-in staff user, if still active."""
        user = db.session.get(StaffUser, int(user_id))
        return user if user is not None and user.active else None


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
    from billing import api as billing_api
    from billing import api_billing, api_exports
    from billing import views as billing_views
    from console import views as console_views
    from core import api as core_api
    from core import views as core_views
    from notices import api as notices_api
    from notices import views as notices_views
    from payments import api as payments_api
    from payments import api_payments
    from payments import views as payments_views
    from portal import blueprints as portal_blueprints

    core_views.init_app(app)
    billing_views.init_app(app)
    payments_views.init_app(app)
    notices_views.init_app(app)
    console_views.init_app(app)
    core_api.init_app(app, api)
    billing_api.init_app(app, api)
    api_billing.init_app(app, api)
    api_exports.init_app(app, api)
    payments_api.init_app(app)
    api_payments.init_app(app, api)
    notices_api.init_app(app, api)
    portal_blueprints.init_app(app)


def register_request_hooks(app: Flask) -> None:
    """Authentication of API tokens, the read-only rule, security headers and cookie flags."""
    from core.auth import guard_current_request
    from core.security import CookieResponse, add_security_headers

    app.response_class = CookieResponse

    @app.before_request
    def _guard():
        guard_current_request(app, db.session)

    app.after_request(add_security_headers)


def register_commands(app: Flask) -> None:
    """Register every package's Flask CLI group."""
    from billing import cli as billing_cli
    from billing import cli_billing
    from core import cli as core_cli
    from notices import cli as notices_cli
    from payments import cli as payments_cli

    core_cli.init_app(app)
    billing_cli.init_app(app)
    cli_billing.init_app(app)
    payments_cli.init_app(app)
    notices_cli.init_app(app)
