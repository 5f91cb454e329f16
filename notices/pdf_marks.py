"""The marks drawn straight onto the canvas: the logo, the barcode, the QR code, the detach line.

Each is a function of the canvas that a recorded `Page` calls when it is
played (`Page.call`). The stub's Code 128 barcode carries the scan line and
its QR code the quick-pay address; both go out as one filled path each, in
plain PDF operators.
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from notices.pdf_sheet import GREY, PAGE_WIDTH

#: The QR code's mask pattern (0-7).
QR_MASK = 2
#: Code 128: the narrowest bar (about 0.0153 in, over 2 pixels at 150 dpi) and the bars' height.
BAR_WIDTH = 1.1
BAR_HEIGHT = 0.45 * inch
BARCODE_QUIET = 20 * BAR_WIDTH
#: The QR code, its 4-module quiet zone included.
QR_SIZE = 0.9 * inch
QR_QUIET = 4


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


def draw_logo(canvas: Canvas, image: ImageReader, x: float, y: float, w: float, h: float) -> None:
    """The logo image in the box at x, y (bottom left), w by h."""
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


def draw_detach_line(canvas: Canvas, top: float, gap: float) -> None:
    """The dashed line across the page, broken in the middle for its instruction."""
    canvas.setStrokeColorRGB(*GREY)
    canvas.setLineWidth(0.8)
    canvas.setDash(4, 3)
    middle = PAGE_WIDTH / 2
    canvas.line(18, top, middle - gap / 2, top)
    canvas.line(middle + gap / 2, top, PAGE_WIDTH - 18, top)
    canvas.setDash()
    canvas.setLineWidth(1)
