"""`munibill import KIND FILE`: the CSV imports of accounts, parcels, assessments, service points and readings."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from accounts.imports import KINDS, ImportFailed, import_csv
from core.cli import OPERATOR
from core.extensions import db


@click.command("import")
@click.argument("kind", type=click.Choice(sorted(k.replace("_", "-") for k in KINDS)))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate every row; store nothing.")
@with_appcontext
def import_command(kind: str, path: str, dry_run: bool) -> None:
    """Import a CSV file (docs/imports.md); all rows or none."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        result = import_csv(
            db.session,
            OPERATOR,
            kind.replace("-", "_"),
            text,
            code_key=current_app.config["ACCESS_CODE_KEY"],
            dry_run=dry_run,
        )
    except ImportFailed as failure:
        db.session.rollback()
        for error in failure.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{path}: {failure}") from None
    db.session.commit()
    note = " (dry run: nothing stored)" if dry_run else ""
    click.echo(
        f"{path}: {result.rows} rows, {result.created} created, {result.updated} updated{note}."
    )


def init_app(app) -> None:
    """Register `munibill import`."""
    app.cli.add_command(import_command)
