"""The deposit slip of a bank deposit: what goes to the bank, drawer by drawer and file by
file, as a PDF.

`deposit_slip` reads the deposit, its drawers and their checks, and its lockbox and bill-pay
files batch by batch, into plain lines; `render_slip`
draws them (US Letter, ReportLab's canvas, the notices' fonts). Every figure is a sum of the
lines printed above it, and the total is the deposit's amount, the ledger's movement to 1050
Deposits in transit (docs/bank-deposits.md, "The deposit slip").
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from core.calendar import town_date, town_zone
from core.money import format_cents
from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT, RULE
from payments.bank_deposits import drawers_of, files_of
from payments.models import (
    BankDeposit,
    CashDrawer,
    Payment,
    PaymentStatus,
    RemittanceFile,
    RemittanceItem,
    RemittanceKind,
    Tender,
)

TENDER_WORDS = {Tender.CHECK: "Check", Tender.MONEY_ORDER: "Money order"}


@dataclass(frozen=True)
class SlipLine:
    """One printed line: words on the left, an amount on the right (None for a heading)."""

    words: str
    cents: int | None = None
    bold: bool = False


@dataclass(frozen=True)
class DepositSlip:
    """A deposit slip as plain values, ready to draw."""

    town: str
    address: str
    number: str
    made_on: date
    made_by: str
    status: str
    lines: tuple[SlipLine, ...]
    total_cents: int


def deposit_slip(session: Session, config: Mapping, deposit: BankDeposit) -> DepositSlip:
    """The slip of a deposit: each drawer's currency, coin and checks, each file's batches, and
    the total."""
    zone = town_zone(config)
    lines: list[SlipLine] = []
    totals = {"currency": 0, "coin": 0, "mixed": 0, "items": 0, "files": 0}
    for drawer in drawers_of(session, deposit):
        lines.extend(_drawer_lines(session, drawer, zone, totals))
    for upload in files_of(session, deposit):
        lines.extend(_file_lines(session, upload, totals))
    summary = [SlipLine("Summary", bold=True)]
    if totals["mixed"]:
        summary.append(SlipLine("Currency and coin (not split)", totals["mixed"]))
    summary += [
        SlipLine("Currency", totals["currency"]),
        SlipLine("Coin", totals["coin"]),
        SlipLine("Checks and money orders", totals["items"]),
    ]
    if totals["files"]:
        summary.append(SlipLine("Lockbox and bill-pay files", totals["files"]))
    total = sum(totals.values())
    if total != deposit.amount_cents:
        raise ValueError(
            f"deposit {deposit.number}: the slip adds up to {total} cents, "
            f"the deposit holds {deposit.amount_cents}"
        )
    return DepositSlip(
        town=config["MUNICIPALITY_NAME"],
        address=config["MUNICIPALITY_ADDRESS"],
        number=deposit.number,
        made_on=town_date(deposit.made_at, zone),
        made_by=deposit.made_by,
        status="reached the bank" if deposit.reached_bank_on else "in transit",
        lines=(*lines, *summary),
        total_cents=total,
    )


def _drawer_lines(
    session: Session, drawer: CashDrawer, zone: ZoneInfo, totals: dict
) -> list[SlipLine]:
    """A drawer's part of the slip; adds its figures to `totals`."""
    out = drawer.close_out["deposit"]
    closed_on = town_date(drawer.closed_at, zone)
    lines = [
        SlipLine(
            f"Drawer {drawer.id} - clerk {drawer.opened_by} - closed {closed_on:%B %-d, %Y}",
            bold=True,
        )
    ]
    if out["coin_cents"] is None:
        lines.append(SlipLine("Currency and coin (not split)", out["cash_cents"]))
        totals["mixed"] += out["cash_cents"]
    else:
        currency = out["cash_cents"] - out["coin_cents"]
        lines += [SlipLine("Currency", currency), SlipLine("Coin", out["coin_cents"])]
        totals["currency"] += currency
        totals["coin"] += out["coin_cents"]
    items = session.scalars(
        sa.select(Payment)
        .where(
            Payment.drawer_id == drawer.id,
            Payment.tender.in_([Tender.CHECK, Tender.MONEY_ORDER]),
            Payment.status != PaymentStatus.VOIDED,
        )
        .order_by(Payment.id)
    ).all()
    for item in items:
        lines.append(
            SlipLine(f"{TENDER_WORDS[item.tender]} {item.tender_reference}", item.amount_cents)
        )
    counted = out["check_cents"] + out["money_order_cents"]
    listed = sum(item.amount_cents for item in items)
    if counted != listed:
        # NOTE: the bank takes what was counted; the difference was posted to 5300 at close-out.
        lines.append(SlipLine("Checks counted differ from those listed by", counted - listed))
    totals["items"] += counted
    lines.append(SlipLine(f"Drawer {drawer.id} total", out["total_cents"], bold=True))
    return lines


def _file_lines(session: Session, upload: RemittanceFile, totals: dict) -> list[SlipLine]:
    """A lockbox or bill-pay file's part of the slip, batch by batch; adds it to `totals`."""
    words = "Lockbox" if upload.kind == RemittanceKind.LOCKBOX else "Bill-pay"
    lines = [
        SlipLine(
            f"{words} file {upload.id} - {upload.filename} - deposited by the bank "
            f"{upload.deposit_date:%B %-d, %Y}",
            bold=True,
        )
    ]
    batches = session.execute(
        sa.select(RemittanceItem.batch, sa.func.count(), sa.func.sum(RemittanceItem.amount_cents))
        .where(RemittanceItem.file_id == upload.id)
        .group_by(RemittanceItem.batch)
        .order_by(RemittanceItem.batch)
    ).all()
    for batch, count, cents in batches:
        lines.append(
            SlipLine(f"Batch {batch}: {count} item{'' if count == 1 else 's'}", int(cents))
        )
    if upload.exception_count:
        # NOTE: queued items are in the bank's deposit too; their money waits on 2040.
        lines.append(
            SlipLine(
                f"of which {upload.exception_count} in the exception queue "
                f"({format_cents(upload.exception_cents)})"
            )
        )
    lines.append(SlipLine(f"{words} file {upload.id} total", upload.total_cents, bold=True))
    totals["files"] += upload.total_cents
    return lines


def render_slip(slip: DepositSlip) -> bytes:
    """Draw the slip as a PDF (pages as many as its lines need)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT), invariant=1)
    canvas.setTitle(f"Deposit slip {slip.number}")
    y = _header(canvas, slip)
    for line in slip.lines:
        if y < MARGIN + 60:
            canvas.showPage()
            y = _header(canvas, slip)
        if line.cents is None:
            y -= 8
        canvas.setFont(BOLD if line.bold else REGULAR, 10)
        canvas.setFillColorRGB(*INK)
        canvas.drawString(MARGIN + (0 if line.bold else 12), y, line.words)
        if line.cents is not None:
            canvas.drawRightString(RIGHT, y, format_cents(line.cents))
        y -= 15
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, y + 8, RIGHT, y + 8)
    canvas.setFont(BOLD, 12)
    canvas.drawString(MARGIN, y - 8, "Total deposit")
    canvas.drawRightString(RIGHT, y - 8, format_cents(slip.total_cents))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _header(canvas: Canvas, slip: DepositSlip) -> float:
    """The slip's heading on each page; returns where the lines start."""
    top = PAGE_HEIGHT - MARGIN - 14
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 16)
    canvas.drawString(MARGIN, top, "Deposit slip")
    canvas.setFont(BOLD, 11)
    canvas.drawRightString(RIGHT, top, slip.number)
    canvas.setFont(REGULAR, 10)
    canvas.drawString(MARGIN, top - 18, slip.town)
    canvas.drawString(MARGIN, top - 31, slip.address)
    canvas.drawRightString(RIGHT, top - 18, f"Date: {slip.made_on:%B %-d, %Y}")
    canvas.drawRightString(RIGHT, top - 31, f"Made by: {slip.made_by}")
    canvas.setFillColorRGB(*GREY)
    canvas.drawRightString(RIGHT, top - 44, f"Status: {slip.status}")
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, top - 52, RIGHT, top - 52)
    return top - 72
