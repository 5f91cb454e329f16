"""The layout of one notice: its pages, and what goes where on them.

`Layout` lays a `NoticeDocument` out on pages of recorded operations
(`notices.pdf_canvas.Page`). Page 1 gets the page furniture (letterhead,
recipient, facts, the right column's boxes, the first stub:
`notices.layout_furniture`) and the body flowing beside and below it (intro,
messages, the meter reads, lines and activity tables: `notices.layout_body`);
pages after the first get a short header; installment stubs beyond the first
follow on pages of their own, two to a page.
"""

from __future__ import annotations

from datetime import date

from notices.document import NoticeDocument
from notices.layout_body import BodyContent
from notices.layout_furniture import PageFurniture
from notices.pdf_canvas import Page, long_date, wrap
from notices.pdf_flow import Flow
from notices.pdf_sheet import (
    ACCENT,
    BODY_TOP,
    BOLD,
    BOTTOM,
    CONTINUATION_TOP,
    GREY,
    INK,
    LEFT_COLUMN_WIDTH,
    MARGIN,
    PAGE_HEIGHT,
    REGULAR,
    RIGHT,
    STUB_HEIGHT,
)
from notices.texts import texts_for


class Layout(PageFurniture, BodyContent):
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
