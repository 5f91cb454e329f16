"""`munibill shutoff report --from YYYY-MM --to YYYY-MM [--csv F] [--pdf F]`: the monthly report
of shutoffs and reconnections (docs/shutoff.md, "The monthly report"); the CSV on standard
output unless written to a file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from core.calendar import town_today
from core.extensions import db
from notices.shutoff_report import Month, ReportError, month_range, report_csv, shutoff_report
from notices.shutoff_report_pdf import report_pdf


@click.command("report")
@click.option("--from", "start", required=True, help="the first month, YYYY-MM")
@click.option("--to", "end", required=True, help="the last month, YYYY-MM")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="write the CSV here")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="write the PDF here")
@with_appcontext
def report(start: str, end: str, csv_path: str | None, pdf_path: str | None) -> None:
    """The report of shutoffs and reconnections by month, for publication (counts only)."""
    today = town_today(current_app.config)
    try:
        months = month_range(Month.parse(start, "from"), Month.parse(end, "to"), today)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    figures = shutoff_report(db.session, current_app.config, months, today)
    data = report_csv(figures)
    if csv_path:
        Path(csv_path).write_text(data)
        click.echo(f"CSV written to {csv_path}")
    elif not pdf_path:
        click.echo(data, nl=False)
    if pdf_path:
        Path(pdf_path).write_bytes(report_pdf(current_app.config, figures))
        click.echo(f"PDF written to {pdf_path}")
