"""`munibill ledger …`, `munibill export …` and `munibill demo …` commands."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from billing import ledger as ledger_service
from billing.export_verify import verify_export
from billing.exports import (
    DATASETS,
    FORMATS,
    ExportError,
    ExportRequest,
    manifest_path,
    write_export,
)
from billing.models import Account, Invoice
from core.extensions import db
from core.models import StaffUser
from core.money import format_cents
from core.settings import municipal_today

ledger = click.Group("ledger", help="The general ledger.")
demo = click.Group("demo", help="The demo town.")


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
            db.engine, request, out, timezone=current_app.config["MUNICIPALITY_TIMEZONE"]
        )
    except ExportError as error:
        raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
    chain = manifest["chain"]
    click.echo(
        f"Wrote {out}: {manifest['rows']:,} rows, SHA-256 {manifest['sha256']}; "
        f"manifest {manifest_path(out)} (ledger length {chain['length']:,})."
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
    app.cli.add_command(export_command)
