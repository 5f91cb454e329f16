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

This module makes the canvas and plays the pages onto it. The rest:
`notices.layout` (the pages of one notice), `notices.layout_furniture` (what
stands in fixed places: letterhead, recipient, facts, the right column's
boxes, the stub), `notices.layout_body` (the intro, messages and tables, the
usage chart), `notices.pdf_flow` (paragraphs and tables flowing over pages),
`notices.pdf_marks` (logo, barcode, QR code, detach line),
`notices.pdf_canvas` (formatting, text measuring, recorded pages) and
`notices.pdf_sheet` (the page's measures, fonts and colours).
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from notices.document import NoticeDocument
from notices.layout import Layout
from notices.pdf_sheet import GREY, PAGE_HEIGHT, REGULAR, RIGHT
from notices.texts import texts_for

__all__ = ["render"]


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
