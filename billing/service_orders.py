"""Service orders: start, stop and transfer of service at a location on a date.

A resident's request waits for a clerk (requested -> confirmed or refused); a clerk or an API
client enters an order confirmed. Confirming carries it out in the caller's transaction:
- a start opens an account (or takes the one named) and makes it responsible from the date;
  when the owner was responsible for a vacancy, the owner's last days are billed first;
- a stop bills the account's last days at once (the final bill, to the forwarding address),
  hands the location to its owner for the vacancy and finals the account when it is
  responsible for no other location;
- a transfer is a stop at the old location and a start at the new one on the same date.
Anything refused raises OrderError naming the place and leaves nothing half-done (the caller
rolls back). docs/service-orders.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from accounts.locations import OrderKind, OrderStatus, ServiceLocation, ServiceOrder
from accounts.models import Account, AccountStatus
from accounts.responsibility import (
    ResponsibilityError,
    current,
    hand_over,
    location_points,
    open_locations,
)
from accounts.services import create_account
from billing.deposit_owed import ask_at_start, drop_owed
from billing.deposits import apply_to_final_bill
from billing.final_bills import FinalBillError, bill_last_days, last_billed_day, record_reading
from billing.runs import RunOptions
from core.audit import Actor, record
from core.db import utcnow


class OrderError(ValueError):
    """A service order refused; the message names the place (location, account, field)."""


@dataclass(frozen=True)
class OrderSettings:
    """What carrying out an order needs from the town's settings."""

    options: RunOptions
    #: The key that derives a new account's quick-pay access code.
    code_key: bytes


def settings_from(config) -> OrderSettings:
    """The settings from the app's config (the run's options and ACCESS_CODE_KEY)."""
    return OrderSettings(RunOptions.from_config(config), config["ACCESS_CODE_KEY"])


def new_order(session: Session, actor: Actor, *, status: OrderStatus, **fields) -> ServiceOrder:
    """Store an order as requested (a resident) or confirmed (a clerk, an API client)."""
    order = ServiceOrder(status=status, requested_by=actor.label, reading_estimated=False, **fields)
    _check_fields(order)
    session.add(order)
    session.flush()
    record(
        session,
        actor,
        f"service_order.{status.value}",
        order,
        after={"kind": order.kind, "effective_on": order.effective_on},
    )
    return order


def _check_fields(order: ServiceOrder) -> None:
    """The fields each kind of order needs."""
    if order.kind in (OrderKind.STOP, OrderKind.TRANSFER) and order.account_id is None:
        raise OrderError(f"account: a {order.kind.value} names the account whose service stops")
    if order.kind == OrderKind.TRANSFER and order.new_location_id is None:
        raise OrderError("new_location: a transfer names the location the person moves to")
    if order.kind in (OrderKind.START, OrderKind.TRANSFER) and not (
        order.holder_name or order.new_account_id or order.account_id
    ):
        raise OrderError("holder_name: a start names the person service starts for")


def confirm(
    session: Session, actor: Actor, order: ServiceOrder, settings: OrderSettings, as_of: date
) -> ServiceOrder:
    """Carry out an order (a requested one is confirmed by a clerk)."""
    if order.status == OrderStatus.REFUSED or order.decided_at is not None:
        raise OrderError(f"order {order.id}: it was already {order.status.value}")
    if order.effective_on > as_of:
        raise OrderError(
            f"effective_on: the order is for {order.effective_on.isoformat()}; "
            "it can be carried out from that day"
        )
    try:
        if order.kind == OrderKind.START:
            _start(session, actor, order, order.location, settings, order.reading)
        elif order.kind == OrderKind.STOP:
            _stop(session, actor, order, settings, as_of)
        else:
            _stop(session, actor, order, settings, as_of)
            # NOTE: the order's reading is the old location's; the new one is read (or
            # estimated) on its own.
            _start(session, actor, order, order.new_location, settings, None)
    except (ResponsibilityError, FinalBillError) as error:
        raise OrderError(str(error)) from None
    order.status, order.decided_by, order.decided_at = OrderStatus.CONFIRMED, actor.label, utcnow()
    session.flush()
    record(
        session,
        actor,
        "service_order.carried_out",
        order,
        after={
            "kind": order.kind,
            "effective_on": order.effective_on,
            "final_invoice_id": order.final_invoice_id,
            "new_account_id": order.new_account_id,
        },
    )
    return order


def refuse(session: Session, actor: Actor, order: ServiceOrder, reason: str) -> ServiceOrder:
    """A clerk refuses a resident's request, with the reason (kept for staff)."""
    if order.status != OrderStatus.REQUESTED:
        raise OrderError(f"order {order.id}: it was already {order.status.value}")
    if not reason.strip():
        raise OrderError("reason: say why the request is refused")
    order.status, order.decided_by, order.decided_at = OrderStatus.REFUSED, actor.label, utcnow()
    order.refusal_reason = reason.strip()[:500]
    session.flush()
    record(session, actor, "service_order.refused", order, reason=order.refusal_reason)
    return order


def _start(
    session: Session,
    actor: Actor,
    order: ServiceOrder,
    location: ServiceLocation,
    settings: OrderSettings,
    reading: int | None,
) -> None:
    """Make the order's (new) account responsible for the location from the order's date."""
    place, on = f"location {location.address()}", order.effective_on
    now = current(session, location.id)
    if now is not None and now.starts_on == on and now.account_id == location.owner_account_id:
        now = None  # the vacancy would start that day: it never happens (hand_over)
    if now is not None and now.starts_on == on:
        raise OrderError(
            f"{place}: service already starts on {on.isoformat()} for account {now.account.number}"
        )
    if now is not None and now.account_id != location.owner_account_id:
        raise OrderError(
            f"{place}: account {now.account.number} has service since "
            f"{now.starts_on.isoformat()}; stop it first"
        )
    account = _account_for_start(session, actor, order, location, settings)
    if now is not None:
        # NOTE: the owner pays for the vacancy up to the day before the start.
        points = location_points(session, location.id)
        first = _first_unbilled(session, now.account_id, points, now.starts_on)
        _read_meters(session, points, on - timedelta(days=1), reading, actor)
        bill_last_days(
            session,
            actor,
            now.account,
            points,
            first_day=first,
            last_day=on - timedelta(days=1),
            options=settings.options,
            issue_date=on,
            final=False,
        )
    hand_over(session, location, account, on)
    location.occupant_name = account.holder_name
    order.new_account_id = account.id
    # NOTE: the deposit rules in force on the start date ask their deposit now: billed on the
    # first regular bill, or owed at the counter, the order flagged until a clerk takes it.
    ask_at_start(session, actor, order, account, location, settings.options.rounding)


def _account_for_start(
    session: Session,
    actor: Actor,
    order: ServiceOrder,
    location: ServiceLocation,
    settings: OrderSettings,
) -> Account:
    """The account named by the order, or a new one for the holder, mailed at the location."""
    named_id = order.new_account_id or (order.account_id if order.kind == OrderKind.START else None)
    if named_id is not None:
        account = session.get(Account, named_id)
        if account.status != AccountStatus.ACTIVE:
            raise OrderError(
                f"account: account {account.number} is {account.status.value}; "
                "service cannot start on it"
            )
        return account
    owner = location.owner_account
    account, _code = create_account(
        session,
        actor,
        {
            "holder_name": order.holder_name,
            "email": order.email,
            "mail_street": location.street,
            "mail_city": location.city,
            "mail_state": owner.mail_state,
            "mail_zip": location.zip,
        },
        code_key=settings.code_key,
    )
    return account


def _first_unbilled(session: Session, account_id: int, points: list, starts_on: date) -> date:
    """The first day of the account's responsibility its bills have not covered yet."""
    last = last_billed_day(session, account_id, [p.id for p in points])
    return max(starts_on, last + timedelta(days=1)) if last else starts_on


def _read_meters(
    session: Session, points: list, on: date, reading: int | None, actor: Actor
) -> bool:
    """Store the order's reading for the location's meter; True when one is stored or found."""
    metered = [p for p in points if p.meter_id]
    if reading is not None and len(metered) != 1:
        raise OrderError(
            f"reading: the location has {len(metered)} meters; record each one's reading on "
            f"{on.isoformat()} as a meter reading and leave this blank"
        )
    found = [record_reading(session, p, on, reading, actor.label) for p in metered]
    return all(value is not None for value in found)


def _stop(
    session: Session, actor: Actor, order: ServiceOrder, settings: OrderSettings, as_of: date
) -> None:
    """Bill the account's last days at the location, hand it to the owner, final the account."""
    location, account, on = order.location, order.account, order.effective_on
    place = f"location {location.address()}"
    now = current(session, location.id)
    if now is None or now.account_id != account.id:
        who = f"account {now.account.number}" if now else "no account"
        raise OrderError(f"{place}: account {account.number} has no service there ({who} has)")
    if account.id == location.owner_account_id:
        raise OrderError(
            f"{place}: account {account.number} owns it and pays while it is vacant; "
            "name the new owner before stopping service"
        )
    if on < now.starts_on:
        raise OrderError(
            f"effective_on: {on.isoformat()} is before the service started "
            f"({now.starts_on.isoformat()})"
        )
    points = location_points(session, location.id)
    last = last_billed_day(session, account.id, [p.id for p in points])
    if last is not None and on <= last:
        raise OrderError(
            f"effective_on: the stop on {on.isoformat()} is within the period already billed "
            f"(through {last.isoformat()}); void that bill first"
        )
    order.reading_estimated = not _read_meters(session, points, on, order.reading, actor)
    invoice = bill_last_days(
        session,
        actor,
        account,
        points,
        first_day=_first_unbilled(session, account.id, points, now.starts_on),
        last_day=on,
        options=settings.options,
        issue_date=as_of,
        final=True,
    )
    if invoice is not None:
        order.final_invoice_id = invoice.id
        # A deposit held is applied to the final bill at once; what is left is refunded by the
        # deposit rules' method (docs/deposits.md).
        apply_to_final_bill(session, actor, invoice.id, rounding=settings.options.rounding)
    hand_over(session, location, location.owner_account, on + timedelta(days=1))
    location.occupant_name = None
    if not open_locations(session, account.id):
        account.status = AccountStatus.CLOSED
        record(session, actor, "account.finaled", account, stopped_on=on)
        # NOTE: a deposit owed and neither billed nor taken secures nothing once service
        # stops: the final bill is due at once and owes no deposit (docs/deposits.md).
        drop_owed(session, actor, account.id, on, "service stopped before it was collected")
