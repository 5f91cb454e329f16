"""The field's papers, as PDF (US Letter, ReportLab's canvas, the notices' fonts) and CSV: the
day's door hangers (one hanger a page, in the account's language), the shutoff work-order list
for the crews (address, meter, amount, space for the result) and the reconnection list, each by
route and service address (docs/shutoff.md, "In the field"). The amounts are the ones stored on
the hanger and the order: the position's past-due utility balance on their day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date

import sqlalchemy as sa
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import DoorHanger, OrderState, ReconnectionOrder, ShutoffOrder
from core.calendar import town_zone
from core.money import format_cents
from notices.mail_message import format_date
from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT, RULE
from notices.texts import texts_for

#: The CSV columns of the work-order list (docs/shutoff.md, "The work-order list").
ORDER_COLUMNS = (
    "order",
    "attempt",
    "route",
    "account",
    "service_address",
    "meter",
    "amount",
    "state",
    "note",
    "result",
    "time",
    "meter_reading",
    "reason",
)
HANGER_COLUMNS = ("route", "account", "service_address", "amount", "shutoff_on", "language")
RECONNECTION_COLUMNS = ("order", "shutoff_order", "route", "account", "service_address", "meter")
RECONNECTION_COLUMNS += ("paid_at", "reconnected_at")


def _numbers(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(sa.select(Account.id, Account.number).where(Account.id.in_(ids)))
    return {account_id: number for account_id, number in rows}


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _canvas(buffer: io.BytesIO, title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT), invariant=1)
    canvas.setTitle(title)
    return canvas


def hangers_pdf(session: Session, config: Mapping, hangers: Sequence[DoorHanger]) -> bytes:
    """The door hangers, one a page, each in its account's language."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, "Door hangers")
    numbers = _numbers(session, {h.account_id for h in hangers})
    for hanger in hangers:
        words = texts_for(hanger.language)
        when = format_date(hanger.shutoff_on, hanger.language)
        top = PAGE_HEIGHT - MARGIN - 14
        canvas.setFillColorRGB(*INK)
        canvas.setFont(BOLD, 16)
        canvas.drawString(MARGIN, top, str(words["hanger.title"]))
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, top - 18, config.get("MUNICIPALITY_NAME", ""))
        canvas.drawRightString(
            RIGHT, top - 18, f"Route {hanger.route} - {numbers[hanger.account_id]}"
        )
        body = str(words["hanger.body"]).format(
            address=hanger.service_address,
            account=numbers[hanger.account_id],
            date=when,
            amount=format_cents(hanger.amount_cents),
        )
        y = top - 50
        canvas.setFont(BOLD, 12)
        for line in _wrap(body, 80):
            canvas.drawString(MARGIN, y, line)
            y -= 16
        canvas.setFont(REGULAR, 10)
        for key in ("hanger.pay", "hanger.medical"):
            y -= 8
            for line in _wrap(str(words[key]).format(date=when), 95):
                canvas.drawString(MARGIN, y, line)
                y -= 13
        canvas.showPage()
    if not hangers:
        canvas.drawString(MARGIN, PAGE_HEIGHT - MARGIN, "No door hangers.")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def hangers_csv(session: Session, hangers: Sequence[DoorHanger]) -> str:
    """The door hangers as CSV (HANGER_COLUMNS)."""
    numbers = _numbers(session, {h.account_id for h in hangers})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HANGER_COLUMNS)
    for h in hangers:
        writer.writerow(
            (
                h.route,
                numbers[h.account_id],
                h.service_address,
                format_cents(h.amount_cents, symbol="").replace(",", ""),
                h.shutoff_on.isoformat(),
                h.language,
            )
        )
    return out.getvalue()


def _state_words(order: ShutoffOrder) -> str:
    if order.state == OrderState.CANCELLED:
        return f"CANCELLED: {order.note}"
    if order.state == OrderState.ISSUED:
        return ""
    reason = f" ({order.not_done_reason.value})" if order.not_done_reason else ""
    return f"{order.state.value}{reason}"


def orders_pdf(session: Session, day: date, orders: Sequence[ShutoffOrder]) -> bytes:
    """The crew's work-order list of a day: by route, each order with its address, meter,
    amount and room for the result; a cancelled order says so and why."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, f"Shutoff orders {day.isoformat()}")
    numbers = _numbers(session, {o.account_id for o in orders})
    y = _list_header(canvas, f"Shutoff work orders for {format_date(day, 'en')}")
    route = None
    for order in orders:
        if y < MARGIN + 90:
            canvas.showPage()
            y = _list_header(canvas, f"Shutoff work orders for {format_date(day, 'en')}")
        if order.route != route:
            route = order.route
            canvas.setFont(BOLD, 11)
            canvas.drawString(MARGIN, y, f"Route {route}")
            y -= 18
        canvas.setFont(BOLD, 10)
        again = f"  (attempt {order.attempt})" if order.attempt > 1 else ""
        canvas.drawString(MARGIN, y, f"{order.number}{again}  {order.service_address}")
        canvas.drawRightString(RIGHT, y, format_cents(order.amount_cents))
        canvas.setFont(REGULAR, 9)
        meter = order.meter_id or "no meter"
        canvas.drawString(
            MARGIN + 12, y - 13, f"Account {numbers[order.account_id]}  Meter {meter}"
        )
        state = _state_words(order)
        if state:
            canvas.drawString(MARGIN + 12, y - 26, state[:110])
        else:
            canvas.setFillColorRGB(*GREY)
            canvas.drawString(
                MARGIN + 12,
                y - 26,
                "[ ] shut off  time ______  reading ______   [ ] not shut off, why ______________",
            )
            canvas.setFillColorRGB(*INK)
        canvas.setStrokeColorRGB(*RULE)
        canvas.line(MARGIN, y - 34, RIGHT, y - 34)
        y -= 48
    if not orders:
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, y, "No shutoff orders.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _list_header(canvas: Canvas, title: str) -> float:
    top = PAGE_HEIGHT - MARGIN - 14
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 14)
    canvas.drawString(MARGIN, top, title)
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, top - 10, RIGHT, top - 10)
    return top - 30


def orders_csv(session: Session, orders: Sequence[ShutoffOrder]) -> str:
    """The work-order list as CSV (ORDER_COLUMNS); the last four are the crew's to fill in."""
    numbers = _numbers(session, {o.account_id for o in orders})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    for o in orders:
        writer.writerow(
            (
                o.number,
                o.attempt,
                o.route,
                numbers[o.account_id],
                o.service_address,
                o.meter_id or "",
                format_cents(o.amount_cents, symbol="").replace(",", ""),
                o.state.value,
                o.note or "",
                "",
                "",
                "",
                "",
            )
        )
    return out.getvalue()


def reconnections_pdf(
    session: Session, config: Mapping, orders: Sequence[ReconnectionOrder]
) -> bytes:
    """The open reconnection orders for the crews, by route and address."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, "Reconnection orders")
    zone = town_zone(config)
    y = _list_header(canvas, "Reconnection orders")
    for order in orders:
        if y < MARGIN + 60:
            canvas.showPage()
            y = _list_header(canvas, "Reconnection orders")
        shutoff = order.shutoff_order
        canvas.setFont(BOLD, 10)
        canvas.drawString(MARGIN, y, f"{order.number}  {shutoff.service_address}")
        canvas.setFont(REGULAR, 9)
        paid = order.paid_at.astimezone(zone)
        canvas.drawString(
            MARGIN + 12,
            y - 13,
            f"Route {shutoff.route}  Meter {shutoff.meter_id or '-'}  "
            f"paid {paid:%Y-%m-%d %H:%M}  (shutoff order {shutoff.number})",
        )
        y -= 32
    if not orders:
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, y, "No reconnection orders.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def reconnections_csv(
    session: Session, config: Mapping, orders: Sequence[ReconnectionOrder]
) -> str:
    """The reconnection orders as CSV (RECONNECTION_COLUMNS), times in the town's zone."""
    numbers = _numbers(session, {o.account_id for o in orders})
    zone = town_zone(config)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECONNECTION_COLUMNS)
    for o in orders:
        s = o.shutoff_order
        writer.writerow(
            (
                o.number,
                s.number,
                s.route,
                numbers[o.account_id],
                s.service_address,
                s.meter_id or "",
                o.paid_at.astimezone(zone).isoformat(timespec="minutes"),
                o.reconnected_at.astimezone(zone).isoformat(timespec="minutes")
                if o.reconnected_at
                else "",
            )
        )
    return out.getvalue()
