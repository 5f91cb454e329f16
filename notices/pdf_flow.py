"""The flowing body of a notice: paragraphs and tables placed top to bottom, over pages.

A `Flow` places wrapped paragraphs and `Table`s down a column; what does not
fit goes on to a new continuation page (asked of the layout), across its full
width. A table's rows break between pages under its repeated title and
column headings, with "continued on the next page" at the foot; figures stay
on one line, made smaller if need be, and its total row comes last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notices.pdf_canvas import Page, Texts, fit_size, wrap
from notices.pdf_sheet import (
    ACCENT,
    BOLD,
    BOTTOM,
    CONTINUATION_TOP,
    GREY,
    INK,
    MARGIN,
    REGULAR,
    RIGHT,
    SHADE,
    STRIPE,
)

if TYPE_CHECKING:
    from notices.layout import Layout


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
