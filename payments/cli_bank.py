"""`munibill bank`: import a bank statement, and the bank reconciliation as of a date
(docs/bank-statements.md)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from payments.bank_reconciliation import NoStatement, reconcile, reconciliation_lines
from payments.bank_statements import fee_rule_from, import_statement
from payments.statement_files import StatementRefused, available_layouts

bank_cli = click.Group("bank", help="Bank statements and the bank reconciliation.")


@bank_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--layout",
    default="bai2",
    show_default=True,
    help="bai2, or a CSV layout of payments/statement_layouts",
)
@click.option("--by", "label", required=True, help="Who imports it (staff e-mail).")
@with_appcontext
def import_(path: str, layout: str, label: str) -> None:
    """Import a statement file: each line matched, posted as a fee, or queued."""
    if layout != "bai2" and layout not in available_layouts():
        raise click.ClickException(f"no statement layout {layout!r}")
    actor = Actor.system(f"munibill bank ({label.strip()[:200]})")
    try:
        report = import_statement(
            db.session,
            actor,
            Path(path).read_bytes(),
            filename=Path(path).name,
            layout=layout,
            fee_rule=fee_rule_from(current_app.config),
        )
    except StatementRefused as refused:
        db.session.rollback()
        raise click.ClickException(f"refused: {refused}") from None
    db.session.commit()
    statement = report.statement
    click.echo(
        f"statement {statement.id} of {statement.bank_account} for {statement.statement_date}: "
        f"{statement.line_count} lines, {report.matched} matched, {report.fees} fees posted, "
        f"{len(report.queued)} queued"
    )
    for decision in report.queued:
        click.echo(
            f"  queued line {decision.line.number}: {format_cents(decision.line.amount_cents)} "
            f"{decision.line.text} - {decision.reason}"
        )


@bank_cli.command("reconcile")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--account", default=None, help="The bank account (the newest statement's if none).")
@with_appcontext
def reconcile_(day, account: str | None) -> None:
    """The bank reconciliation as of --date; exits 1 when it does not reconcile."""
    try:
        rec = reconcile(db.session, day.date(), account)
    except NoStatement as missing:
        raise click.ClickException(str(missing)) from None
    click.echo(f"Bank reconciliation of {rec.bank_account} as of {rec.as_of}")
    for line in reconciliation_lines(rec):
        amount = "" if line.cents is None else format_cents(line.cents)
        click.echo(f"{'    ' if line.indent else ''}{line.words:<70} {amount:>16}")
    if rec.difference_cents:
        raise SystemExit(1)


def init_app(app) -> None:
    """Register the `munibill bank` group."""
    app.cli.add_command(bank_cli)
