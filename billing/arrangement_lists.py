"""Lists of payment plans for the clerks and the dashboard: plans by status with where each
stands, and the balance under current plans (docs/arrangements.md, "Clerks and the dashboard").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing.arrangements import current_on, paid_toward, schedule_of
from billing.arrangements_terms import Standing, standing
from billing.models import PaymentPlan, PlanStatus

LIMIT = 200


@dataclass(frozen=True)
class PlanRow:
    """One plan on the clerks' list, with where it stands on the day."""

    plan: PaymentPlan
    now: Standing


def plans_by_status(session: Session, status: PlanStatus | None, as_of: date) -> list[PlanRow]:
    """The latest plans of a status (or all), newest first, with their standing."""
    query = (
        sa.select(PaymentPlan)
        .options(
            selectinload(PaymentPlan.installments),
            selectinload(PaymentPlan.rule),
            selectinload(PaymentPlan.account),
        )
        .order_by(PaymentPlan.id.desc())
        .limit(LIMIT)
    )
    if status is not None:
        query = query.where(PaymentPlan.status == status)
    plans = session.scalars(query).all()
    paid = paid_toward(session, plans, as_of)
    return [
        PlanRow(p, standing(schedule_of(p), paid[p.id], as_of, p.rule.grace_days)) for p in plans
    ]


def status_counts(session: Session) -> dict[PlanStatus, int]:
    """How many plans are in each status."""
    rows = session.execute(
        sa.select(PaymentPlan.status, sa.func.count()).group_by(PaymentPlan.status)
    ).all()
    counts = dict.fromkeys(PlanStatus, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


@dataclass(frozen=True)
class UnderPlan:
    """The town's balance under current plans on a day."""

    plans: int
    remaining_cents: int
    due_now_cents: int


def balances_under_plan(session: Session, as_of: date) -> UnderPlan:
    """What the plans current on the day still schedule, and what of it is due then (the
    dashboard's figure)."""
    plans = session.scalars(
        sa.select(PaymentPlan)
        .where(*current_on(as_of))
        .options(selectinload(PaymentPlan.installments), selectinload(PaymentPlan.rule))
    ).all()
    paid = paid_toward(session, plans, as_of)
    remaining = due_now = 0
    for plan in plans:
        now = standing(schedule_of(plan), paid[plan.id], as_of, plan.rule.grace_days)
        remaining += now.remaining_cents
        due_now += now.due_now_cents
    return UnderPlan(len(plans), remaining, due_now)
