"""`munibill payments`: card payments' processor fees from Stripe, bank deposits of drawers;
`munibill lockbox`: a bank's lockbox and bill-pay files (docs/lockbox.md)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from payments.bank_deposits import (
    confirm_at_bank,
    deposit_sources,
    recent_deposits,
    undeposited_drawers,
    undeposited_files,
)
from payments.fees import record_processor_fees
from payments.gateway import StripeGateway
from payments.lockbox import ImportRefused, ImportReport, accepted_former_numbers, import_file
from payments.lockbox_layouts import FileRefused, LayoutError, available, load_layout
from payments.models import BankDeposit, CashDrawer, RemittanceFile
from payments.payoff_lockbox import QuoteTerms
from payments.services import PaymentRefused

payments_cli = click.Group(
    "payments",
    help="Card payments: processor fees from Stripe; bank deposits of drawers and lockbox files.",
)


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


lockbox_cli = click.Group("lockbox", help="A bank's lockbox and bill-pay files.")


@lockbox_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--layout", "layout_name", required=True, help="a layout of payments/lockbox_layouts")
@click.option("--dry-run", is_flag=True, help="check and decide every item; take nothing")
@with_appcontext
def import_(path: str, layout_name: str, dry_run: bool) -> None:
    """Import a lockbox or bill-pay file: settle each good item, queue the others."""
    today = town_today(current_app.config)
    try:
        layout = load_layout(layout_name)
        with open(path, "rb") as handle:
            report = import_file(
                db.session,
                Actor.system("munibill lockbox import"),
                handle.read(),
                layout=layout,
                filename=path.rsplit("/", 1)[-1],
                today=today,
                accepted=accepted_former_numbers(current_app.config, today),
                dry_run=dry_run,
                deposit=current_app.config["LOCKBOX_DEPOSIT_ON_IMPORT"],
                quotes=QuoteTerms.from_config(current_app.config),
            )
    except (LayoutError, FileRefused, ImportRefused) as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: refused, nothing was taken: {error}") from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(summary(report))


def summary(report: ImportReport) -> str:
    """What an import did, for the clerk at the terminal."""
    verb = "would settle" if report.dry_run else "settled"
    lines = [
        f"{report.filename}: {report.items} items for {format_cents(report.total_cents)} "
        f"deposited {report.deposit_date} ({report.layout})"
        + ("" if report.dry_run else f", file {report.file_id}"),
        f"{verb} {report.settled} for {format_cents(report.settled_cents)}; "
        f"{len(report.exceptions)} to the exception queue for "
        f"{format_cents(report.exception_cents)}",
    ]
    if report.bank_deposit:
        lines.append(f"deposited by the bank: {report.bank_deposit} in transit")
    for q in report.quotes:
        lines.append(
            f"  item {q['sequence']} {format_cents(q['amount_cents'])} to payoff quote "
            f"{q['quote']}" + (f": {q['outcome']}" if q.get("outcome") else "")
        )
    for e in report.exceptions:
        lines.append(
            f"  item {e['sequence']} (line {e['line']}, batch {e['batch']}) "
            f"{format_cents(e['amount_cents'])}: {e['reason']}: {e['detail']}"
        )
    return "\n".join(lines)


@lockbox_cli.command("layouts")
def layouts() -> None:
    """List the layouts a file can be read with."""
    for name in available():
        layout = load_layout(name)
        click.echo(f"{name}\t{layout.kind}\t{layout.description}")


@payments_cli.command("deposits")
@with_appcontext
def deposits() -> None:
    """List the closed drawers and the lockbox and bill-pay files not yet deposited, and the
    latest bank deposits."""
    for drawer in undeposited_drawers(db.session):
        state = (
            "closed before over/short posting"
            if drawer.deposit_cents is None
            else "awaits approval of its over/short"
            if drawer.awaiting_approval
            else f"ready: {format_cents(drawer.deposit_cents)}"
        )
        click.echo(f"drawer {drawer.id} ({drawer.opened_by}): {state}")
    for upload in undeposited_files(db.session):
        click.echo(
            f"{upload.kind.value.replace('_', '-')} file {upload.id} ({upload.filename}, "
            f"deposited by the bank {upload.deposit_date}): ready: {format_cents(upload.total_cents)}"
        )
    for deposit in recent_deposits(db.session):
        click.echo(
            f"{deposit.number} {deposit.made_on} {format_cents(deposit.amount_cents)} "
            f"{deposit.status.value}"
        )


@payments_cli.command("deposit")
@click.option("--drawer", "drawer_ids", type=int, multiple=True)
@click.option("--file", "file_ids", type=int, multiple=True, help="a lockbox or bill-pay file")
@click.option("--by", "label", required=True, help="Who takes it to the bank (staff e-mail).")
@with_appcontext
def deposit(drawer_ids: tuple[int, ...], file_ids: tuple[int, ...], label: str) -> None:
    """Make one bank deposit of closed drawers and lockbox or bill-pay files
    (Dr 1050 / Cr 1010, Cr 1040)."""
    drawers = [db.session.get(CashDrawer, drawer_id) for drawer_id in drawer_ids]
    if None in drawers:
        raise click.ClickException(f"no drawer {drawer_ids[drawers.index(None)]}")
    files = [db.session.get(RemittanceFile, file_id) for file_id in file_ids]
    if None in files:
        raise click.ClickException(f"no lockbox or bill-pay file {file_ids[files.index(None)]}")
    try:
        made = deposit_sources(
            db.session,
            _operator(label),
            drawers=drawers,
            files=files,
            on=town_today(current_app.config),
        )
    except PaymentRefused as refused:
        db.session.rollback()
        raise click.ClickException(refused.message) from None
    db.session.commit()
    click.echo(f"{made.number}: {format_cents(made.amount_cents)} in transit")


@payments_cli.command("deposit-at-bank")
@click.argument("number")
@click.option("--on", "day", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--by", "label", required=True, help="Who confirmed it (staff e-mail).")
@with_appcontext
def deposit_at_bank(number: str, day, label: str) -> None:
    """The bank credited deposit NUMBER on --on: Dr 1000 Bank / Cr 1050."""
    found = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
    if found is None:
        raise click.ClickException(f"no bank deposit {number}")
    try:
        confirm_at_bank(db.session, _operator(label), found, reached_on=day.date())
    except PaymentRefused as refused:
        db.session.rollback()
        raise click.ClickException(refused.message) from None
    db.session.commit()
    click.echo(f"{number}: at the bank on {day.date()}")


def _operator(label: str) -> Actor:
    """The operator running a deposit command, named in the ledger and the audit log."""
    label = label.strip()
    if not label:
        raise click.ClickException("--by names who does it")
    return Actor.system(f"munibill payments ({label[:200]})")


def init_app(app) -> None:
    """Register the `munibill payments`, `munibill lockbox` and `munibill bank` groups."""
    from payments import cli_bank, fee_cli

    fee_cli.init_app(payments_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(lockbox_cli)
    cli_bank.init_app(app)
