"""`munibill accounts`: online access from the command line (the account page's buttons):
reissue an access code, list and remove residents' links."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from accounts.models import Account
from accounts.services import AccountError, find_account
from core.cli import OPERATOR
from core.db import utcnow
from core.extensions import db
from portal import access_changes
from portal.residents import resident_by_email

accounts = click.Group("accounts", help="Billing accounts: online access.")
REASON = click.option(
    "--reason", required=True, help="Why (kept in the audit log), e.g. 'the house was sold'."
)


def _account(number: str) -> Account:
    account = find_account(db.session, number)
    if account is None:
        raise click.ClickException(f"No account {number}.")
    return account


@accounts.command("reissue-code")
@click.argument("number")
@REASON
@with_appcontext
def reissue_code(number: str, reason: str) -> None:
    """Issue a new access code (printed once here and on the next notice); the old code's
    quick-pay sessions and every resident's link to the account end."""
    account = _account(number)
    try:
        with access_changes.stripe_if_autopay(db.session, account, current_app.config) as gateway:
            done = access_changes.reissue_code(
                db.session,
                OPERATOR,
                account,
                reason=reason,
                code_key=current_app.config["ACCESS_CODE_KEY"],
                now=utcnow(),
                gateway=gateway,
            )
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Account {account.number}: new access code {done.code}")
    click.echo(f"Quick-pay sessions ended: {done.sessions_ended}")
    unlinked = ", ".join(done.residents_unlinked) or "none"
    click.echo(f"Residents no longer linked: {unlinked}")
    if done.autopay_ended:
        click.echo("Autopay enrolled by an unlinked resident was turned off.")


@accounts.command("residents")
@click.argument("number")
@with_appcontext
def residents(number: str) -> None:
    """List the residents linked to the account: e-mail and the day they linked it."""
    account = _account(number)
    links = access_changes.linked_residents(db.session, account)
    if not links:
        click.echo(f"No registered resident has linked account {account.number}.")
    for link in links:
        click.echo(f"{link.resident.email}\t{link.created_at.date().isoformat()}")


@accounts.command("unlink")
@click.argument("number")
@click.argument("email")
@REASON
@with_appcontext
def unlink(number: str, email: str, reason: str) -> None:
    """Remove a resident's link to the account; the resident is told on their next page."""
    account = _account(number)
    resident = resident_by_email(db.session, email)
    link = access_changes.link_of(db.session, account, resident.id) if resident else None
    if link is None:
        raise click.ClickException(f"{email} has not linked account {account.number}.")
    try:
        with access_changes.stripe_if_autopay(db.session, account, current_app.config) as gateway:
            autopay_ended = access_changes.unlink_resident(
                db.session, OPERATOR, link, reason=reason, now=utcnow(), gateway=gateway
            )
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{resident.email} is no longer linked to account {account.number}.")
    if autopay_ended:
        click.echo("Their autopay on this account was turned off.")


def init_app(app) -> None:
    """Register `munibill accounts`."""
    app.cli.add_command(accounts)
