"""`munibill ledger verify|trial-balance|check-balances` and `munibill export`: the general ledger and its exports."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.extensions import db
from core.money import format_cents
from core.replica import read_engine
from ledger import chart, day_balances
from ledger.balances import trial_balance
from ledger.deposit_register import register_tie
from ledger.export_datasets import DATASETS
from ledger.export_verify import verify_export
from ledger.exports import FORMATS, ExportError, ExportRequest, manifest_path, write_export
from ledger.verify import verify_chain

ledger = click.Group("ledger", help="The general ledger.")


@ledger.command("verify")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check a ledger export (CSV or JSON Lines) instead of the database; "
    "its manifest is read from FILE.manifest.json when present.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The export's manifest, when it is not beside the file.",
)
@with_appcontext
def ledger_verify(export_file: Path | None, manifest: Path | None) -> None:
    """Walk the hash chain; exit 1 naming the first entry that does not match."""
    if export_file is not None:
        checked = verify_export(export_file, manifest)
        if not checked.ok:
            click.echo(checked.summary(), err=True)
            raise SystemExit(1)
        click.echo(checked.summary())
        return
    if manifest is not None:
        raise click.UsageError("--manifest goes with --export")
    report = verify_chain(db.session)
    if not report.ok:
        click.echo(f"FAILED: {report.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {report.length} entries, head {report.head_hash}")
    tie = register_tie(db.session)
    said = (
        f"deposit register {format_cents(tie.register_cents)} ({tie.deposits} held), "
        f"GL {chart.DEPOSITS_HELD} Deposits held {format_cents(tie.ledger_cents)}"
    )
    if not tie.ties:
        click.echo(f"FAILED: {said}: they differ", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {said}")


@ledger.command("trial-balance")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@with_appcontext
def ledger_trial_balance(as_of) -> None:
    """Print the trial balance as of a date."""
    report = trial_balance(db.session, as_of.date() if as_of else None)
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


@ledger.command("check-balances")
@click.option("--rebuild", is_flag=True, help="Replace the period balances with the recomputation.")
@with_appcontext
def ledger_check_balances(rebuild: bool) -> None:
    """Recompute the period balances from every journal line; exit 1 naming the days that differ."""
    if rebuild:
        written = day_balances.rebuild(db.session)
        db.session.commit()
        click.echo(f"Rebuilt: {written:,} GL account days from the journal")
    found = day_balances.differences(db.session)
    for miss in found[:20]:
        click.echo(
            f"GL account id {miss.gl_account_id} on {miss.entry_date}: kept "
            f"{miss.stored[0]}/{miss.stored[1]}, journal {miss.journal[0]}/{miss.journal[1]} "
            "(debit/credit cents)",
            err=True,
        )
    if found:
        click.echo(f"FAILED: {len(found):,} GL account days differ from the journal", err=True)
        raise SystemExit(1)
    click.echo("OK: the period balances equal the journal's lines")


def _day(value):
    """A click DateTime turned into a date."""
    return value.date() if value else None


@click.command("export")
@click.argument("dataset", type=click.Choice(list(DATASETS)))
@click.option("--format", "file_format", type=click.Choice(list(FORMATS)), default="csv")
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--gl", default=None, help="Ledger: whole entries with a line on this GL code.")
@click.option("--source", default=None, help="Ledger: entries of this source type.")
@click.option("--action", default=None, help="Audit log: actions starting with this.")
@click.option("--actor", default=None, help="Audit log: events by this actor label.")
@click.option(
    "--through-seq",
    type=click.IntRange(min=0),
    default=None,
    help="Ledger: entries up to this seq only (to reproduce an earlier export).",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file."
)
@with_appcontext
def export_command(
    dataset, file_format, date_from, date_to, gl, source, action, actor, through_seq, out
) -> None:
    """Export a dataset for the auditors: FILE and FILE.manifest.json (docs/audit.md)."""
    request = ExportRequest(
        dataset,
        file_format,
        _day(date_from),
        _day(date_to),
        gl=gl,
        source=source,
        action=action,
        actor=actor,
        through_seq=through_seq,
    )
    try:
        manifest = write_export(
            read_engine(), request, out, timezone=current_app.config["MUNICIPALITY_TIMEZONE"]
        )
    except ExportError as error:
        raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
    chain = manifest["chain"]
    click.echo(
        f"Wrote {out}: {manifest['rows']:,} rows, SHA-256 {manifest['sha256']}; "
        f"manifest {manifest_path(out)} (ledger length {chain['length']:,})."
    )


def init_app(app: Flask) -> None:
    """Register `munibill ledger` and `munibill export`."""
    app.cli.add_command(ledger)
    app.cli.add_command(export_command)
