"""`munibill ledger verify|trial-balance|check-balances` and `munibill export`: the general ledger and its exports."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from core.replica import read_engine
from ledger import chart, day_balances
from ledger.balances import trial_balance
from ledger.checkpoints import (
    FULL,
    CheckedChain,
    entries_after,
    latest_checkpoint,
    verify_full,
    verify_incremental,
)
from ledger.deposit_register import register_tie
from ledger.export_datasets import DATASETS
from ledger.export_verify import verify_export
from ledger.exports import FORMATS, ExportError, ExportRequest, manifest_path, write_export
from ledger.verify import verify_chain

ledger = click.Group("ledger", help="The general ledger.")


@ledger.command("verify")
@click.option(
    "--incremental",
    "--since-checkpoint",
    "incremental",
    is_flag=True,
    help="Re-check the latest checkpoint and walk only the entries after it.",
)
@click.option(
    "--no-checkpoint",
    is_flag=True,
    help="Verify without storing a checkpoint (a restored copy, a read-only database).",
)
@click.option("--quiet", is_flag=True, help="No progress bar (there is none off a terminal).")
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
def ledger_verify(
    incremental: bool,
    no_checkpoint: bool,
    quiet: bool,
    export_file: Path | None,
    manifest: Path | None,
) -> None:
    """Walk the hash chain; exit 1 naming the first entry that does not match.

    A successful verify stores a checkpoint signed into the chain (docs/ledger.md).
    """
    if export_file is not None:
        checked = verify_export(export_file, manifest)
        if not checked.ok:
            click.echo(checked.summary(), err=True)
            raise SystemExit(1)
        click.echo(checked.summary())
        return
    if manifest is not None:
        raise click.UsageError("--manifest goes with --export")
    if incremental and no_checkpoint:
        raise click.UsageError("--incremental starts from a checkpoint and stores one")
    with _progress(quiet, incremental) as progress:
        if no_checkpoint:
            checked = CheckedChain(FULL, verify_chain(db.session, progress=progress))
        else:
            verify = verify_incremental if incremental else verify_full
            actor = Actor.system("munibill ledger verify", origin="cli")
            checked = verify(db.session, actor, town_today(current_app.config), progress=progress)
    if not checked.ok:
        db.session.rollback()
        click.echo(f"FAILED: {checked.report.problem}", err=True)
        raise SystemExit(1)
    db.session.commit()
    for line in describe(checked):
        click.echo(line)
    tie = register_tie(db.session)
    said = (
        f"deposit register {format_cents(tie.register_cents)} ({tie.deposits} held), "
        f"GL {chart.DEPOSITS_HELD} Deposits held {format_cents(tie.ledger_cents)}"
    )
    if not tie.ties:
        click.echo(f"FAILED: {said}: they differ", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {said}")


@contextmanager
def _progress(quiet: bool, incremental: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal (entries done of total, rate, ETA), else nothing."""
    if quiet or not sys.stdout.isatty():
        yield None
        return
    latest = None if not incremental else latest_checkpoint(db.session)
    total = entries_after(db.session, latest.verified_seq if latest else 0)
    started = time.monotonic()
    with click.progressbar(
        length=total, label="Verifying", show_pos=True, show_eta=True, show_percent=True
    ) as bar:

        def advance(entries: int) -> None:
            rate = (bar.pos + entries) / max(time.monotonic() - started, 1e-6)
            bar.update(entries, current_item=f"{rate:,.0f} entries/s")

        bar.item_show_func = lambda item: item
        yield advance


def describe(checked: CheckedChain) -> list[str]:
    """What a verify found, a line each."""
    report = checked.report
    if checked.mode == FULL:
        lines = [f"OK: {report.length} entries, head {report.head_hash}"]
        if checked.no_checkpoint:
            lines.insert(0, "No checkpoint yet: verified the whole chain.")
    else:
        lines = [
            f"OK: {report.checked} entries after the checkpoint at entry {checked.after_seq} "
            f"(entries {checked.after_seq + 1}-{report.length}), head {report.head_hash}"
        ]
    point = checked.checkpoint
    if point is not None:
        lines.append(
            f"Checkpoint {point.id}: verified through entry {point.verified_seq}, "
            f"signed into the chain as entry {point.verified_seq + 1} (hash {point.hash})"
        )
    return lines


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
