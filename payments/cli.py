"""`munibill demo serve` (the web app, the scheduler, and localstripe when no Stripe key is set) and `munibill payments`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.extensions import db
from core.settings import municipal_today
from payments.fees import record_processor_fees
from payments.gateway import StripeGateway
from payments.localstripe_dev import LocalStripeServer, register_webhook

payments_cli = click.Group("payments", help="Card payments: processor fees from Stripe.")


@payments_cli.command("fees")
@click.option("--limit", default=500, show_default=True, type=int)
@with_appcontext
def fees(limit: int) -> None:
    """Ask Stripe for the fees of settled card payments not yet known, and post them."""
    with StripeGateway.from_config(current_app.config) as gateway:
        report = record_processor_fees(
            db.session,
            Actor.system("munibill payments fees"),
            gateway,
            on=municipal_today(current_app.config),
            limit=limit,
        )
    click.echo(
        f"{report.recorded} fees recorded ({report.fee_cents} cents); "
        f"{report.not_yet} not known to Stripe yet"
    )


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


@click.command("serve")
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


def init_app(app) -> None:
    """Add `serve` to the `munibill demo` group, and the `munibill payments` group."""
    app.cli.commands["demo"].add_command(serve)
    app.cli.add_command(payments_cli)
