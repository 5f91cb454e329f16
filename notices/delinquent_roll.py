"""The delinquent property tax roll as a PDF (US Letter, landscape, the notices' fonts) and the
`munibill tax delinquent-roll` command that writes it and the CSV, and the line a tax notice
prints about its parcel's lien (docs/liens.md).

Each row is a line of billing.tax_delinquency's roll, which reads the one position; every
total is the sum of the rows printed above it.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from reportlab.lib.pagesizes import landscape, letter
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from billing.cli import DATE
from billing.liens import liens_of_account
from billing.models import Invoice
from billing.tax_delinquency import LienError, Roll, delinquent_roll, roll_csv
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from notices.mail_message import format_date
from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, REGULAR, RULE
from notices.texts import texts_for

WIDTH, HEIGHT = landscape(letter)
RIGHT = WIDTH - MARGIN
#: (heading, x, right-aligned) of each column.
COLUMNS = (
    ("Parcel", MARGIN, False),
    ("Owner", MARGIN + 80, False),
    ("Situs", MARGIN + 210, False),
    ("Year", MARGIN + 400, False),
    ("Inst.", MARGIN + 435, False),
    ("Due", MARGIN + 465, False),
    ("Days", MARGIN + 545, True),
    ("Principal", MARGIN + 620, True),
    ("Pen. & int.", MARGIN + 690, True),
    ("Total", RIGHT, True),
)


def _cells(line) -> list[str]:
    return [
        line.parcel_number,
        line.owner[:24],
        line.situs[:36],
        str(line.tax_year),
        str(line.installment or "-"),
        line.due_date.isoformat(),
        str(line.days_late),
        format_cents(line.principal_cents),
        format_cents(line.charges_cents),
        format_cents(line.total_cents),
    ]


def render_roll(roll: Roll, town: str) -> bytes:
    """Draw the roll as a PDF: a heading and column titles on each page, the totals last."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(WIDTH, HEIGHT), invariant=1)
    canvas.setTitle(f"Delinquent tax roll as of {roll.as_of.isoformat()}")
    page = 1
    y = _header(canvas, roll, town, page)
    for line in roll.lines:
        if y < MARGIN + 40:
            canvas.showPage()
            page += 1
            y = _header(canvas, roll, town, page)
        _row(canvas, y, _cells(line), REGULAR)
        y -= 14
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, y + 9, RIGHT, y + 9)
    totals = [
        f"Total: {roll.parcel_count} parcels",
        "",
        "",
        "",
        "",
        "",
        "",
        format_cents(roll.principal_cents),
        format_cents(roll.charges_cents),
        format_cents(roll.total_cents),
    ]
    _row(canvas, y - 6, totals, BOLD)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _row(canvas: Canvas, y: float, cells: list[str], font: str) -> None:
    canvas.setFont(font, 8.5)
    canvas.setFillColorRGB(*INK)
    for (_heading, x, right), text in zip(COLUMNS, cells, strict=True):
        (canvas.drawRightString if right else canvas.drawString)(x, y, text)


def _header(canvas: Canvas, roll: Roll, town: str, page: int) -> float:
    """The heading of each page; returns where the rows start."""
    top = HEIGHT - MARGIN - 10
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 14)
    canvas.drawString(MARGIN, top, "Delinquent property tax roll")
    canvas.setFont(REGULAR, 10)
    canvas.drawString(MARGIN, top - 16, town)
    canvas.drawRightString(RIGHT, top, f"As of {roll.as_of:%B %-d, %Y}")
    canvas.setFillColorRGB(*GREY)
    canvas.drawRightString(RIGHT, top - 16, f"Page {page}")
    canvas.setFont(BOLD, 8.5)
    canvas.setFillColorRGB(*INK)
    y = top - 40
    for heading, x, right in COLUMNS:
        (canvas.drawRightString if right else canvas.drawString)(x, y, heading)
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, y - 4, RIGHT, y - 4)
    return y - 18


@click.command("delinquent-roll")
@click.option("--as-of", type=DATE, required=True, help="A day that has come (not after today).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None)
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def delinquent_roll_command(as_of: datetime, csv_path: str | None, pdf_path: str | None) -> None:
    """The delinquent tax roll as of a day: printed, and as CSV and PDF files if asked."""
    try:
        roll = delinquent_roll(db.session, as_of.date(), today=town_today(current_app.config))
    except LienError as error:
        raise click.ClickException(str(error)) from None
    if csv_path:
        Path(csv_path).write_text(roll_csv(roll), encoding="utf-8")
    if pdf_path:
        Path(pdf_path).write_bytes(render_roll(roll, current_app.config["MUNICIPALITY_NAME"]))
    click.echo(
        f"{roll.parcel_count} parcels delinquent as of {roll.as_of.isoformat()}: principal "
        f"{format_cents(roll.principal_cents)}, penalties and interest "
        f"{format_cents(roll.charges_cents)}, total {format_cents(roll.total_cents)}"
    )


def lien_lines(session: Session, invoice: Invoice) -> tuple[str, ...]:
    """On a tax document: the lien its parcel stands under, in the account's language."""
    language = str(invoice.account.language)
    words = texts_for(language)
    return tuple(
        str(words["lien.line"]).format(
            parcel=lien.parcel.parcel_number,
            day=format_date(lien.sale_date, language),
            amount=format_cents(lien.amount_cents),
            where=words["lien.counter"] if lien.closes_online else "",
        )
        for lien in liens_of_account(session, invoice.account_id)
        if lien.parcel_id == invoice.parcel_id
    )
