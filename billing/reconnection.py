"""Reconnection: the fee a shutoff rule charges when a crew shuts the service off, the
reconnection order made as soon as the amount that stops the shutoff is paid, its completion,
and whether an account's service is off now (docs/shutoff.md, "Reconnection").

NOTE: the fee is charged at the shutoff, not at the reconnection: it goes on the delinquency's
bill as its own charge (category fee, Dr 1190 / Cr 4540), so the amount that turns the service
back on (every utility bill that was past due on the shutoff day, with that charge) is known
and printed before the resident pays, and a payment that clears it reconnects at once.

`reconnect_paid` is called once by payments.services.write_settled for every batch of
settled payments (the webhook, the counter, the lockbox import, by day or by night): one query
finds the batch's shut-off accounts that no longer owe what was past due at the shutoff, and
their reconnection orders are written in the settlement's own transaction. Bills cleared
without a payment reconnect the same way (`reconnect_cleared`): a credit memo, a waiver or a
void (billing.adjustments) and a payment plan accepted for them (billing.arrangements).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from billing.invoices import refresh_status
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceKind,
    InvoiceStatus,
    LineCategory,
    OrderState,
    PaymentPlan,
    PlanInvoice,
    PlanStatus,
    ReconnectionOrder,
    ShutoffOrder,
    ShutoffRule,
)
from core.audit import Actor, record, record_many
from core.db import among, bulk_insert, utcnow
from core.numbering import reserve_numbers
from ledger import chart
from ledger.posting import Posting, post_entry

#: The rule id of a reconnection fee charge (billing.invoice_charge.rule_id).
FEE_RULE = "reconnection_fee"
FEE_WORDS = {"en": "Reconnection fee", "es": "Cargo por reconexión"}
OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class ReconnectionError(ValueError):
    """A reconnection step refused; nothing was changed."""


def charge_reconnection_fee(
    session: Session, actor: Actor, order: ShutoffOrder, rule: ShutoffRule | None, on: date
) -> int | None:
    """Charge the rule's reconnection fee on the delinquency's bill (its own charge, Dr 1190 /
    Cr 4540); the charge's id, or None when the rule charges none. Flushes."""
    cents = rule.reconnection_fee_cents if rule is not None else 0
    if cents <= 0:
        return None
    invoice = session.get(Invoice, order.invoice_id)
    charge = InvoiceCharge(
        invoice_id=invoice.id,
        installment_number=0,
        rule_id=FEE_RULE,
        period_key=f"order-{order.id}",
        category=LineCategory.FEE,
        description=FEE_WORDS["en"],
        descriptions=dict(FEE_WORDS),
        amount_cents=cents,
        balance_cents=cents,
        assessed_on=on,
        booked_on=on,
    )
    session.add(charge)
    session.flush()
    refresh_status(session, invoice)
    post_entry(
        session,
        [
            Posting(chart.PENALTY_RECEIVABLE, debit_cents=cents, account_id=order.account_id),
            Posting(chart.RECONNECTION_FEES, credit_cents=cents),
        ],
        entry_date=on,
        source_type="reconnection_fee",
        source_id=str(charge.id),
        actor=actor,
        memo=f"Reconnection fee (charge {charge.id}) for shutoff order {order.number} "
        f"on invoice {invoice.number}",
    )
    record(session, actor, "charge.reconnection_fee", charge, order=order.number, cents=cents)
    return charge.id


def _still_owing():
    """Whether a utility bill past due on the shutoff day is still owed (principal or charge)
    and not under a current payment plan (an alternative arrangement restores the service)."""
    owed = aliased(Invoice)
    planned = (
        sa.select(PlanInvoice.invoice_id)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .where(PlanInvoice.invoice_id == owed.id, PaymentPlan.status == PlanStatus.CURRENT)
        .exists()
    )
    return (
        sa.select(owed.id)
        .where(
            owed.account_id == ShutoffOrder.account_id,
            owed.kind == InvoiceKind.UTILITY,
            owed.status.in_(OWING),
            owed.due_date < ShutoffOrder.work_on,
            ~planned,
        )
        .exists()
    )


def reconnect_cleared(
    session: Session, actor: Actor, account_ids: Iterable[int], *, how: str
) -> list[int]:
    """Make the reconnection order of each shut-off account whose past-due bills were just
    cleared without a payment (`how`: "credit_memo", "waiver", "void", "plan"), in the caller's
    transaction; the moment is now. The new orders' shutoff order ids. Flushes."""
    now = utcnow()
    return reconnect_paid(session, actor, dict.fromkeys(account_ids, now), how=how)


def reconnect_paid(
    session: Session, actor: Actor, paid_at: Mapping[int, datetime], *, how: str = "payment"
) -> list[int]:
    """Make the reconnection order of each account of a settled batch (account id -> the moment
    of its payment, or of what else cleared the bills: `how`) whose service is off and which no
    longer owes what was past due on the shutoff day (a current plan that includes a bill counts
    as clearing it); one query for the whole batch. The new orders' shutoff order ids. Flushes."""
    if not paid_at:
        return []
    session.flush()
    due = session.execute(
        sa.select(ShutoffOrder.id, ShutoffOrder.account_id, ShutoffOrder.number)
        .outerjoin(ReconnectionOrder, ReconnectionOrder.shutoff_order_id == ShutoffOrder.id)
        .where(
            among(session, ShutoffOrder.account_id, list(paid_at)),
            ShutoffOrder.state == OrderState.SHUT_OFF,
            ReconnectionOrder.id.is_(None),
            ~_still_owing(),
        )
        .order_by(ShutoffOrder.id)
    ).all()
    if not due:
        return []
    now = utcnow()
    numbers = reserve_numbers(session, "reconnection_order", now.year, len(due))
    rows = [
        {
            "number": f"RC-{now.year}-{number:06d}",
            "shutoff_order_id": order_id,
            "account_id": account_id,
            "paid_at": paid_at[account_id],
            "created_by": actor.label,
            "created_at": now,
        }
        for number, (order_id, account_id, _) in zip(numbers, due, strict=True)
    ]
    bulk_insert(session, ReconnectionOrder.__table__, rows)
    record_many(
        session,
        actor,
        "reconnection_order.create",
        "ShutoffOrder",
        {
            order_id: {
                "account_id": account_id,
                "shutoff_order": number,
                "paid_at": paid_at[account_id],
                "how": how,
            }
            for order_id, account_id, number in due
        },
    )
    return [order_id for order_id, _, _ in due]


def complete_reconnection(
    session: Session,
    actor: Actor,
    order: ReconnectionOrder,
    *,
    at: datetime,
    meter_reading: int | None = None,
) -> ReconnectionOrder:
    """Record that the crew turned the service back on; a second entry is refused. Flushes."""
    if order.reconnected_at is not None:
        raise ReconnectionError(
            f"reconnection order {order.number} was already completed at "
            f"{order.reconnected_at:%Y-%m-%d %H:%M} UTC"
        )
    if meter_reading is not None and meter_reading < 0:
        raise ReconnectionError("meter_reading: must not be negative")
    order.reconnected_at, order.reconnected_by = at, actor.label
    order.meter_reading = meter_reading
    session.flush()
    record(
        session,
        actor,
        "reconnection_order.complete",
        order,
        at=at.isoformat(),
        meter_reading=meter_reading,
    )
    return order


def service_shut_off(session: Session, account_id: int) -> ShutoffOrder | None:
    """The shutoff order whose service is still off for the account (shut off and not yet
    reconnected by the crew), or None."""
    return session.scalar(
        sa.select(ShutoffOrder)
        .outerjoin(ReconnectionOrder, ReconnectionOrder.shutoff_order_id == ShutoffOrder.id)
        .where(
            ShutoffOrder.account_id == account_id,
            ShutoffOrder.state == OrderState.SHUT_OFF,
            ReconnectionOrder.reconnected_at.is_(None),
        )
        .order_by(ShutoffOrder.id.desc())
        .limit(1)
    )


def reconnection_orders(session: Session, *, open_only: bool = True) -> list[ReconnectionOrder]:
    """The reconnection orders, by route and address (the crew's order); open ones only unless
    asked."""
    query = sa.select(ReconnectionOrder).join(ShutoffOrder)
    if open_only:
        query = query.where(ReconnectionOrder.reconnected_at.is_(None))
    return list(
        session.scalars(
            query.order_by(ShutoffOrder.route, ShutoffOrder.service_address, ReconnectionOrder.id)
        )
    )
