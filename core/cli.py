"""The `munibill` command (the Flask CLI of this app) and the users and tokens groups."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from core.audit import Actor, record
from core.auth import AuthError, create_api_token, create_staff_user
from core.db import utcnow
from core.extensions import db
from core.models import ApiToken, Role, StaffUser
from core.settings import ConfigError

OPERATOR = Actor.system("operator", origin="cli")


def _create_app() -> Flask:
    """Build the app for the CLI; a configuration error is one clear line and exit 2."""
    from core.app import create_app

    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"munibill: configuration error: {error}", err=True)
        sys.exit(2)


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    set_debug_flag=False,
    load_dotenv=False,
)
def main() -> None:
    """munibill: billing and tax collection for a municipality."""


users = click.Group("users", help="Staff users.")
tokens = click.Group("tokens", help="API tokens for integrations.")


def _read_password(password_stdin: bool) -> str:
    """Read a password from stdin or ask twice without echo."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create a staff user; asks for the password (or reads it from stdin)."""
    password = _read_password(password_stdin)
    try:
        user = create_staff_user(
            db.session, OPERATOR, email=email, name=name or email, role=role, password=password
        )
    except AuthError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email}.")


@users.command("list")
@with_appcontext
def users_list() -> None:
    """List staff users."""
    for user in db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)):
        state = "active" if user.active else "inactive"
        locked = " locked" if user.locked_until and user.locked_until > utcnow() else ""
        click.echo(f"{user.email}\t{user.role.value}\t{state}{locked}")


@users.command("unlock")
@click.argument("email")
@with_appcontext
def users_unlock(email: str) -> None:
    """Lift a sign-in lockout."""
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No staff user {email}.")
    user.locked_until = None
    user.failed_logins = 0
    record(db.session, OPERATOR, "user.unlock", user)
    db.session.commit()
    click.echo(f"Unlocked {user.email}.")


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days."
)
@with_appcontext
def tokens_create(name: str, role: str, days: int | None) -> None:
    """Create an API token and print it once."""
    expires = utcnow() + timedelta(days=days) if days else None
    _token, secret = create_api_token(
        db.session, OPERATOR, name=name, role=role, expires_at=expires
    )
    db.session.commit()
    click.echo(secret)


@tokens.command("list")
@with_appcontext
def tokens_list() -> None:
    """List API tokens (never their secrets)."""
    now = utcnow()
    for token in db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)):
        state = "usable" if token.usable(now) else "revoked or expired"
        click.echo(f"{token.prefix}\t{token.role.value}\t{token.name}\t{state}")


@tokens.command("revoke")
@click.argument("prefix")
@with_appcontext
def tokens_revoke(prefix: str) -> None:
    """Revoke a token by its prefix."""
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.prefix == prefix))
    if token is None:
        raise click.ClickException(f"No token {prefix}.")
    token.revoked_at = utcnow()
    record(db.session, OPERATOR, "token.revoke", token)
    db.session.commit()
    click.echo(f"Revoked {prefix}.")


def init_app(app: Flask) -> None:
    """Register the core command groups."""
    app.cli.add_command(users)
    app.cli.add_command(tokens)
