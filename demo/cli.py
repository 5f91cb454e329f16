"""`munibill demo load` and `munibill demo serve`: the demo town of Maple Falls, and serving it
with the scheduler (and localstripe when no Stripe key is set) beside the web app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from accounts.models import Account
from accounts.services import derive_access_code
from billing.models import Invoice
from core.calendar import town_today
from core.extensions import db
from core.models import StaffUser
from payments.localstripe_dev import LocalStripeServer, register_webhook

demo = click.Group("demo", help="The demo town.")


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when accounts already exist.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The demo's today (default: today).",
)
@with_appcontext
def demo_load(if_empty: bool, as_of) -> None:
    """Create the demo town: accounts, parcels, service points, readings and staff users."""
    from demo.town import load_demo

    if current_app.config["MUNIBILL_ENV"] == "production":
        # NOTE: the demo's staff sign in with a password printed in the README.
        raise click.ClickException(
            "The demo town is not loaded where MUNIBILL_ENV=production: its staff sign-ins "
            "use a published password."
        )
    if db.session.scalar(sa.select(sa.func.count()).select_from(Account)):
        if if_empty:
            click.echo("The database already holds accounts; the demo town was not loaded.")
            _echo_sign_ins()
            return
        raise click.ClickException(
            "The database already holds accounts; the demo loads only into an empty one."
        )
    summary = load_demo(
        db.session,
        as_of=as_of.date() if as_of else town_today(current_app.config),
        code_key=current_app.config["ACCESS_CODE_KEY"],
    )
    db.session.commit()
    click.echo(f"Loaded the demo town: {summary}.")
    _morning_reminders(as_of.date() if as_of else town_today(current_app.config))
    _echo_sign_ins()


def _morning_reminders(day) -> None:
    """This morning's run of the reminders job (the schedule's `send_reminders`), as the
    scheduler makes it: the late and the delinquent households' notices, e-mailed or in a print
    batch, recorded as a job run the clerks see."""
    from core.jobs import run_job
    from notices.jobs import send_reminders

    run = run_job(
        db.session,
        current_app.config,
        "send_reminders",
        send_reminders,
        as_of=day,
        trigger=f"demo load {day.isoformat()}",
    )
    if run.error:
        raise click.ClickException(f"the reminders job failed: {run.error}")
    counts = run.counts
    click.echo(
        f"Reminders sent as of {day.isoformat()}: {counts.get('accounts', 0)} notices "
        f"({counts.get('emailed', 0)} e-mailed, {counts.get('printed', 0)} printed)."
    )


def _echo_sign_ins() -> None:
    """The demo's staff sign-ins and a few households to look up."""
    from demo.town import DEMO_PASSWORD, STAFF

    demo_staff = sa.select(StaffUser.id).where(StaffUser.email.in_([e for e, _r, _n in STAFF]))
    if db.session.scalar(demo_staff.limit(1)) is None:
        return  # not the demo town
    click.echo("Staff sign-in (password for all: " + DEMO_PASSWORD + "):")
    for email, role, _name in STAFF:
        click.echo(f"  {role:<11}{email}")
    _echo_quick_pay_samples()


def _echo_quick_pay_samples(count: int = 3) -> None:
    """A few households a newcomer can look up at /pay, with the codes their notices print."""
    key = current_app.config["ACCESS_CODE_KEY"]
    owing = (
        sa.select(Account)
        .where(Account.id.in_(sa.select(Invoice.account_id).where(Invoice.balance_cents > 0)))
        .order_by(Account.number)
        .limit(count)
    )
    click.echo("Residents' quick pay at /pay (account number and access code from the bill):")
    for account in db.session.scalars(owing):
        code = derive_access_code(key, account.number, account.access_code_version)
        click.echo(f"  {account.number}  {code}  {account.holder_name}")


#: Test keys for localstripe; it accepts any key of the right shape.
DEMO_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_munibill_demo",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_munibill_demo",
    "STRIPE_WEBHOOK_SECRET": "whsec_munibill_demo",
}


def _localstripe_env(
    instance: Path, host: str, port: int
) -> tuple[LocalStripeServer, dict[str, str]]:
    """Start localstripe (state kept between runs) and return the settings that point at it."""
    server = LocalStripeServer(instance / "localstripe", persist=True)
    base = server.start()
    env = {**DEMO_KEYS, "STRIPE_API_BASE": base, "STRIPE_JS_URL": f"{base}/js.stripe.com/v3/"}
    register_webhook(
        base, "munibill", f"http://{host}:{port}/webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"]
    )
    return server, env


def _interrupt(_signum, _frame) -> None:
    """Treat SIGTERM like Ctrl-C."""
    raise KeyboardInterrupt


@demo.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn and the scheduler beside it; with no STRIPE_SECRET_KEY, localstripe too.

    Ctrl-C stops all of them.
    """
    env = dict(os.environ)
    server = None
    if not current_app.config["STRIPE_SECRET_KEY"]:
        server, stripe_env = _localstripe_env(Path(current_app.instance_path), host, port)
        env.update(stripe_env)
        click.echo(
            f"No STRIPE_SECRET_KEY: payments go to localstripe at {stripe_env['STRIPE_API_BASE']} "
            "(test card 4242 4242 4242 4242)."
        )
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated launcher stops its children too
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "wsgi:app",
        ],
        env=env,
    )
    scheduler = subprocess.Popen(
        [str(Path(sys.executable).parent / "munibill"), "scheduler"], env=env
    )
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in (process, scheduler):
            if child.poll() is None:
                child.terminate()
        for child in (process, scheduler):
            child.wait(timeout=30)
        if server is not None:
            server.stop()


def init_app(app: Flask) -> None:
    """Register the `munibill demo` group."""
    app.cli.add_command(demo)
