"""The page furniture of a notice: what stands in fixed places rather than flowing.

Page 1's letterhead in the return-address window, the resident's address in
the recipient window, the title and facts beside it with the amount the
notice is about, the boxes of the right column (account summary, payment or
refund, penalty and deadline, installments, the usage chart) and the tear-off
remittance stub with its barcode and QR code. `PageFurniture` is mixed into
`notices.layout.Layout`, which gives it `doc`, `t()`, `date()` and the
chart.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from reportlab.lib.units import inch

from notices.document import AlsoOwed, NoticeDocument, NoticeKind, Stub
from notices.layout_body import CHART_HEIGHT
from notices.pdf_canvas import Page, fit_size, money, width_of, wrap
from notices.pdf_marks import (
    BARCODE_QUIET,
    QR_SIZE,
    draw_code128,
    draw_detach_line,
    draw_logo,
    draw_qr,
    logo_image,
)
from notices.pdf_sheet import (
    ACCENT,
    ALERT,
    BLACK,
    BOLD,
    GREY,
    INK,
    MARGIN,
    MONO,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RECIPIENT_WINDOW,
    REGULAR,
    REMIT_LEFT,
    REMIT_TOP,
    RETURN_WINDOW,
    RIGHT,
    RIGHT_COLUMN_WIDTH,
    RIGHT_COLUMN_X,
    SHADE,
    STUB_HEIGHT,
    WHITE,
)
from notices.receipt_words import payment_rows
from notices.scanline import printed


class PageFurniture:
    """Draws the fixed parts of a notice's pages; mixed into `Layout`."""

    doc: NoticeDocument

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
                page.call(draw_logo, image, x, PAGE_HEIGHT - top - 4 - h, w, h)
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
        color = ALERT if doc.kind in (NoticeKind.FINAL, NoticeKind.SHUTOFF) else ACCENT
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
        if doc.as_of:
            rows.append((self.t("amounts_as_of"), self.date(doc.as_of), None))

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
        if doc.kind in (
            NoticeKind.REMINDER,
            NoticeKind.PAST_DUE,
            NoticeKind.FINAL,
            NoticeKind.SHUTOFF,
        ):
            if doc.stubs:
                return doc.stubs[0].amount_due_cents
            if doc.amount_cents:
                return doc.amount_cents
        if doc.summary is not None:
            return doc.summary.total_due_cents
        if doc.stubs:
            return doc.stubs[0].amount_due_cents
        return None

    def also_owed_label(self, owed: AlsoOwed) -> str:
        """What another group owed is, in the notice's language."""
        if owed.group == "tax":
            return self.t("also_owed.tax", year=owed.tax_year)
        return self.t(f"also_owed.{owed.group}")

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
        if doc.also_owed:
            rows = [(self.also_owed_label(a), money(a.cents)) for a in doc.also_owed]
            items.append(self.box(self.t("also_owed.title"), rows, None))
        if doc.kind is NoticeKind.RECEIPT:
            rows = [(self.t("amount_paid"), money(doc.amount_cents))]
            rows += payment_rows(doc, self.texts)
            total = (self.t("balance_after"), money(doc.balance_after_cents))
            items.append(self.box(self.t("box.payment"), rows, total))
        if doc.kind is NoticeKind.REFUND:
            rows = [
                (self.t("amount_refunded"), money(doc.amount_cents)),
                (self.t("refunded_by"), doc.tender),
                (self.t("issue_date"), self.date(doc.issue_date)),
            ]
            total = (self.t("balance_after"), money(doc.balance_after_cents))
            items.append(self.box(self.t("box.refund"), rows, total))
        if doc.kind is NoticeKind.SHUTOFF and doc.action_date:
            total = (self.t("earliest_shutoff"), self.date(doc.action_date))
            items.append(self.box(self.t("box.notice"), [], total, ALERT))
        if doc.kind in (NoticeKind.PAST_DUE, NoticeKind.FINAL) and (
            doc.penalty_cents or doc.action_date
        ):
            rows = []
            if doc.penalty_cents:
                rows.append((self.t("penalty_assessed"), money(doc.penalty_cents)))
            total = (self.t("deadline"), self.date(doc.action_date)) if doc.action_date else None
            color = ALERT if doc.kind in (NoticeKind.FINAL, NoticeKind.SHUTOFF) else ACCENT
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

    # The stub.

    def stub(self, page: Page, stub: Stub, top: float) -> None:
        """The remittance stub below the dashed line at top (points above the page's bottom)."""
        head = self.doc.letterhead
        # The detach line, its instruction interrupting it.
        detach = self.t("stub.detach")
        detach_w = width_of(detach, REGULAR, 7)
        page.call(draw_detach_line, top, detach_w + 12)
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
