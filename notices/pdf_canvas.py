"""The pen a notice is drawn with: formatting, text measuring, recorded pages.

Formatting turns money, dates and quantities into the notice's words;
measuring wraps and fits text in the standard fonts (cached: the same labels
are measured on every notice). A `Page` records the drawing operations of
one page, to be played onto ReportLab's canvas once the page count is known;
text goes out in runs of plain PDF operators, the shapes as plain operators
too. Importing it tells ReportLab to keep page streams binary (no ASCII85),
for every canvas the pages are played onto.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from reportlab import rl_config
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.money import format_cents
from notices.pdf_sheet import INK, REGULAR, RULE

#: Page streams are compressed and kept binary (no ASCII85 armour): smaller files, faster saves.
rl_config.useA85 = 0

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


def clock_time(moment: datetime, texts: Texts) -> str:
    """'2:05 PM CST' or '14:05 CST': the time of an aware moment on its own clock (the town's)."""
    hour = moment.hour
    return (
        str(texts["time"])
        .format(
            hour=hour,
            hour12=hour % 12 or 12,
            minute=moment.minute,
            period="AM" if hour < 12 else "PM",
            zone=moment.tzname() or "",
        )
        .strip()
    )


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
