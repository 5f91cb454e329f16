"""The results a field crew brings back, entered by a clerk (console, API, CLI or the crew's
sheet as CSV): shut off (with the time and, if read, the meter), not shut off and why (a fixed
list), or paid at the door (the money goes through the counter's payment path into the clerk's
open drawer, so the ledger and the receipt are the counter's; the service stays on).

A result for an order never issued, for an order whose result is in, or for a cancelled order
is refused with the reason, and so is a shutoff the rules no longer allow on the crew's day.
Shutting off charges the rule's reconnection fee (billing.reconnection). Services flush; a
sheet is all or nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import NotDoneReason, OrderState, ReconnectionOrder, ShutoffOrder
from billing.reconnection import ReconnectionError, charge_reconnection_fee, complete_reconnection
from billing.shutoff_rules import shutoff_rule_on
from core.audit import Actor, record
from core.calendar import town_date, town_zone
from core.money import MoneyError, parse_dollars
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_field import FieldError, calendar_of
from payments.counter import take_counter_payment
from payments.models import CashDrawer, Tender
from payments.services import PaymentRefused

SHUT_OFF, NOT_SHUT_OFF, PAID_AT_DOOR = "shut_off", "not_shut_off", "paid_at_door"
OUTCOMES = (SHUT_OFF, NOT_SHUT_OFF, PAID_AT_DOOR)
#: The crew's sheet, one row per order (docs/shutoff.md, "The crew's sheet").
SHEET_COLUMNS = ("order", "result", "time", "meter_reading", "reason", "note", "amount", "tender")


@dataclass(frozen=True)
class Result:
    """One order's result as the crew reports it."""

    outcome: str
    #: When the crew did it (aware).
    at: datetime
    meter_reading: int | None = None
    reason: NotDoneReason | None = None
    note: str | None = None
    #: Paid at the door: the amount and how.
    amount_cents: int | None = None
    tender: Tender | None = None
    reference: str | None = None


def find_order(session: Session, number: str) -> ShutoffOrder:
    """The order by its number; FieldError when no such order was issued."""
    order = session.scalar(sa.select(ShutoffOrder).where(ShutoffOrder.number == number.strip()))
    if order is None:
        raise FieldError(f"order {number.strip()}: no such shutoff order was issued")
    return order


def _check(order: ShutoffOrder, result: Result) -> None:
    if order.state == OrderState.CANCELLED:
        raise FieldError(f"order {order.number} was cancelled: {order.note}")
    if order.state != OrderState.ISSUED:
        raise FieldError(
            f"order {order.number}: its result ({order.state.value}) was already entered"
        )
    if result.outcome not in OUTCOMES:
        raise FieldError(f"result: must be one of {', '.join(OUTCOMES)}, not {result.outcome!r}")
    if result.at.tzinfo is None:
        raise FieldError("time: must say its time zone")
    if result.meter_reading is not None and result.meter_reading < 0:
        raise FieldError("meter_reading: must not be negative")
    if result.outcome == NOT_SHUT_OFF:
        if result.reason is None:
            raise FieldError("reason: say why the service was not shut off")
        if result.reason == NotDoneReason.OTHER and not (result.note or "").strip():
            raise FieldError("note: say what happened (reason other)")


def enter_result(
    session: Session,
    config: Mapping,
    actor: Actor,
    order: ShutoffOrder,
    result: Result,
    *,
    drawer: CashDrawer | None = None,
) -> ShutoffOrder:
    """Enter an order's result; FieldError (or PaymentRefused at the door) with the reason, and
    nothing changed. Flushes."""
    _check(order, result)
    day = town_date(result.at, town_zone(config))
    if result.outcome == SHUT_OFF:
        found = shutoff_eligibility(
            session, order.account, day, calendar=calendar_of(session, config)
        )
        if not found.may_shut_off:
            why = "; ".join((*found.reasons, *([found.not_today] if found.not_today else [])))
            raise FieldError(f"order {order.number}: no shutoff on {day.isoformat()}: {why}")
        order.state = OrderState.SHUT_OFF
    elif result.outcome == PAID_AT_DOOR:
        if drawer is None:
            raise FieldError("drawer: a payment at the door goes into the clerk's open drawer")
        if not result.amount_cents or result.amount_cents <= 0 or result.tender is None:
            raise FieldError("amount: enter the amount and the tender paid at the door")
        receipt = take_counter_payment(
            session,
            actor,
            drawer=drawer,
            account=order.account,
            amount_cents=result.amount_cents,
            tender=result.tender,
            reference=result.reference,
            invoice_numbers=[],
            on=day,
        )
        order.state, order.not_done_reason = OrderState.NOT_SHUT_OFF, NotDoneReason.PAID_AT_DOOR
        order.door_payment_id = receipt.payment_id
    else:
        order.state, order.not_done_reason = OrderState.NOT_SHUT_OFF, result.reason
    order.result_at, order.result_by = result.at, actor.label
    order.meter_reading, order.note = result.meter_reading, (result.note or "").strip() or None
    session.flush()
    if order.state == OrderState.SHUT_OFF:
        order.fee_charge_id = charge_reconnection_fee(
            session, actor, order, shutoff_rule_on(session, day), day
        )
    record(
        session,
        actor,
        "shutoff_order.result",
        order,
        number=order.number,
        result=result.outcome,
        at=result.at.isoformat(),
        reason=order.not_done_reason.value if order.not_done_reason else None,
        payment=order.door_payment_id,
    )
    return order


def _row_result(row: dict, zone) -> Result:
    outcome = (row.get("result") or "").strip()
    try:
        at = datetime.fromisoformat((row.get("time") or "").strip())
    except ValueError:
        raise FieldError(
            f"time: must be a date and time such as 2027-01-07T09:30, not {row.get('time')!r}"
        ) from None
    at = at if at.tzinfo else at.replace(tzinfo=zone)
    reading = (row.get("meter_reading") or "").strip()
    reason = (row.get("reason") or "").strip()
    amount = (row.get("amount") or "").strip()
    try:
        return Result(
            outcome=outcome,
            at=at,
            meter_reading=int(reading) if reading else None,
            reason=NotDoneReason(reason) if reason else None,
            note=row.get("note"),
            amount_cents=parse_dollars(amount) if amount else None,
            tender=Tender((row.get("tender") or "").strip()) if outcome == PAID_AT_DOOR else None,
        )
    except (ValueError, MoneyError) as error:
        raise FieldError(f"{error}") from None


def enter_sheet(
    session: Session,
    config: Mapping,
    actor: Actor,
    text: str,
    *,
    drawer: CashDrawer | None = None,
) -> list[ShutoffOrder]:
    """Enter a crew's sheet (CSV, SHEET_COLUMNS, one row per order); the first bad row is refused
    naming it (the caller rolls back: all or nothing). Flushes."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("order", "result", "time") if c not in (reader.fieldnames or [])]
    if missing:
        raise FieldError(f"sheet: missing column {missing[0]}")
    done = []
    zone = town_zone(config)
    for line, row in enumerate(reader, start=2):
        try:
            order = find_order(session, row.get("order") or "")
            done.append(
                enter_result(session, config, actor, order, _row_result(row, zone), drawer=drawer)
            )
        except (FieldError, PaymentRefused) as error:
            raise FieldError(f"row {line}: {error}") from None
    return done


def reconnect(
    session: Session,
    actor: Actor,
    number: str,
    *,
    at: datetime,
    meter_reading: int | None = None,
) -> ReconnectionOrder:
    """Enter a reconnection order's completion by its number; FieldError with the reason."""
    order = session.scalar(
        sa.select(ReconnectionOrder).where(ReconnectionOrder.number == number.strip())
    )
    if order is None:
        raise FieldError(f"reconnection order {number.strip()}: no such order was made")
    try:
        return complete_reconnection(session, actor, order, at=at, meter_reading=meter_reading)
    except ReconnectionError as error:
        raise FieldError(str(error)) from None
