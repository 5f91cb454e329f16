"""Draw a notice as a PDF: US Letter, ReportLab's canvas, no platypus.

Pure module: a `NoticeDocument` in, the bytes of a PDF out (docs/notices.md,
"Layout"). The same document always gives the same bytes.

How it works: the pages are laid out first as lists of drawing operations
(so that "Page 1 of 3" is known while drawing page 1), then played onto one
canvas. Page 1 has the letterhead in the return-address window, the
resident's address in the recipient window, the facts of the notice beside
it, the body (a flowing column on the left, fixed boxes and the usage chart
on the right) and, when the notice has stubs, the tear-off remittance stub
at the bottom. Tables that do not fit flow onto further pages with their
headings repeated; installment stubs beyond the first follow on pages of
their own, two to a page.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

import segno
from reportlab import rl_config
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.money import format_cents
from notices.document import (
    ActivityRow,
    MeterRead,
    NoticeDocument,
    NoticeKind,
    Stub,
    UsageMonth,
)
from notices.scanline import printed
from notices.texts import texts_for

#: Page streams are compressed and kept binary (no ASCII85 armour): smaller files, faster saves.
rl_config.useA85 = 0
#: The QR code's mask pattern (0-7).
QR_MASK = 2

__all__ = ["render"]

PAGE_WIDTH, PAGE_HEIGHT = letter
MARGIN = 0.5 * inch
RIGHT = PAGE_WIDTH - MARGIN

#: #10 double-window envelope, measured from the page's top-left corner: (left, top, width, height).
RETURN_WINDOW = (0.375 * inch, 0.625 * inch, 3.25 * inch, 0.875 * inch)
RECIPIENT_WINDOW = (0.875 * inch, 2.0 * inch, 4.0 * inch, 1.125 * inch)
#: The tear-off stub: its height above the page's bottom edge (the dashed line).
STUB_HEIGHT = 3.5 * inch
#: The remit-to address, for the return envelope's window: its top below the stub's top.
REMIT_TOP = 1.0 * inch
REMIT_LEFT = 0.75 * inch
#: Code 128: the narrowest bar (about 0.0153 in, over 2 pixels at 150 dpi) and the bars' height.
BAR_WIDTH = 1.1
BAR_HEIGHT = 0.45 * inch
BARCODE_QUIET = 20 * BAR_WIDTH
#: The QR code, its 4-module quiet zone included.
QR_SIZE = 0.9 * inch
QR_QUIET = 4

#: The right column of page 1 (facts, summary box, chart) and the body's left column.
RIGHT_COLUMN_X = 5.0 * inch + 6
RIGHT_COLUMN_WIDTH = RIGHT - RIGHT_COLUMN_X
LEFT_COLUMN_WIDTH = RIGHT_COLUMN_X - 14 - MARGIN
#: Where the body starts on page 1 at the latest: below the recipient window.
BODY_TOP = PAGE_HEIGHT - (RECIPIENT_WINDOW[1] + RECIPIENT_WINDOW[3]) - 14
#: Continuation pages: the body between the short header and the bottom margin.
CONTINUATION_TOP = PAGE_HEIGHT - 80
BOTTOM = 40

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"
MONO = "Courier"

INK = (0.1, 0.1, 0.12)
GREY = (0.38, 0.38, 0.42)
RULE = (0.7, 0.7, 0.74)
SHADE = (0.9, 0.91, 0.93)
STRIPE = (0.965, 0.968, 0.975)
ACCENT = (0.05, 0.26, 0.48)
ALERT = (0.66, 0.08, 0.08)
BAR = (0.68, 0.72, 0.78)
WHITE = (1, 1, 1)
BLACK = (0, 0, 0)

Texts = dict[str, str | tuple[str, ...]]
Op = tuple[Callable[..., object], tuple]


# --- Formatting -------------------------------------------------------------------------


def money(cents: int) -> str:
    """'$1,234.56', credits as '-$1,234.56' (integer arithmetic only)."""
    return format_cents(cents)


def long_date(day: date, texts: Texts) -> str:
    """'November 23, 2026' or '23 de noviembre de 2026'."""
    months = texts["months"]
    return str(texts["date.long"]).format(month=months[day.month - 1], day=day.day, year=day.year)


def short_date(day: date, texts: Texts) -> str:
    """'11/23/2026' or '23/11/2026', for tables."""
    return str(texts["date.numeric"]).format(month=day.month, day=day.day, year=day.year)


def month_label(month: str, texts: Texts) -> tuple[str, str]:
    """'2026-10' as ('Oct', '26'): the usage chart's two-line label."""
    year, _, number = month.partition("-")
    return texts["months.short"][int(number) - 1], year[-2:]


def number(value: Decimal | None) -> str:
    """A quantity or a rate as given, with thousands separators ('' for None)."""
    if value is None:
        return ""
    return f"{value:,f}"


# --- Text measuring (cached: the same labels are measured on every notice) -------------------


@lru_cache(maxsize=16384)
def width_of(text: str, font: str, size: float) -> float:
    """The width of text in points."""
    return stringWidth(text, font, size)


@lru_cache(maxsize=4096)
def wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Break text into lines no wider than width (words longer than a line are cut)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if width_of(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while width_of(word, font, size) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and width_of(word[:cut], font, size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return tuple(lines)


def fit_size(text: str, font: str, size: float, width: float, smallest: float = 6) -> float:
    """The largest size up to size at which text fits in width."""
    while size > smallest and width_of(text, font, size) > width:
        size -= 0.5
    return size


# --- Recording pages ------------------------------------------------------------------------


class Page:
    """The drawing operations of one page, recorded to be played once the page count is known.

    Text is recorded already positioned (right and centred lines measured
    here) and played in runs: consecutive lines share one PDF text object.
    """

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def call(self, function: Callable[..., object], *args) -> None:
        """Record function(canvas, *args)."""
        self.ops.append((function, args))

    def text(
        self,
        x: float,
        y: float,
        text: str,
        font: str = REGULAR,
        size: float = 8,
        color: tuple = INK,
        align: str = "left",
    ) -> None:
        """One line of text at baseline y; align 'left', 'right' (x is the right edge) or 'center'."""
        if not text:
            return
        if align == "right":
            x -= width_of(text, font, size)
        elif align == "center":
            x -= width_of(text, font, size) / 2
        self.ops.append((_line_of_text, (x, y, text, font, size, color)))

    def fill_rect(self, x: float, y: float, w: float, h: float, color: tuple) -> None:
        """A filled rectangle without outline."""
        self.ops.append((_fill_rect, (x, y, w, h, color)))

    def frame_rect(self, x: float, y: float, w: float, h: float, color: tuple = RULE) -> None:
        """An outlined rectangle."""
        self.ops.append((_stroke_rect, (x, y, w, h, color)))

    def line(self, x1: float, y1: float, x2: float, y2: float, color: tuple = RULE) -> None:
        """A thin line."""
        self.ops.append((_line, (x1, y1, x2, y2, color)))

    def play(self, canvas: Canvas) -> None:
        """Draw the recorded operations onto the canvas's current page.

        Consecutive lines of text go out as one BT ... ET block of plain PDF
        operators (the standard fonts' WinAnsi encoding, as ReportLab writes
        it); a line with a character outside that encoding goes through
        ReportLab's own text object instead.
        """
        run: list[str] | None = None
        font = color = None
        for function, args in self.ops:
            if function is _line_of_text:
                x, y, text, name, size, fill = args
                encoded = _pdf_string(text)
                if encoded is None:
                    if run is not None:
                        run.append("ET")
                        canvas.addLiteral("\n".join(run))
                        run = None
                    _slow_text(canvas, x, y, text, name, size, fill)
                    continue
                if run is None:
                    run = ["BT"]
                    font = color = None
                if font != (name, size):
                    run.append(f"{canvas._doc.getInternalFontName(name)} {size:g} Tf")
                    font = (name, size)
                if color != fill:
                    run.append(f"{fill[0]:.3g} {fill[1]:.3g} {fill[2]:.3g} rg")
                    color = fill
                run.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm {encoded} Tj")
                continue
            if run is not None:
                run.append("ET")
                canvas.addLiteral("\n".join(run))
                run = None
            function(canvas, *args)
        if run is not None:
            run.append("ET")
            canvas.addLiteral("\n".join(run))


_ESCAPES = {ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"}


def _pdf_string(text: str) -> str | None:
    """text as a PDF string literal in WinAnsi (cp1252) encoding, or None if it does not fit."""
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        return None
    if raw.isascii():
        return "(" + text.translate(_ESCAPES) + ")"
    return (
        "("
        + "".join(chr(b).translate(_ESCAPES) if 32 <= b < 127 else f"\\{b:03o}" for b in raw)
        + ")"
    )


def _slow_text(
    canvas: Canvas, x: float, y: float, text: str, name: str, size: float, fill: tuple
) -> None:
    """One line of text through ReportLab's text object (any character it can map)."""
    run = canvas.beginText()
    run.setFont(name, size)
    run.setFillColorRGB(*fill)
    run.setTextOrigin(x, y)
    run.textOut(text)
    canvas.drawText(run)


def _line_of_text(canvas: Canvas, *args) -> None:
    """Marks a recorded line of text (Page.play draws these in runs); never called."""
    raise AssertionError("text is played by Page.play")


def _rgb(color: tuple) -> str:
    return f"{color[0]:.3g} {color[1]:.3g} {color[2]:.3g}"


# NOTE: the shapes go out as plain PDF operators (as canvas.rect and canvas.line
# write them), without ReportLab's per-call number formatting; they use the
# line width and dash of the current graphics state like the canvas's own.
def _fill_rect(canvas: Canvas, x: float, y: float, w: float, h: float, color: tuple) -> None:
    canvas.addLiteral(f"{_rgb(color)} rg {x:.2f} {y:.2f} {w:.2f} {h:.2f} re f")


def _stroke_rect(canvas: Canvas, x: float, y: float, w: float, h: float, color: tuple) -> None:
    canvas.addLiteral(f"{_rgb(color)} RG {x:.2f} {y:.2f} {w:.2f} {h:.2f} re S")


def _line(canvas: Canvas, x1: float, y1: float, x2: float, y2: float, color: tuple) -> None:
    canvas.addLiteral(f"{_rgb(color)} RG {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")


# --- Flowing body -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: heading, share of the width, alignment."""

    heading: str
    weight: float
    align: str = "left"


@dataclass(frozen=True)
class Table:
    """A table that may flow over pages; the total row (bold, ruled) comes last."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...] | None = None


TABLE_SIZE = 8
TABLE_LEADING = 9.4
HEAD_SIZE = 7
CELL_PAD = 3
ROW_PAD = 2.2


class Flow:
    """Places paragraphs and tables top to bottom, starting new pages as needed."""

    def __init__(
        self, layout: Layout, page: Page, x: float, width: float, top: float, bottom: float
    ):
        self.layout = layout
        self.page = page
        self.x = x
        self.width = width
        self.y = top
        self.bottom = bottom

    def new_page(self) -> None:
        """Continue on a new continuation page, across its full width."""
        self.page = self.layout.continuation_page()
        self.x = MARGIN
        self.width = RIGHT - MARGIN
        self.y = CONTINUATION_TOP
        self.bottom = BOTTOM

    def space(self, points: float) -> None:
        """Leave vertical space (none at the top of a page)."""
        self.y -= points

    def paragraph(
        self,
        text: str,
        font: str = REGULAR,
        size: float = 8.5,
        color: tuple = INK,
        leading: float | None = None,
    ) -> None:
        """A wrapped paragraph; it may break between lines."""
        leading = leading or size * 1.3
        lines = list(wrap(text, font, size, self.width))
        while lines:
            if self.y - leading < self.bottom:
                self.new_page()
                lines = list(wrap(" ".join(lines), font, size, self.width))
            self.y -= leading
            self.page.text(self.x, self.y + leading - size, lines.pop(0), font, size, color)
        self.y -= 5

    # Tables.

    def _geometry(self, table: Table) -> list[tuple[float, float, str]]:
        """(left, width, align) of each column in the current width."""
        total = sum(c.weight for c in table.columns)
        left = self.x
        out = []
        for column in table.columns:
            w = self.width * column.weight / total
            out.append((left, w, column.align))
            left += w
        return out

    def _cells(
        self, geometry: list[tuple[float, float, str]], row: Sequence[str], font: str, size: float
    ) -> list[tuple[str, ...]]:
        # Text columns wrap; figures (right-aligned) stay on one line, made smaller if need be.
        return [
            wrap(text, font, size, w - 2 * CELL_PAD) if text and align != "right" else (text,)
            for (_, w, align), text in zip(geometry, row, strict=True)
        ]

    def _draw_cells(
        self,
        geometry: list[tuple[float, float, str]],
        cells: list[tuple[str, ...]],
        top: float,
        font: str,
        size: float,
        leading: float,
        color: tuple = INK,
    ) -> None:
        for (left, w, align), lines in zip(geometry, cells, strict=True):
            y = top - ROW_PAD - size * 0.78
            for line in lines:
                if align == "right":
                    fitted = fit_size(line, font, size, w - 2 * CELL_PAD, 5)
                    self.page.text(left + w - CELL_PAD, y, line, font, fitted, color, "right")
                else:
                    self.page.text(left + CELL_PAD, y, line, font, size, color)
                y -= leading

    def _heading(self, table: Table, continued: bool, texts: Texts) -> list:
        """Title and column headings at the top of the table (or of its continuation)."""
        geometry = self._geometry(table)
        title = f"{table.title} {texts['continued']}" if continued else table.title
        self.y -= 12
        self.page.text(self.x, self.y + 2, title, BOLD, 9.5, ACCENT)
        cells = self._cells(geometry, [c.heading for c in table.columns], BOLD, HEAD_SIZE)
        height = max(len(c) for c in cells) * (HEAD_SIZE + 1.2) + 2 * ROW_PAD
        self.y -= 3
        self.page.fill_rect(self.x, self.y - height, self.width, height, SHADE)
        self._draw_cells(geometry, cells, self.y, BOLD, HEAD_SIZE, HEAD_SIZE + 1.2, GREY)
        self.y -= height
        return geometry

    def _heading_height(self, table: Table) -> float:
        geometry = self._geometry(table)
        cells = self._cells(geometry, [c.heading for c in table.columns], BOLD, HEAD_SIZE)
        return 15 + max(len(c) for c in cells) * (HEAD_SIZE + 1.2) + 2 * ROW_PAD

    def table(self, table: Table, texts: Texts) -> None:
        """Place a table; rows that do not fit go to the next page under repeated headings."""
        note_room = 12
        rows = list(table.rows)
        total = table.total

        def row_height(geometry, row, font) -> tuple[list, float]:
            cells = self._cells(geometry, row, font, TABLE_SIZE)
            lines = max(len(c) for c in cells)
            return cells, (lines - 1) * TABLE_LEADING + TABLE_SIZE + 2 * ROW_PAD + 1

        first = rows[0] if rows else total
        need = self._heading_height(table)
        if first is not None:
            need += row_height(self._geometry(table), first, REGULAR)[1]
        if self.y - need < self.bottom + note_room:
            self.new_page()
        geometry = self._heading(table, False, texts)
        index = 0
        while index < len(rows) or total is not None:
            last = index >= len(rows)
            row = total if last else rows[index]
            font = BOLD if last else REGULAR
            cells, height = row_height(geometry, row, font)
            reserve = 0 if (last or (index == len(rows) - 1 and total is None)) else note_room
            if self.y - height < self.bottom + reserve:
                self.page.text(
                    self.x + self.width,
                    self.bottom + 2,
                    str(texts["continued_next"]),
                    REGULAR,
                    7,
                    GREY,
                    "right",
                )
                self.new_page()
                geometry = self._heading(table, True, texts)
            if last:
                self.page.line(self.x, self.y, self.x + self.width, self.y, GREY)
            elif index % 2:
                self.page.fill_rect(self.x, self.y - height, self.width, height, STRIPE)
            self._draw_cells(geometry, cells, self.y, font, TABLE_SIZE, TABLE_LEADING)
            self.y -= height
            if last:
                total = None
            else:
                index += 1
        self.page.line(self.x, self.y, self.x + self.width, self.y)
        self.y -= 12


# --- The layout of one notice -----------------------------------------------------------------


class Layout:
    """Lays a notice out on pages of recorded operations."""

    def __init__(self, doc: NoticeDocument) -> None:
        self.doc = doc
        self.texts = texts_for(doc.language)
        self.pages: list[Page] = []

    def t(self, key: str, **fields) -> str:
        """A fixed wording, with its fields filled in."""
        value = str(self.texts[key])
        return value.format(**fields) if fields else value

    def date(self, day: date | None) -> str:
        return long_date(day, self.texts) if day else ""

    # Pages.

    def new_page(self) -> Page:
        page = Page()
        self.pages.append(page)
        return page

    def continuation_page(self) -> Page:
        """A page after the first: short header (who, what, account)."""
        page = self.new_page()
        doc = self.doc
        top = PAGE_HEIGHT - 44
        page.text(MARGIN, top, doc.letterhead.name, BOLD, 10, ACCENT)
        heading = f"{self.t('title.' + doc.kind.value)} {doc.reference}"
        page.text(RIGHT, top, heading, BOLD, 9, INK, "right")
        account = f"{self.t('account_number')} {doc.account_number}"
        page.text(MARGIN, top - 12, account, REGULAR, 8, GREY)
        page.text(RIGHT, top - 12, doc.recipient.name, REGULAR, 8, GREY, "right")
        page.line(MARGIN, top - 19, RIGHT, top - 19)
        return page

    def lay_out(self) -> list[Page]:
        doc = self.doc
        first = self.new_page()
        self.letterhead(first)
        self.recipient(first)
        facts_bottom = self.facts(first)
        body_top = min(BODY_TOP, facts_bottom - 14)
        stubs = list(doc.stubs)
        bottom = STUB_HEIGHT + 14 if stubs else BOTTOM
        if stubs:
            self.stub(first, stubs.pop(0), STUB_HEIGHT)

        # The meter readings span the page; below them the body's left column flows
        # beside the right column's boxes (or across the page if there are none).
        flow = Flow(self, first, MARGIN, RIGHT - MARGIN, body_top, bottom)
        if doc.reads:
            flow.table(self.reads_table(doc.reads), self.texts)
        side = self.side_items()
        if side:
            self.place_side(flow.page, side, flow.y, flow.bottom)
            flow.width = LEFT_COLUMN_WIDTH
        self.body(flow)

        while stubs:
            page = self.continuation_page()
            note = wrap(self.t("stub.more_stubs"), REGULAR, 8.5, RIGHT - MARGIN)
            y = CONTINUATION_TOP - 10
            for line in note:
                page.text(MARGIN, y, line, REGULAR, 8.5)
                y -= 11
            tops = [2 * STUB_HEIGHT, STUB_HEIGHT] if len(stubs) > 1 else [STUB_HEIGHT]
            for top in tops:
                self.stub(page, stubs.pop(0), top)
        return self.pages

    # Page 1: the top.

    def letterhead(self, page: Page) -> None:
        """The municipality in the return-address window, with its logo if there is one."""
        head = self.doc.letterhead
        left, top, width, _ = RETURN_WINDOW
        x = MARGIN
        text_width = left + width - x
        if head.logo_path and os.path.isfile(head.logo_path):
            logo = logo_image(head.logo_path, os.path.getmtime(head.logo_path))
            if logo is not None:
                image, (iw, ih) = logo
                h = 0.6 * inch
                w = min(0.9 * inch, h * iw / ih)
                h = w * ih / iw
                page.call(_draw_logo, image, x, PAGE_HEIGHT - top - 4 - h, w, h)
                x += w + 6
                text_width = left + width - x
        y = PAGE_HEIGHT - top - 12
        size = fit_size(head.name, BOLD, 10.5, text_width)
        page.text(x, y, head.name, BOLD, size, ACCENT)
        y -= 11
        for line in head.address_lines:
            page.text(x, y, line, REGULAR, fit_size(line, REGULAR, 8.5, text_width), INK)
            y -= 10
        contact = "  ·  ".join(p for p in (head.phone, head.website) if p)
        page.text(x, y, contact, REGULAR, fit_size(contact, REGULAR, 8, text_width), GREY)

    def recipient(self, page: Page) -> None:
        """The resident's name and address inside the recipient window."""
        left, top, width, height = RECIPIENT_WINDOW
        x = left + 0.125 * inch
        room = width - 0.25 * inch
        lines = [self.doc.recipient.name, *self.doc.recipient.lines][:6]
        size = 10 if len(lines) <= 5 else 9
        leading = size + 2
        y = PAGE_HEIGHT - top - (height - leading * len(lines)) / 2 - size * 0.8
        for line in lines:
            page.text(x, y, line, REGULAR, fit_size(line, REGULAR, size, room), BLACK)
            y -= leading

    def facts(self, page: Page) -> float:
        """Title, reference and the notice's facts in the right column; returns their bottom."""
        doc = self.doc
        kind = doc.kind.value
        x, w = RIGHT_COLUMN_X, RIGHT_COLUMN_WIDTH
        title = self.t("title." + kind)
        color = ALERT if doc.kind is NoticeKind.FINAL else ACCENT
        y = PAGE_HEIGHT - 58
        page.text(x, y, title, BOLD, fit_size(title, BOLD, 17, w), color)
        y -= 14
        page.text(x, y, f"{self.t('ref.' + kind)}  {doc.reference}", REGULAR, 8.5, INK)
        y -= 8

        rows: list[tuple[str, str, str | None]] = [
            (self.t("account_number"), doc.account_number, None)
        ]
        if doc.access_code is not None:
            rows.append((self.t("access_code"), doc.access_code, self.t("access_code_hint")))
        if doc.service_location:
            label = "parcel" if doc.kind is NoticeKind.TAX_BILL else "service_location"
            rows.append((self.t(label), doc.service_location, None))
        if doc.period_start and doc.period_end:
            label = "statement_period" if doc.kind is NoticeKind.STATEMENT else "billing_period"
            period = self.t(
                "period", start=self.date(doc.period_start), end=self.date(doc.period_end)
            )
            rows.append((self.t(label), period, None))
        date_label = "payment_date" if doc.kind is NoticeKind.RECEIPT else "issue_date"
        rows.append((self.t(date_label), self.date(doc.issue_date), None))
        if doc.due_date:
            rows.append((self.t("due_date"), self.date(doc.due_date), None))

        label_w = 82
        value_w = w - label_w
        for label, value, hint in rows:
            y -= 11
            label_lines = wrap(label, REGULAR, 7.5, label_w - 4)
            value_lines = wrap(value, BOLD, 8.5, value_w)
            ly = y
            for line in label_lines:
                page.text(x, ly, line, REGULAR, 7.5, GREY)
                ly -= 9
            vy = y
            for line in value_lines:
                page.text(x + label_w, vy, line, BOLD, 8.5, INK)
                vy -= 10
            if hint:
                for line in wrap(hint, REGULAR, 6.5, value_w):
                    page.text(x + label_w, vy + 1, line, REGULAR, 6.5, GREY)
                    vy -= 7.5
            y = min(ly + 9, vy + 10) - 2

        key = self.key_amount()
        if key is not None:
            label, cents = key
            y -= 30
            page.fill_rect(x, y, w, 24, SHADE)
            page.text(x + 6, y + 8.5, label, BOLD, 9, INK)
            page.text(x + w - 6, y + 7.5, money(cents), BOLD, 13, color, "right")
        return y

    def key_amount(self) -> tuple[str, int] | None:
        """The amount the notice is about, highlighted under the facts."""
        doc = self.doc
        if doc.kind is NoticeKind.RECEIPT:
            return self.t("amount_paid"), doc.amount_cents
        if doc.kind is NoticeKind.REFUND:
            return self.t("amount_refunded"), doc.amount_cents
        if doc.kind is NoticeKind.STATEMENT and doc.summary is None:
            return self.t("closing_balance"), self.closing_balance()
        due = self.amount_due()
        return None if due is None else (self.t("amount_due"), due)

    def amount_due(self) -> int | None:
        """What the resident is asked to pay: a reminder's or a past-due or final notice's
        stub (what is owed now), else the bill's total due."""
        doc = self.doc
        if doc.kind in (NoticeKind.REMINDER, NoticeKind.PAST_DUE, NoticeKind.FINAL):
            if doc.stubs:
                return doc.stubs[0].amount_due_cents
            if doc.amount_cents:
                return doc.amount_cents
        if doc.summary is not None:
            return doc.summary.total_due_cents
        if doc.stubs:
            return doc.stubs[0].amount_due_cents
        return None

    def installment(self, stub: Stub, number_: int) -> str:
        """The stub's installment label; "2/4" is spelled out in the notice's language."""
        count = len(self.doc.stubs)
        label = stub.label
        if label is None:
            return self.t("installment", number=number_, count=count) if count > 1 else ""
        first, slash, second = label.partition("/")
        if slash and first.strip().isdigit() and second.strip().isdigit():
            return self.t("installment", number=int(first), count=int(second))
        return label

    def closing_balance(self) -> int:
        for row in reversed(self.doc.activity):
            if row.balance_cents is not None:
                return row.balance_cents
        return self.doc.balance_after_cents

    # Page 1: the right column of the body.

    def side_items(self) -> list[tuple[float, Callable[[Page, float, float, float], None]]]:
        """The boxes of the right column, each as (height, draw(page, x, top, width))."""
        doc = self.doc
        items: list[tuple[float, Callable[[Page, float, float, float], None]]] = []
        if doc.summary is not None:
            s = doc.summary
            rows = [
                (self.t("summary.previous_balance"), money(s.previous_balance_cents)),
                # Credits are a positive amount taken off the balance: shown as a minus.
                (self.t("summary.payments_and_credits"), money(-s.payments_and_credits_cents)),
                (self.t("summary.penalties"), money(s.penalties_cents)),
                (self.t("summary.current_charges"), money(s.current_charges_cents)),
            ]
            total = (self.t("summary.total_due"), money(s.total_due_cents))
            items.append(self.box(self.t("summary.title"), rows, total))
        if doc.kind in (NoticeKind.RECEIPT, NoticeKind.REFUND):
            refund = doc.kind is NoticeKind.REFUND
            rows = [
                (self.t("amount_refunded" if refund else "amount_paid"), money(doc.amount_cents)),
                (self.t("refunded_by" if refund else "paid_by"), doc.tender),
                (self.t("issue_date" if refund else "payment_date"), self.date(doc.issue_date)),
            ]
            total = (self.t("balance_after"), money(doc.balance_after_cents))
            items.append(self.box(self.t("box.refund" if refund else "box.payment"), rows, total))
        if doc.kind in (NoticeKind.PAST_DUE, NoticeKind.FINAL) and (
            doc.penalty_cents or doc.action_date
        ):
            rows = []
            if doc.penalty_cents:
                rows.append((self.t("penalty_assessed"), money(doc.penalty_cents)))
            total = (self.t("deadline"), self.date(doc.action_date)) if doc.action_date else None
            color = ALERT if doc.kind is NoticeKind.FINAL else ACCENT
            items.append(self.box(self.t("box.notice"), rows, total, color))
        if len(doc.stubs) > 1:
            rows = []
            for n, stub in enumerate(doc.stubs, 1):
                label = self.installment(stub, n)
                rows.append((label, money(stub.amount_due_cents)))
                rows.append(("   " + self.t("due_date"), self.date(stub.due_date)))
            items.append(self.box(self.t("installments"), rows, None))
        if doc.usage:
            unit = doc.reads[0].unit if doc.reads else ""
            key = "usage.title_unit" if unit else "usage.title"
            title = self.t(key, count=len(doc.usage), unit=unit)
            items.append((CHART_HEIGHT, lambda page, x, top, w: self.chart(page, x, top, w, title)))
        return items

    def box(
        self,
        title: str,
        rows: list[tuple[str, str]],
        total: tuple[str, str] | None,
        color: tuple = ACCENT,
    ) -> tuple[float, Callable[[Page, float, float, float], None]]:
        """A titled box of label/amount rows with a bold total row."""
        pad = 6
        row_h = 12.5

        def row_lines(label: str, value: str, w: float, font: str, size: float):
            if width_of(label, REGULAR, size) + width_of(value, font, size) + 8 <= w - 2 * pad:
                return [(label, value)]
            out = [(line, "") for line in wrap(label, REGULAR, size, w - 2 * pad)]
            out += [("", line) for line in wrap(value, font, size, w - 2 * pad)]
            return out

        def height_for(w: float) -> float:
            n = sum(len(row_lines(label, value, w, REGULAR, 8)) for label, value in rows)
            h = 16 + 4 + n * row_h
            if total:
                h += 4 + len(row_lines(*total, w, BOLD, 9.5)) * 14
            return h + 4

        def draw(page: Page, x: float, top: float, w: float) -> None:
            h = height_for(w)
            page.fill_rect(x, top - 16, w, 16, color)
            page.text(x + pad, top - 11.5, title, BOLD, 8.5, WHITE)
            y = top - 16 - 4
            for label, value in rows:
                for left, right in row_lines(label, value, w, REGULAR, 8):
                    y -= row_h
                    page.text(x + pad, y + 3.5, left, REGULAR, 8, INK)
                    page.text(x + w - pad, y + 3.5, right, REGULAR, 8, INK, "right")
            if total:
                y -= 2
                page.line(x + pad, y, x + w - pad, y, GREY)
                y -= 2
                for left, right in row_lines(*total, w, BOLD, 9.5):
                    y -= 14
                    page.text(x + pad, y + 4, left, BOLD, 9.5, INK)
                    page.text(x + w - pad, y + 4, right, BOLD, 9.5, color, "right")
            page.frame_rect(x, top - h, w, h)

        return height_for(RIGHT_COLUMN_WIDTH), draw

    def place_side(self, page: Page, items, top: float, bottom: float) -> None:
        """The right column's boxes from the body's top down, as many as fit."""
        y = top
        for height, draw in items:
            if y - height < bottom:
                continue
            draw(page, RIGHT_COLUMN_X, y, RIGHT_COLUMN_WIDTH)
            y -= height + 12

    def chart(self, page: Page, x: float, top: float, w: float, title: str) -> None:
        """The usage bar chart: oldest month first, this bill's month highlighted."""
        usage: Sequence[UsageMonth] = self.doc.usage
        legend = self.t("usage.this_bill")
        legend_w = width_of(legend, REGULAR, 6)
        title_room = w - legend_w - 16
        page.text(x, top - 9, title, BOLD, fit_size(title, BOLD, 8, title_room, 5.5), ACCENT)
        plot_top = top - 22
        plot_h = 58
        plot_bottom = plot_top - plot_h
        axis_x = x + 26
        plot_w = x + w - axis_x
        peak = max((m.quantity for m in usage), default=Decimal(0))
        step = nice_step(peak / 3 if peak > 0 else Decimal(1))
        ticks = [step * n for n in range(5) if n == 0 or step * (n - 1) < peak]
        scale = float(ticks[-1]) or 1.0
        for tick in ticks:
            y = plot_bottom + plot_h * float(tick) / scale
            if tick:
                page.line(axis_x, y, x + w, y, SHADE)
            label = f"{tick.normalize():,f}" if tick else "0"
            page.text(axis_x - 3, y - 2, label, REGULAR, 5.5, GREY, "right")
        slots = max(len(usage), 13)
        slot = plot_w / slots
        bar_w = slot * 0.62
        first_slot = slots - len(usage)
        for i, month in enumerate(usage):
            center = axis_x + (first_slot + i + 0.5) * slot
            h = plot_h * float(month.quantity) / scale if month.quantity > 0 else 0
            last = i == len(usage) - 1
            if h:
                page.fill_rect(center - bar_w / 2, plot_bottom, bar_w, h, ACCENT if last else BAR)
            name, year = month_label(month.month, self.texts)
            color = ACCENT if last else GREY
            font = BOLD if last else REGULAR
            page.text(center, plot_bottom - 8, name, font, 5.5, color, "center")
            page.text(center, plot_bottom - 14.5, year, font, 5.5, color, "center")
            if last:
                value = f"{month.quantity:,f}"
                page.text(center, plot_bottom + h + 2, value, BOLD, 5.5, ACCENT, "center")
        page.line(axis_x, plot_bottom, x + w, plot_bottom, GREY)
        page.text(x + w, top - 9, legend, REGULAR, 6, ACCENT, "right")
        page.fill_rect(x + w - legend_w - 9, top - 9, 6, 6, ACCENT)

    # The body (left column on page 1, full width after).

    def body(self, flow: Flow) -> None:
        doc = self.doc
        intro = self.intro()
        if intro:
            final = doc.kind is NoticeKind.FINAL
            flow.paragraph(intro, BOLD if final else REGULAR, 9, ALERT if final else INK)
            flow.space(2)
        for message in doc.messages:
            flow.paragraph(message, REGULAR, 8.5)
        if intro or doc.messages:
            flow.space(4)
        if doc.lines:
            flow.table(self.lines_table(), self.texts)
        if doc.activity:
            flow.table(self.activity_table(doc.activity), self.texts)

    def intro(self) -> str:
        doc = self.doc
        kind = doc.kind
        due = self.amount_due()
        amount = money(due if due is not None else doc.amount_cents)
        if kind is NoticeKind.REMINDER:
            if doc.due_date:
                return self.t("intro.reminder", amount=amount, date=self.date(doc.due_date))
            return self.t("intro.reminder_no_date", amount=amount)
        if kind is NoticeKind.PAST_DUE:
            day = doc.action_date or doc.due_date
            if not doc.penalty_cents and day:
                return self.t("intro.past_due_no_penalty", amount=amount, date=self.date(day))
            penalty = money(doc.penalty_cents)
            if day:
                return self.t("intro.past_due", penalty=penalty, amount=amount, date=self.date(day))
            return self.t("intro.past_due_no_date", penalty=penalty, amount=amount)
        if kind is NoticeKind.FINAL:
            day = doc.action_date or doc.due_date
            if day:
                return self.t("intro.final", amount=amount, date=self.date(day))
            return self.t("intro.final_no_date", amount=amount)
        if kind is NoticeKind.RECEIPT:
            return self.t(
                "intro.receipt", amount=money(doc.amount_cents), date=self.date(doc.issue_date)
            )
        if kind is NoticeKind.REFUND:
            return self.t(
                "intro.refund",
                amount=money(doc.amount_cents),
                date=self.date(doc.issue_date),
            )
        if kind is NoticeKind.STATEMENT:
            if doc.period_start and doc.period_end:
                return self.t(
                    "intro.statement",
                    start=self.date(doc.period_start),
                    end=self.date(doc.period_end),
                )
            return self.t("intro.statement_no_period")
        return ""

    def reads_table(self, reads: Sequence[MeterRead]) -> Table:
        t = self.t
        columns = (
            Column(t("col.meter"), 1.25),
            Column(t("col.service"), 1.15),
            Column(t("col.from"), 1.15),
            Column(t("col.to"), 1.15),
            Column(t("col.previous"), 1.0, "right"),
            Column(t("col.current"), 1.0, "right"),
            Column(t("col.consumption"), 1.2, "right"),
            Column(t("col.unit"), 0.8),
        )
        rows = tuple(
            (
                r.meter_id,
                r.service,
                short_date(r.read_from, self.texts),
                short_date(r.read_to, self.texts),
                number(r.previous),
                number(r.current),
                number(r.consumption),
                r.unit,
            )
            for r in reads
        )
        return Table(t("reads.title"), columns, rows)

    def lines_table(self) -> Table:
        t = self.t
        columns = (
            Column(t("col.description"), 3.0),
            Column(t("col.quantity"), 1.0, "right"),
            Column(t("col.unit"), 1.15),
            Column(t("col.rate"), 0.95, "right"),
            Column(t("col.amount"), 1.2, "right"),
        )
        lines = self.doc.lines
        rows = tuple(
            (
                line.description,
                number(line.quantity),
                line.unit or "",
                number(line.rate),
                money(line.amount_cents),
            )
            for line in lines
        )
        total = (t("lines.total"), "", "", "", money(sum(line.amount_cents for line in lines)))
        title = t("lines.title_tax" if self.doc.kind is NoticeKind.TAX_BILL else "lines.title")
        return Table(title, columns, rows, total)

    def activity_table(self, activity: Sequence[ActivityRow]) -> Table:
        t = self.t
        with_balance = any(row.balance_cents is not None for row in activity)
        columns = [
            Column(t("col.date"), 1.1),
            Column(t("col.description"), 3.6),
            Column(t("col.amount"), 1.25, "right"),
        ]
        if with_balance:
            columns.append(Column(t("col.balance"), 1.25, "right"))
        rows = []
        for row in activity:
            cells = [short_date(row.day, self.texts), row.description, money(row.amount_cents)]
            if with_balance:
                cells.append("" if row.balance_cents is None else money(row.balance_cents))
            rows.append(tuple(cells))
        key = {
            NoticeKind.RECEIPT: "activity.title_receipt",
            NoticeKind.REFUND: "activity.title_refund",
        }.get(self.doc.kind, "activity.title")
        return Table(t(key), tuple(columns), tuple(rows))

    # The stub.

    def stub(self, page: Page, stub: Stub, top: float) -> None:
        """The remittance stub below the dashed line at top (points above the page's bottom)."""
        head = self.doc.letterhead
        # The detach line, its instruction interrupting it.
        detach = self.t("stub.detach")
        detach_w = width_of(detach, REGULAR, 7)
        page.call(_detach_line, top, detach_w + 12)
        page.text(PAGE_WIDTH / 2, top - 2.5, detach, REGULAR, 7, GREY, "center")

        # Left: title, instructions, the remit-to address for the return envelope's window.
        y = top - 22
        title = self.t("stub.title")
        page.text(MARGIN, y, title, BOLD, 9.5, ACCENT)
        label = self.installment(stub, self.doc.stubs.index(stub) + 1)
        if label:
            page.text(MARGIN + width_of(title, BOLD, 9.5) + 10, y, label, BOLD, 9.5, INK)
        y -= 11
        for line in wrap(self.t("stub.payable", name=head.name), REGULAR, 7, 3.9 * inch):
            page.text(MARGIN, y, line, REGULAR, 7, GREY)
            y -= 8.5
        remit_top = top - REMIT_TOP
        page.text(REMIT_LEFT, remit_top + 3, self.t("stub.remit_to"), REGULAR, 6.5, GREY)
        y = remit_top - 10
        room = 3.4 * inch
        page.text(REMIT_LEFT, y, head.name, BOLD, fit_size(head.name, BOLD, 10, room), BLACK)
        for line in head.address_lines:
            y -= 12
            page.text(REMIT_LEFT, y, line, REGULAR, fit_size(line, REGULAR, 10, room), BLACK)

        # Right: account, due date, amount due, amount enclosed.
        x = RIGHT_COLUMN_X - 0.2 * inch
        rows = [
            (self.t("account_number"), stub.account_number, 9.5),
            (self.t("due_date"), self.date(stub.due_date), 9.5),
            (self.t("amount_due"), money(stub.amount_due_cents), 11),
        ]
        y = top - 22
        for label, value, size in rows:
            page.text(x, y, label, REGULAR, 8, GREY)
            page.text(RIGHT, y, value, BOLD, size, INK, "right")
            page.line(x, y - 4, RIGHT, y - 4)
            y -= 17
        y -= 10
        enclosed = self.t("stub.amount_enclosed")
        page.text(x, y + 2, enclosed, BOLD, 8.5, INK)
        box_x = x + max(96, width_of(enclosed, BOLD, 8.5) + 10)
        page.frame_rect(box_x, y - 6, RIGHT - box_x, 20, INK)
        page.text(box_x + 4, y + 0.5, "$", BOLD, 10, INK)

        # Bottom: the barcode over the printed scan line (left), the QR code (right).
        bottom = top - STUB_HEIGHT
        bar_y = bottom + 48
        bars_x = MARGIN + 0.25 * inch
        page.call(draw_code128, stub.scan_line, bars_x - BARCODE_QUIET, bar_y)
        page.text(bars_x, bar_y - 15, printed(stub.scan_line), MONO, 11, BLACK)
        qr_x = RIGHT - QR_SIZE + 0.05 * inch
        qr_y = bottom + 26
        page.call(draw_qr, stub.pay_url, qr_x, qr_y, QR_SIZE)
        caption_x = qr_x - 4
        middle = qr_y + QR_SIZE / 2
        page.text(caption_x, middle + 4, self.t("stub.scan_to_pay"), BOLD, 7.5, INK, "right")
        url_size = fit_size(stub.pay_url, REGULAR, 6.5, caption_x - 4.3 * inch, 4)
        page.text(caption_x, middle - 6, stub.pay_url, REGULAR, url_size, GREY, "right")


CHART_HEIGHT = 100


def nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least raw: a round tick step."""
    base = Decimal(1).scaleb(raw.adjusted())
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if factor * base >= raw:
            return factor * base
    return 10 * base


# --- Drawing helpers played onto the canvas ---------------------------------------------------


@lru_cache(maxsize=32)
def logo_image(path: str, mtime: float) -> tuple[ImageReader, tuple[int, int]] | None:
    """The logo, read once per file version; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            image = ImageReader(io.BytesIO(handle.read()))
        size = image.getSize()
    except (OSError, ValueError):
        return None
    if not size[0] or not size[1]:
        return None
    return image, size


def _draw_logo(canvas: Canvas, image: ImageReader, x: float, y: float, w: float, h: float) -> None:
    canvas.drawImage(image, x, y, w, h, mask="auto")


@lru_cache(maxsize=64)
def code128_bars(value: str) -> tuple[tuple[int, int], ...]:
    """The bars of value in Code 128, as (start, width) in modules from the first bar."""
    symbol = Code128(value, barWidth=1, quiet=0, humanReadable=0)
    symbol.validate()
    symbol.encode()
    pattern = symbol.decompose()
    bars = []
    left = 0
    for char in pattern:
        if char.isupper():
            width = ord(char) - ord("A") + 1
            bars.append((left, width))
        else:
            width = ord(char) - ord("a") + 1
        left += width
    return tuple(bars)


def draw_code128(canvas: Canvas, value: str, x: float, y: float) -> None:
    """value as a Code 128 barcode, its left quiet zone starting at x.

    The bars are one filled path in bar units (narrowest bar 1 wide, 1 high),
    scaled by the current matrix: integer coordinates, short to write.
    """
    bars = " ".join(f"{start} 0 {width} 1 re" for start, width in code128_bars(value))
    origin = f"{x + BARCODE_QUIET:.3f} {y:.3f}"
    canvas.addLiteral(f"q 0 g {BAR_WIDTH:.4f} 0 0 {BAR_HEIGHT:.4f} {origin} cm {bars} f Q")


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """data as a QR code (level M) of size points, quiet zone included, at x, y (bottom left).

    Each run of dark modules in a row is one rectangle; all of them make one
    filled path in module units (so adjacent rows leave no seams).
    """
    # NOTE: a fixed mask (any of the eight is valid QR) saves the search for the
    # "best" one, which took most of a bill's drawing time; zbar reads it in the tests.
    matrix = segno.make(data, error="m", micro=False, mask=QR_MASK).matrix
    count = len(matrix)
    module = size / (count + 2 * QR_QUIET)
    runs = []
    for r, row in enumerate(matrix):
        bits = bytes(row)
        row_y = count - 1 - r
        start = bits.find(1)
        while start != -1:
            end = bits.find(0, start)
            if end == -1:
                end = count
            runs.append(f"{start} {row_y} {end - start} 1 re")
            start = bits.find(1, end)
    origin = f"{x + QR_QUIET * module:.3f} {y + QR_QUIET * module:.3f}"
    path = " ".join(runs)
    canvas.addLiteral(f"q 0 g {module:.4f} 0 0 {module:.4f} {origin} cm {path} f Q")


def _detach_line(canvas: Canvas, top: float, gap: float) -> None:
    """The dashed line across the page, broken in the middle for its instruction."""
    canvas.setStrokeColorRGB(*GREY)
    canvas.setLineWidth(0.8)
    canvas.setDash(4, 3)
    middle = PAGE_WIDTH / 2
    canvas.line(18, top, middle - gap / 2, top)
    canvas.line(middle + gap / 2, top, PAGE_WIDTH - 18, top)
    canvas.setDash()
    canvas.setLineWidth(1)


# --- The entry point ---------------------------------------------------------------------------


def render(doc: NoticeDocument) -> bytes:
    """One notice as a PDF (US Letter); the same document gives the same bytes."""
    return render_counted(doc)[0]


def render_counted(doc: NoticeDocument) -> tuple[bytes, int]:
    """The PDF of a notice and how many pages it has."""
    texts = texts_for(doc.language)
    pages = Layout(doc).lay_out()
    buffer = io.BytesIO()
    lang = "es-US" if doc.language == "es" else "en-US"
    canvas = Canvas(buffer, pagesize=letter, invariant=1, pageCompression=1, lang=lang)
    name = str(texts["name." + doc.kind.value])
    canvas.setTitle(f"{name} {doc.reference}")
    canvas.setAuthor(doc.letterhead.name)
    canvas.setSubject(str(texts["meta.subject"]).format(name=name, account=doc.account_number))
    canvas.setCreator("munibill")
    count = len(pages)
    for number_, page in enumerate(pages, 1):
        label = str(texts["page"]).format(page=number_, pages=count)
        page.text(RIGHT, PAGE_HEIGHT - 26, label, REGULAR, 7, GREY, "right")
        page.play(canvas)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue(), count
