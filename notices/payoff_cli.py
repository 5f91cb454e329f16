"""`munibill tax payoff PARCEL --through DAY`: issue a payoff quote and write its letter
(docs/payoff-quotes.md)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from billing.cli import DATE
from billing.payoff import PayoffRefused, Requested, issue
from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from notices.payoff_letter import payoff_letter_pdf

OPERATOR = Actor.system("munibill tax", origin="cli")


@click.command("payoff")
@click.argument("parcel")
@click.option("--through", type=DATE, required=True, help="The good-through date.")
@click.option(
    "--requester",
    type=click.Choice(["owner", "title_company", "lender"]),
    default="owner",
    show_default=True,
)
@click.option("--name", default="", help="The requester's name (not for the owner).")
@click.option("--address", default="", help="The requester's address; lines split by '|'.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext
def payoff_command(parcel: str, through, requester: str, name: str, address: str, out: Path | None):
    """Issue a payoff quote for a parcel, good through a day, and write its letter."""
    requested = None
    if requester != "owner" or name or address:
        requested = Requested(requester, name, "\n".join(address.split("|")))
    try:
        row = issue(
            db.session,
            OPERATOR,
            current_app.config,
            parcel,
            through.date(),
            requested,
            today=town_today(current_app.config),
        )
    except PayoffRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    path = out or Path(f"{row.number}.pdf")
    path.write_bytes(payoff_letter_pdf(current_app.config, row))
    for line in row.lines:
        click.echo(
            f"  {line['invoice']}  {line['tax_year']}/{line['installment']}  "
            f"{format_cents(line['total_cents'])}"
        )
    click.echo(
        f"Quote {row.number}: {format_cents(row.amount_cents)} good through "
        f"{row.good_through.isoformat()}; letter {path}"
    )
