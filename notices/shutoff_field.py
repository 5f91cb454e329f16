"""Utility shutoff in the field: the 48-hour notice (a door hanger left at the service address),
the shutoff work orders for the crews and their cancellation when an account paid or became
ineligible before the crew went out (docs/shutoff.md, "In the field"). The results the crews
bring back are entered by notices.shutoff_results.

Every step asks notices.shutoff_eligibility again on its own day: an account that paid, entered
a plan or got a medical certificate since the shutoff notice gets no hanger and no order. One
hanger per account and delinquency, one order per attempt (unique keys): a crew that could not
shut off (no access, a dog, out of time; not a payment at the door) leaves the delinquency to a
new attempt from the next day. Services flush; the daily jobs
commit account by account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Account, ServicePoint
from billing.closed_days import town_working_calendar
from billing.medical_certificates import ShutoffError
from billing.models import (
    BillingCycle,
    DoorHanger,
    Invoice,
    NotDoneReason,
    OrderState,
    ShutoffOrder,
)
from billing.shutoff_rules import earliest_shutoff, no_shutoff_because, shutoff_rule_on
from billing.working_days import WorkingCalendar
from core.audit import Actor, record
from core.db import utcnow
from core.numbering import next_number
from notices.bill_recipients import service_address
from notices.mail_delivery import Mailer
from notices.models import ShutoffNotice
from notices.shutoff_eligibility import Eligibility, shutoff_eligibility
from notices.shutoff_hanger_delivery import deliver_door_hanger


class FieldError(ShutoffError):
    """A field step refused with the reason; nothing was changed."""


def calendar_of(session: Session, config: Mapping) -> WorkingCalendar:
    """The town's working calendar (weekends, holidays, closed days)."""
    return town_working_calendar(session, config.get("MUNICIPALITY_STATE", ""))


def route_of(session: Session, account: Account) -> str:
    """The account's route: the code of its billing cycle ("default" for the town's)."""
    if account.billing_cycle_id is None:
        return "default"
    return session.get(BillingCycle, account.billing_cycle_id).code


def place_of(session: Session, account: Account, invoice: Invoice) -> tuple[str, str | None]:
    """The service address (one line) and the meter the crew turns, for the delinquency."""
    where = service_address(session, invoice)
    address = ", ".join(where.lines) if where else account.mail_street
    meter = session.scalar(
        sa.select(ServicePoint.meter_id)
        .where(ServicePoint.account_id == account.id, ServicePoint.meter_id.is_not(None))
        .order_by(ServicePoint.id)
        .limit(1)
    )
    return address, meter


def hanger_days(hours: int) -> int:
    """Whole days a door hanger must precede the shutoff (48 hours: 2 days)."""
    return -(-hours // 24)


@dataclass
class Outcome:
    """What one run of a daily field step did (or, dry, would do)."""

    done: int = 0
    excluded: int = 0
    already: int = 0
    cancelled: int = 0
    #: Door hangers also texted / e-mailed to the account (the resident's choice).
    texted: int = 0
    emailed: int = 0
    #: Account number -> why it got nothing (for the clerk's list).
    reasons: dict[str, str] = field(default_factory=dict)

    def counts(self, verb: str) -> dict:
        return {
            verb: self.done,
            "excluded": self.excluded,
            "already": self.already,
            "cancelled": self.cancelled,
        }


def _why_not(found: Eligibility, invoice_id: int, *, shutoff: bool) -> str | None:
    """Why a delinquency gets no hanger or order today, or None."""
    if found.reasons:
        return "; ".join(found.reasons)
    if found.delinquency_invoice_id != invoice_id:
        return "the delinquency that was noticed is paid"
    if shutoff and found.not_today:
        return f"no shutoffs on {found.on.isoformat()}: {found.not_today}"
    if shutoff and found.held:
        # NOTE: a denied appeal's or the tenants' lead time holds the order, not the hanger.
        return "; ".join(found.held)
    return None


def hang_door_hanger(
    session: Session, config: Mapping, actor: Actor, notice: ShutoffNotice, on: date
) -> DoorHanger:
    """Record the door hanger of a noticed delinquency for the day (eligibility asked again);
    FieldError with the reasons. Flushes."""
    calendar = calendar_of(session, config)
    account = session.get(Account, notice.account_id)
    found = shutoff_eligibility(session, account, on, calendar=calendar)
    why = _why_not(found, notice.invoice_id, shutoff=False)
    if why:
        raise FieldError(f"no door hanger for account {account.number}: {why}")
    rule = shutoff_rule_on(session, on)
    earliest = on + timedelta(days=hanger_days(rule.final_notice_hours))
    if found.shutoff_not_before is not None:
        earliest = max(earliest, found.shutoff_not_before)
    invoice = session.get(Invoice, notice.invoice_id)
    address, _ = place_of(session, account, invoice)
    hanger = DoorHanger(
        account_id=account.id,
        invoice_id=invoice.id,
        hung_on=on,
        # NOTE: no lead time left to count: the first day from then that allows a shutoff.
        shutoff_on=earliest_shutoff(
            calendar, rule.moratoria, max(earliest, notice.earliest_shutoff_on), 0
        ),
        amount_cents=found.past_due_cents,
        route=route_of(session, account),
        service_address=address[:300],
        language=account.language.value,
        created_by=actor.label,
    )
    session.add(hanger)
    session.flush()
    record(
        session,
        actor,
        "door_hanger.issue",
        hanger,
        account=account.number,
        amount_cents=hanger.amount_cents,
        shutoff_on=hanger.shutoff_on.isoformat(),
    )
    return hanger


def hang_door_hangers(
    session: Session,
    config: Mapping,
    actor: Actor,
    *,
    as_of: date,
    dry_run: bool = False,
    mailer: Mailer | None = None,
) -> Outcome:
    """The day's door hangers: every noticed delinquency whose shutoff comes within the rule's
    final-notice hours and that has none yet, asked again; each committed on its own, then
    texted and e-mailed where the resident chose them."""
    outcome = Outcome()
    rule = shutoff_rule_on(session, as_of)
    if rule is None:
        return outcome
    horizon = as_of + timedelta(days=hanger_days(rule.final_notice_hours))
    notices = session.scalars(
        sa.select(ShutoffNotice)
        .outerjoin(
            DoorHanger,
            sa.and_(
                DoorHanger.account_id == ShutoffNotice.account_id,
                DoorHanger.invoice_id == ShutoffNotice.invoice_id,
            ),
        )
        .where(ShutoffNotice.earliest_shutoff_on <= horizon, DoorHanger.id.is_(None))
        .order_by(ShutoffNotice.id)
    ).all()
    for notice in notices:
        try:
            hanger = hang_door_hanger(session, config, actor, notice, as_of)
        except FieldError as error:
            session.rollback()
            outcome.excluded += 1
            outcome.reasons[str(notice.account_id)] = str(error)
            continue
        except IntegrityError:
            session.rollback()
            outcome.already += 1
            continue
        outcome.done += 1
        if dry_run:
            session.rollback()
            continue
        session.commit()
        delivered = deliver_door_hanger(session, config, actor, hanger, mailer=mailer)
        outcome.texted += int(delivered.texted)
        outcome.emailed += int(delivered.emailed)
    return outcome


def door_hangers_on(session: Session, day: date) -> list[DoorHanger]:
    """The door hangers of a day, by route and service address (the crew's walk)."""
    return list(
        session.scalars(
            sa.select(DoorHanger)
            .where(DoorHanger.hung_on == day)
            .order_by(DoorHanger.route, DoorHanger.service_address, DoorHanger.id)
        )
    )


def issue_work_order(
    session: Session, config: Mapping, actor: Actor, hanger: DoorHanger, on: date
) -> ShutoffOrder:
    """Issue the shutoff work order of a delinquency whose door hanger's time has passed, for
    the day: refused with the reason when the account may not be shut off that day, the
    hanger's shutoff date has not come, or an order was issued already. Flushes."""
    account = session.get(Account, hanger.account_id)
    if on < hanger.shutoff_on:
        raise FieldError(
            f"no shutoff order for account {account.number} before {hanger.shutoff_on} "
            f"(the door hanger's date)"
        )
    earlier = session.scalar(
        sa.select(ShutoffOrder)
        .where(ShutoffOrder.account_id == account.id, ShutoffOrder.invoice_id == hanger.invoice_id)
        .order_by(ShutoffOrder.attempt.desc())
        .limit(1)
    )
    if earlier is not None and not may_try_again(earlier, on):
        raise FieldError(
            f"shutoff order {earlier.number} was already issued for this delinquency of "
            f"account {account.number}"
            + (
                f" on {earlier.work_on}: a new attempt from the next day"
                if may_try_again(earlier, earlier.work_on + timedelta(days=1))
                else ""
            )
        )
    attempt = 1 if earlier is None else earlier.attempt + 1
    found = shutoff_eligibility(session, account, on, calendar=calendar_of(session, config))
    why = _why_not(found, hanger.invoice_id, shutoff=True)
    if why:
        raise FieldError(f"no shutoff order for account {account.number}: {why}")
    address, meter = place_of(session, account, session.get(Invoice, hanger.invoice_id))
    order = ShutoffOrder(
        number=f"SO-{on.year}-{next_number(session, 'shutoff_order', on.year):06d}",
        account_id=account.id,
        invoice_id=hanger.invoice_id,
        work_on=on,
        route=hanger.route,
        service_address=address[:300],
        meter_id=meter,
        amount_cents=found.past_due_cents,
        state=OrderState.ISSUED,
        issued_by=actor.label,
        attempt=attempt,
    )
    session.add(order)
    session.flush()
    record(
        session,
        actor,
        "shutoff_order.issue",
        order,
        number=order.number,
        account=account.number,
        amount_cents=order.amount_cents,
        work_on=on.isoformat(),
        attempt=attempt,
        after=earlier.number if earlier is not None else None,
    )
    return order


def may_try_again(order: ShutoffOrder, on: date) -> bool:
    """Whether the delinquency of an order the crew could not carry out (no access, a dog, out
    of time, a medical emergency, other; not a payment at the door) gets a new attempt on the
    day: from the day after the order's."""
    return (
        order.state == OrderState.NOT_SHUT_OFF
        and order.not_done_reason != NotDoneReason.PAID_AT_DOOR
        and order.work_on < on
    )


def issue_work_orders(
    session: Session, config: Mapping, actor: Actor, *, as_of: date, dry_run: bool = False
) -> Outcome:
    """The day's shutoff orders: every delinquency whose door hanger's date has come and that
    has no order, asked again; refused as a whole on a day with no shutoffs. Cancels first the
    orders still open whose account paid or became ineligible."""
    rule = shutoff_rule_on(session, as_of)
    why = no_shutoff_because(calendar_of(session, config), rule.moratoria if rule else [], as_of)
    if why:
        raise FieldError(f"no shutoffs on {as_of.isoformat()}: {why}")
    outcome = Outcome(
        cancelled=0 if dry_run else cancel_stale_orders(session, config, actor, as_of)
    )
    # An order blocks another for its delinquency unless the crew could not shut off (for a
    # reason other than a payment at the door) on an earlier day.
    blocking = (
        sa.select(ShutoffOrder.id)
        .where(
            ShutoffOrder.account_id == DoorHanger.account_id,
            ShutoffOrder.invoice_id == DoorHanger.invoice_id,
            sa.or_(
                ShutoffOrder.state != OrderState.NOT_SHUT_OFF,
                ShutoffOrder.not_done_reason == NotDoneReason.PAID_AT_DOOR,
                ShutoffOrder.work_on >= as_of,
            ),
        )
        .exists()
    )
    hangers = session.scalars(
        sa.select(DoorHanger)
        .where(DoorHanger.shutoff_on <= as_of, ~blocking)
        .order_by(DoorHanger.route, DoorHanger.service_address, DoorHanger.id)
    ).all()
    for hanger in hangers:
        try:
            issue_work_order(session, config, actor, hanger, as_of)
        except FieldError as error:
            session.rollback()
            outcome.excluded += 1
            outcome.reasons[str(hanger.account_id)] = str(error)
            continue
        except IntegrityError:
            session.rollback()
            outcome.already += 1
            continue
        outcome.done += 1
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return outcome


def cancel_stale_orders(session: Session, config: Mapping, actor: Actor, on: date) -> int:
    """Cancel, with the reason, each issued order whose account paid or became ineligible
    since it was issued (asked on the day); commits. How many were cancelled."""
    calendar = calendar_of(session, config)
    cancelled = 0
    for order in session.scalars(
        sa.select(ShutoffOrder)
        .where(ShutoffOrder.state == OrderState.ISSUED)
        .order_by(ShutoffOrder.id)
    ).all():
        found = shutoff_eligibility(session, order.account, on, calendar=calendar)
        why = _why_not(found, order.invoice_id, shutoff=False)
        if why is None:
            continue
        cancel_order(session, actor, order, why)
        session.commit()
        cancelled += 1
    return cancelled


def cancel_order(session: Session, actor: Actor, order: ShutoffOrder, reason: str) -> None:
    """Cancel an issued order with the reason (shown on re-printed lists). Flushes."""
    if order.state != OrderState.ISSUED:
        raise FieldError(f"shutoff order {order.number} is {order.state.value}, not issued")
    order.state, order.cancelled_at, order.note = OrderState.CANCELLED, utcnow(), reason[:500]
    session.flush()
    record(session, actor, "shutoff_order.cancel", order, number=order.number, reason=reason)


def orders_on(session: Session, day: date) -> list[ShutoffOrder]:
    """The shutoff orders of a day (cancelled ones too, marked so), by route and address."""
    return list(
        session.scalars(
            sa.select(ShutoffOrder)
            .where(ShutoffOrder.work_on == day)
            .order_by(ShutoffOrder.route, ShutoffOrder.service_address, ShutoffOrder.id)
        )
    )
