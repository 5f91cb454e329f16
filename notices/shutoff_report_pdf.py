"""The monthly shutoff report as a PDF for publication (US Letter, the notices' fonts): a table
with one line a figure and one column a month, six months a page (docs/shutoff.md, "The monthly
report"). Counts only: no names, numbers or addresses."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from reportlab.pdfgen.canvas import Canvas

from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT, RULE
from notices.shutoff_report import FIGURES, MonthFigures

#: Months on one page, and the width of the figures' words.
PER_PAGE = 6
LABEL_WIDTH = 250
LINE = 18


def report_pdf(config: Mapping, figures: Sequence[MonthFigures]) -> bytes:
    """The report's pages; an hour figure with no reconnection shows as a dash."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT), invariant=1)
    canvas.setTitle("Shutoffs and reconnections by month")
    for start in range(0, len(figures), PER_PAGE):
        _page(canvas, config, figures[start : start + PER_PAGE], figures)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _page(
    canvas: Canvas, config: Mapping, page: Sequence[MonthFigures], every: Sequence[MonthFigures]
) -> None:
    top = PAGE_HEIGHT - MARGIN - 14
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 14)
    canvas.drawString(MARGIN, top, f"{config['MUNICIPALITY_NAME']}: shutoffs and reconnections")
    canvas.setFont(REGULAR, 10)
    canvas.drawString(
        MARGIN, top - 16, f"Water service, by month, {every[0].month} to {every[-1].month}"
    )
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, top - 24, RIGHT, top - 24)
    width = (RIGHT - MARGIN - LABEL_WIDTH) / PER_PAGE
    y = top - 44
    canvas.setFont(BOLD, 9)
    canvas.drawString(MARGIN, y, "Figure")
    for index, month in enumerate(page):
        canvas.drawRightString(MARGIN + LABEL_WIDTH + width * (index + 1), y, str(month.month))
    for name, english, _spanish in FIGURES:
        y -= LINE
        canvas.setStrokeColorRGB(*RULE)
        canvas.line(MARGIN, y + LINE - 5, RIGHT, y + LINE - 5)
        canvas.setFillColorRGB(*INK)
        canvas.setFont(REGULAR, 9)
        canvas.drawString(MARGIN, y, english)
        for index, month in enumerate(page):
            shown = month.shown(name) or "-"
            canvas.drawRightString(MARGIN + LABEL_WIDTH + width * (index + 1), y, shown)
    canvas.setFillColorRGB(*GREY)
    canvas.setFont(REGULAR, 8)
    canvas.drawString(
        MARGIN,
        y - 2 * LINE,
        "Each event is counted in the month of its date in the town. Hours run from the "
        "payment that cleared the amount to the crew's reconnection.",
    )
