"""`munibill ledger …` and `munibill demo …` commands."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from billing import ledger as ledger_service
from billing.models import Account, Invoice
from core.extensions import db
from core.models import StaffUser
from core.money import format_cents
from core.settings import municipal_today

ledger = click.Group("ledger", help="The general ledger.")
demo = click.Group("demo", help="The demo town.")


@ledger.command("verify")
@with_appcontext
def ledger_verify() -> None:
    """Walk the hash chain; exit 1 naming the first entry that does not match."""
    report = ledger_service.verify_chain(db.session)
    if not report.ok:
        click.echo(f"FAILED: {report.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {report.length} entries, head {report.head_hash}")


@ledger.command("trial-balance")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@with_appcontext
def ledger_trial_balance(as_of) -> None:
    """Print the trial balance as of a date."""
    report = ledger_service.trial_balance(db.session, as_of.date() if as_of else None)
    click.echo(f"{'code':<8}{'account':<40}{'debits':>16}{'credits':>16}")
    for row in report.rows:
        click.echo(
            f"{row.code:<8}{row.name[:39]:<40}{format_cents(row.debit_cents):>16}"
            f"{format_cents(row.credit_cents):>16}"
        )
    click.echo(
        f"{'':<8}{'total':<40}{format_cents(report.total_debit_cents):>16}"
        f"{format_cents(report.total_credit_cents):>16}"
    )


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
    from billing.demo import load_demo

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
        as_of=as_of.date() if as_of else municipal_today(current_app.config),
        code_key=current_app.config["ACCESS_CODE_KEY"],
    )
    db.session.commit()
    click.echo(f"Loaded the demo town: {summary}.")
    _echo_sign_ins()


def _echo_sign_ins() -> None:
    """The demo's staff sign-ins and a few households to look up."""
    from billing.demo import DEMO_PASSWORD, STAFF

    demo_staff = sa.select(StaffUser.id).where(StaffUser.email.in_([e for e, _r, _n in STAFF]))
    if db.session.scalar(demo_staff.limit(1)) is None:
        return  # not the demo town
    click.echo("Staff sign-in (password for all: " + DEMO_PASSWORD + "):")
    for email, role, _name in STAFF:
        click.echo(f"  {role:<11}{email}")
    _echo_quick_pay_samples()


def _echo_quick_pay_samples(count: int = 3) -> None:
    """A few households a newcomer can look up at /pay, with the codes their notices print."""
    from billing.accounts import derive_access_code

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


def init_app(app: Flask) -> None:
    """Register the billing command groups."""
    app.cli.add_command(ledger)
    app.cli.add_command(demo)
