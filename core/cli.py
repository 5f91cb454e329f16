"""The `munibill` command (the Flask CLI of this app) and the users and tokens groups."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from core import staff_sessions
from core.audit import Actor, record
from core.auth import AuthError, create_api_token, create_staff_user
from core.db import utcnow
from core.extensions import db
from core.models import ApiToken, JobRun, Role, StaffUser
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


def _user(email: str) -> StaffUser:
    """The staff user with the e-mail; a clear error if there is none."""
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No staff user {email}.")
    return user


@users.command("unlock")
@click.argument("email")
@with_appcontext
def users_unlock(email: str) -> None:
    """Lift a sign-in lockout."""
    user = _user(email)
    user.locked_until = None
    user.failed_logins = 0
    record(db.session, OPERATOR, "user.unlock", user)
    db.session.commit()
    click.echo(f"Unlocked {user.email}.")


@users.command("sign-out")
@click.argument("email")
@with_appcontext
def users_sign_out(email: str) -> None:
    """Sign a user out everywhere: every session they hold ends now."""
    user = _user(email)
    ended = staff_sessions.sign_out_everywhere(db.session, OPERATOR, user, now=utcnow())
    db.session.commit()
    click.echo(f"Signed {user.email} out everywhere ({ended} sessions ended).")


@users.command("deactivate")
@click.argument("email")
@with_appcontext
def users_deactivate(email: str) -> None:
    """Deactivate a user: every session ends and sign-in is refused."""
    user = _user(email)
    ended = staff_sessions.set_active(db.session, OPERATOR, user, False, now=utcnow())
    db.session.commit()
    click.echo(f"Deactivated {user.email} ({ended} sessions ended).")


@users.command("reactivate")
@click.argument("email")
@with_appcontext
def users_reactivate(email: str) -> None:
    """Let a deactivated user sign in again."""
    user = _user(email)
    staff_sessions.set_active(db.session, OPERATOR, user, True, now=utcnow())
    db.session.commit()
    click.echo(f"Reactivated {user.email}.")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_set_password(email: str, password_stdin: bool) -> None:
    """Give a user a new password; every session of theirs ends."""
    user = _user(email)
    try:
        ended = staff_sessions.set_password(
            db.session, OPERATOR, user, _read_password(password_stdin), now=utcnow()
        )
    except AuthError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Set a new password for {user.email} ({ended} sessions ended).")


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


jobs = click.Group("jobs", help="Scheduled jobs: run one by hand, list the runs.")


def _schedule():
    """The schedule table (scheduler.py, beside the packages)."""
    import scheduler

    return scheduler.SCHEDULE


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler process (one leads, others stand by) until Ctrl-C."""
    from core.scheduling import serve

    serve(current_app._get_current_object(), _schedule())


@jobs.command("run")
@click.argument("name")
@click.option(
    "--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The day to run for."
)
@click.option("--dry-run", is_flag=True, help="Report what it would do; change nothing.")
@with_appcontext
def run_command(name: str, as_of, dry_run: bool) -> None:
    """Run one job of the schedule now (and record the run)."""
    from core.scheduling import find, run_entry

    try:
        entry = find(_schedule(), name)
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from error
    run = run_entry(
        current_app._get_current_object(),
        entry,
        as_of=as_of.date() if as_of else None,
        dry_run=dry_run,
    )
    click.echo(f"{run.job} run {run.id}: {run.status.value} {run.counts}")
    if run.error:
        click.echo(run.error, err=True)
        raise SystemExit(1)


@jobs.command("list")
@click.option("--job", default=None)
@click.option("--limit", default=20, show_default=True, type=int)
@with_appcontext
def list_command(job: str | None, limit: int) -> None:
    """The latest job runs, newest first."""
    query = sa.select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    for run in db.session.scalars(query):
        finished = f"{run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else "-"
        click.echo(
            f"{run.id:>6} {run.job:<18} {run.status.value:<9} {run.started_at:%Y-%m-%d %H:%M} "
            f"{finished:<16} {'dry ' if run.dry_run else ''}{run.counts}"
            + (f"  {run.error.splitlines()[-1]}" if run.error else "")
        )


def init_app(app: Flask) -> None:
    """Register the core command groups."""
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(jobs)
    app.cli.add_command(scheduler_command)
