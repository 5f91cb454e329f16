"""`munibill conversion check|report|post DIR`: moving a town from its old system
(docs/conversion.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from billing.conversion_post import ConversionFailed, Outcome, convert, report
from billing.conversion_report import CONTROL_FILE, report_text
from core.calendar import town_today
from core.cli import OPERATOR
from core.extensions import db

DIRECTORY = click.Path(exists=True, file_okay=False, path_type=Path)
DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("conversion")
def conversion() -> None:
    """Convert accounts, balances, deposits and reads from the old system."""


def _refused(failure: ConversionFailed) -> click.ClickException:
    """Print every problem; the exception to raise."""
    db.session.rollback()
    for problem in failure.problems:
        click.echo(problem, err=True)
    return click.ClickException(str(failure))


def _show(outcome: Outcome) -> None:
    """The control totals, as CSV."""
    click.echo(report_text(outcome.lines), nl=False)


@conversion.command("report")
@click.argument("directory", type=DIRECTORY)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report here."
)
@with_appcontext
def conversion_report(directory: Path, out: Path | None) -> None:
    """Check every file and print the counts and control totals to compare with the old system."""
    try:
        outcome = report(db.session, directory)
    except ConversionFailed as failure:
        raise _refused(failure) from None
    db.session.rollback()
    _show(outcome)
    if out:
        out.write_text(report_text(outcome.lines), encoding="utf-8")


def _run(directory: Path, control: Path | None, as_of, dry_run: bool) -> Outcome:
    """Check, compare and post (or roll back a dry run); the CLI's one transaction."""
    expected = (control.name, control.read_text(encoding="utf-8-sig")) if control else None
    try:
        outcome = convert(
            db.session,
            OPERATOR,
            directory,
            expected=expected,
            as_of=as_of.date() if as_of else town_today(current_app.config),
            code_key=current_app.config["ACCESS_CODE_KEY"],
            dry_run=dry_run,
        )
    except ConversionFailed as failure:
        raise _refused(failure) from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return outcome


@conversion.command("check")
@click.argument("directory", type=DIRECTORY)
@click.option("--control", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", type=DATE, default=None, help="The conversion day; default today.")
@with_appcontext
def conversion_check(directory: Path, control: Path | None, as_of) -> None:
    """A dry run: check every row of every file, post it all and roll it back."""
    outcome = _run(directory, control, as_of, dry_run=True)
    _show(outcome)
    click.echo(
        f"Dry run: {len(outcome.posted.accounts)} accounts would be converted; nothing stored."
    )


@conversion.command("post")
@click.argument("directory", type=DIRECTORY)
@click.option(
    "--control",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help=f"The expected control totals ({CONTROL_FILE}, in the report's columns).",
)
@click.option("--as-of", type=DATE, default=None, help="The conversion day; default today.")
@click.option(
    "--numbers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each former number with its new number and access code here (for the notices).",
)
@click.option("--dry-run", is_flag=True, help="Check and post, then roll everything back.")
@with_appcontext
def conversion_post(
    directory: Path, control: Path, as_of, numbers: Path | None, dry_run: bool
) -> None:
    """Post the conversion in one transaction, if every total matches; else nothing."""
    outcome = _run(directory, control, as_of, dry_run)
    posted = outcome.posted
    if numbers and not dry_run:
        with numbers.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["former_number", "account_number", "access_code"])
            for former, number in posted.accounts.items():
                writer.writerow([former, number, posted.codes[former]])
    note = " (dry run: nothing stored)" if dry_run else ""
    click.echo(
        f"{len(posted.accounts)} accounts, {posted.invoices} converted invoices, "
        f"{posted.entries} opening entries, {posted.deposits} deposits, {posted.reads} reads{note}."
    )
