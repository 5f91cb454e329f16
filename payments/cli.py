"""`munibill payments`: card payments' processor fees from Stripe; `munibill lockbox`: a bank's
lockbox and bill-pay files (docs/lockbox.md)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from payments.fees import record_processor_fees
from payments.gateway import StripeGateway
from payments.lockbox import ImportRefused, ImportReport, accepted_former_numbers, import_file
from payments.lockbox_layouts import FileRefused, LayoutError, available, load_layout

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


def init_app(app) -> None:
    """Register the `munibill payments` and `munibill lockbox` groups."""
    app.cli.add_command(payments_cli)
    app.cli.add_command(lockbox_cli)
