"""The bank reconciliation as a PDF for the auditor: every figure of payments.bank_reconciliation.

`render_reconciliation` draws the lines `reconciliation_lines` lays the computation out in (the
same ones the console page and `munibill bank reconcile` show): US Letter, ReportLab's canvas,
the notices' fonts.
"""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from core.money import format_cents
from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT, RULE
from payments.bank_reconciliation import Reconciliation, reconciliation_lines


def render_reconciliation(rec: Reconciliation, town: str) -> bytes:
    """Draw the reconciliation as a PDF (as many pages as its items need)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT), invariant=1)
    canvas.setTitle(f"Bank reconciliation {rec.as_of:%Y-%m-%d}")
    y = _header(canvas, rec, town)
    for line in reconciliation_lines(rec):
        if y < MARGIN + 40:
            canvas.showPage()
            y = _header(canvas, rec, town)
        if line.bold:
            y -= 6
        canvas.setFont(BOLD if line.bold else REGULAR, 10)
        canvas.setFillColorRGB(*INK)
        canvas.drawString(MARGIN + (14 if line.indent else 0), y, line.words)
        if line.cents is not None:
            canvas.drawRightString(RIGHT, y, format_cents(line.cents))
        y -= 15
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, y + 8, RIGHT, y + 8)
    canvas.setFont(REGULAR, 9)
    canvas.setFillColorRGB(*GREY)
    canvas.drawString(
        MARGIN,
        y - 8,
        "Reconciled." if rec.difference_cents == 0 else "Not reconciled: see the difference.",
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _header(canvas: Canvas, rec: Reconciliation, town: str) -> float:
    """The heading on each page; returns where the lines start."""
    top = PAGE_HEIGHT - MARGIN - 14
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 16)
    canvas.drawString(MARGIN, top, "Bank reconciliation")
    canvas.setFont(BOLD, 11)
    canvas.drawRightString(RIGHT, top, f"As of {rec.as_of:%B %-d, %Y}")
    canvas.setFont(REGULAR, 10)
    canvas.drawString(MARGIN, top - 18, town)
    canvas.drawString(MARGIN, top - 31, f"Bank account {rec.bank_account}")
    canvas.drawRightString(RIGHT, top - 18, f"Statement {rec.statement_id}")
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, top - 40, RIGHT, top - 40)
    return top - 58
