"""The body of a notice: the content that flows, and the usage chart.

The intro sentence by kind, the notice's messages, and its tables (meter
reads, charges, activity), placed by a `notices.pdf_flow.Flow` down page 1's
left column and on over further pages; and the usage bar chart, drawn in page
1's right column. `BodyContent` is mixed into `notices.layout.Layout`, which
gives it `doc`, `texts`, `t()`, `date()` and `amount_due()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.figures import line_figures
from notices.document import ActivityRow, MeterRead, NoticeDocument, NoticeKind, UsageMonth
from notices.pdf_canvas import (
    Page,
    Texts,
    fit_size,
    money,
    month_label,
    number,
    short_date,
    width_of,
)
from notices.pdf_flow import Column, Flow, Table
from notices.pdf_sheet import ACCENT, ALERT, BAR, BOLD, GREY, INK, REGULAR, SHADE

CHART_HEIGHT = 100


def nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least raw: a round tick step."""
    base = Decimal(1).scaleb(raw.adjusted())
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if factor * base >= raw:
            return factor * base
    return 10 * base


class BodyContent:
    """Fills the flowing body of a notice and draws its usage chart; mixed into `Layout`."""

    doc: NoticeDocument
    texts: Texts

    # The body (left column on page 1, full width after).

    def body(self, flow: Flow) -> None:
        doc = self.doc
        intro = self.intro()
        if intro:
            final = doc.kind in (NoticeKind.FINAL, NoticeKind.SHUTOFF)
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
        pay_by = doc.stubs[0].due_date if doc.stubs else doc.due_date
        if kind in (NoticeKind.UTILITY_BILL, NoticeKind.TAX_BILL):
            return self.t("intro.paid_in_full") if due == 0 else ""
        if kind is NoticeKind.REMINDER:
            if pay_by:
                return self.t("intro.reminder", amount=amount, date=self.date(pay_by))
            return self.t("intro.reminder_no_date", amount=amount)
        if kind is NoticeKind.PAST_DUE:
            day = doc.action_date or pay_by
            if not doc.penalty_cents and day:
                return self.t("intro.past_due_no_penalty", amount=amount, date=self.date(day))
            penalty = money(doc.penalty_cents)
            if day:
                return self.t("intro.past_due", penalty=penalty, amount=amount, date=self.date(day))
            return self.t("intro.past_due_no_date", penalty=penalty, amount=amount)
        if kind is NoticeKind.FINAL:
            day = doc.action_date or pay_by
            if day:
                return self.t("intro.final", amount=amount, date=self.date(day))
            return self.t("intro.final_no_date", amount=amount)
        if kind is NoticeKind.SHUTOFF:
            return self.t(
                "intro.shutoff",
                address=doc.service_location,
                amount=amount,
                date=self.date(doc.action_date or pay_by),
            )
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
        rows = []
        for line in lines:
            figures = line_figures(
                line.quantity,
                line.rate,
                unit=line.unit,
                unit_words=line.unit_words,
                rate_places=line.rate_places,
                language=self.doc.language,
            )
            shown = (figures.quantity, figures.unit, figures.rate) if figures else ("", "", "")
            rows.append((line.description, *shown, money(line.amount_cents)))
        total = (t("lines.total"), "", "", "", money(sum(line.amount_cents for line in lines)))
        title = t("lines.title_tax" if self.doc.kind is NoticeKind.TAX_BILL else "lines.title")
        return Table(title, columns, tuple(rows), total)

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

    # The usage chart (a box of page 1's right column).

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
        # NOTE: up to 13 months each month is named; over more (two years of history) every
        # third month from the oldest and this bill's, so that the names never overlap.
        every = 1 if slots <= 13 else 3
        for i, month in enumerate(usage):
            center = axis_x + (first_slot + i + 0.5) * slot
            h = plot_h * float(month.quantity) / scale if month.quantity > 0 else 0
            last = i == len(usage) - 1
            if h:
                page.fill_rect(center - bar_w / 2, plot_bottom, bar_w, h, ACCENT if last else BAR)
            if i % every and not last:
                continue
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
