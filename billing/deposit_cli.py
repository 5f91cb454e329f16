"""`munibill deposits …`: loading the deposit rules, holding, applying and refunding deposits,
and the register against the ledger (docs/deposits.md)."""

from __future__ import annotations

from datetime import datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from accounts.models import Account
from billing.cli import DATE, _load
from billing.deposit_checks import load_deposit_rules
from billing.deposits import DepositError, apply_to_final_bill, hold_deposit, refund_deposit
from billing.models import Deposit, Invoice
from core.calendar import town_today
from core.cli import OPERATOR
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars
from ledger.deposit_register import register_tie

deposits = click.Group("deposits", help="Deposits held for accounts.")


def _day(value: datetime | None):
    return value.date() if value else town_today(current_app.config)


def _refused(error: DepositError) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(str(error))


@deposits.command("rules")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def deposits_rules(path: str, dry_run: bool) -> None:
    """Load a new version of the deposit rules from a JSON or YAML file."""
    _load(load_deposit_rules, path, dry_run, "deposit rules")


@deposits.command("hold")
@click.argument("account_number")
@click.option("--amount", required=True, help="Dollars, e.g. 150.00")
@click.option("--held-since", type=DATE, default=None, help="Default: today in the municipality.")
@click.option("--offset-gl", required=True, help="The GL account the money came into, e.g. 1010")
@click.option("--source", required=True, help="counter, card, conversion, first_bill or transfer")
@click.option("--reference", default=None)
@with_appcontext
def deposits_hold(account_number, amount, held_since, offset_gl, source, reference) -> None:
    """Record a deposit held for an account."""
    account = db.session.scalar(sa.select(Account).where(Account.number == account_number))
    if account is None:
        raise click.ClickException(f"account_number: no account {account_number}")
    try:
        cents = parse_dollars(amount)
    except MoneyError as error:
        raise click.ClickException(f"amount: {error}") from None
    try:
        deposit = hold_deposit(
            db.session,
            OPERATOR,
            account_id=account.id,
            amount_cents=cents,
            held_since=_day(held_since),
            offset_gl_code=offset_gl,
            source=source,
            reference=reference,
        )
    except DepositError as error:
        raise _refused(error) from None
    db.session.commit()
    click.echo(f"Deposit {deposit.id}: {format_cents(cents)} held for account {account_number}.")


@deposits.command("apply")
@click.argument("invoice_number")
@with_appcontext
def deposits_apply(invoice_number: str) -> None:
    """Apply the account's deposits held to its final bill (on the bill's issue date)."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == invoice_number))
    if invoice is None:
        raise click.ClickException(f"invoice_number: no invoice {invoice_number}")
    try:
        cents = apply_to_final_bill(
            db.session, OPERATOR, invoice.id, rounding=current_app.config["ROUNDING_RULE"]
        )
    except DepositError as error:
        raise _refused(error) from None
    db.session.commit()
    click.echo(f"{format_cents(cents)} of deposits applied to {invoice_number}.")


@deposits.command("refund")
@click.argument("deposit_id", type=int)
@click.option("--method", type=click.Choice(["credit", "check"]), required=True)
@click.option("--reason", required=True)
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def deposits_refund(deposit_id: int, method: str, reason: str, day) -> None:
    """Refund what a deposit holds as account credit or by check request (card: the API)."""
    deposit = db.session.get(Deposit, deposit_id)
    if deposit is None:
        raise click.ClickException(f"deposit_id: no deposit {deposit_id}")
    try:
        cents = refund_deposit(
            db.session, OPERATOR, deposit, method=method, on=_day(day), reason=reason
        )
    except DepositError as error:
        raise _refused(error) from None
    db.session.commit()
    click.echo(f"Deposit {deposit_id}: {format_cents(cents)} refunded ({method}).")


@deposits.command("tie")
@click.option("--as-of", type=DATE, default=None)
@with_appcontext
def deposits_tie(as_of) -> None:
    """The register's total against GL 2020 Deposits held; exit 1 when they differ."""
    tie = register_tie(db.session, as_of.date() if as_of else None)
    click.echo(
        f"Register {format_cents(tie.register_cents)} ({tie.deposits} held); "
        f"GL 2020 {format_cents(tie.ledger_cents)}: {'ties' if tie.ties else 'DIFFERS'}."
    )
    if not tie.ties:
        raise SystemExit(1)
