"""`munibill payments`: card payments' processor fees from Stripe."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from payments.fees import record_processor_fees
from payments.gateway import StripeGateway

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
            on=town_today(current_app.config),
            limit=limit,
        )
    click.echo(
        f"{report.recorded} fees recorded ({report.fee_cents} cents); "
        f"{report.not_yet} not known to Stripe yet"
    )


def init_app(app) -> None:
    """Register the `munibill payments` group."""
    app.cli.add_command(payments_cli)
