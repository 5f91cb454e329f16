"""Payment arrangements against the database: the rule in force, proposing, accepting and
cancelling a plan, what was paid toward it, and the daily review that completes or defaults
plans (docs/arrangements.md).

A plan schedules a balance already owed; it posts nothing. What was paid toward it is what
settled its included invoices once it was made (payments, credits, adjustments, less what
was taken back), so every page reads the same figure. Services flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.arrangements_terms import (
    Installment,
    PlanError,
    Standing,
    Terms,
    add_months,
    check_terms,
    even_schedule,
    standing,
)
from billing.models import (
    Invoice,
    InvoiceStatus,
    PaymentPlan,
    PlanInstallment,
    PlanInvoice,
    PlanRule,
    PlanStatus,
    Settlement,
)
from billing.models.invoices import REOPENING
from billing.models.plans import OPEN_STATUSES
from billing.position import account_position, group_of
from billing.reconnection import reconnect_cleared
from core.audit import Actor, record

OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


def rule_on(session: Session, day: date) -> PlanRule | None:
    """The version of the plan rules in force on a day (the newest loaded wins a tie)."""
    return session.scalar(
        sa.select(PlanRule)
        .where(PlanRule.effective <= day)
        .order_by(PlanRule.effective.desc(), PlanRule.id.desc())
        .limit(1)
    )


def terms_of(rule: PlanRule) -> Terms:
    """A rule row as the pure module's terms."""
    return Terms(
        tuple(rule.classes),
        rule.min_down_percent,
        rule.min_down_cents,
        rule.max_installments,
        rule.max_included_cents,
        rule.grace_days,
    )


def open_plan(session: Session, account_id: int) -> PaymentPlan | None:
    """The account's plan in force or waiting for acceptance, if any."""
    return session.scalar(
        sa.select(PaymentPlan).where(
            PaymentPlan.account_id == account_id, PaymentPlan.status.in_(OPEN_STATUSES)
        )
    )


def past_due_invoices(
    session: Session, account_id: int, as_of: date
) -> dict[str, list[tuple[Invoice, int]]]:
    """The account's past-due invoices and what each owes (with its charges), by group."""
    position = account_position(session, account_id, as_of)
    invoices = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.account_id == account_id,
            Invoice.status.in_(OWING),
            Invoice.due_date < as_of,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    found: dict[str, list[tuple[Invoice, int]]] = defaultdict(list)
    for invoice in invoices:
        owed = position.by_invoice.get(invoice.id, 0)
        if owed > 0:
            found[group_of(invoice)[0]].append((invoice, owed))
    return dict(found)


@dataclass(frozen=True)
class PlanRequest:
    """What a clerk or a resident asks: the groups to include, the down payment and either a
    number of equal installments or each installment's amount (clerks)."""

    groups: tuple[str, ...]
    down_cents: int
    count: int | None = None
    amounts: tuple[int, ...] | None = None


def propose_plan(
    session: Session,
    actor: Actor,
    account: Account,
    request: PlanRequest,
    *,
    as_of: date,
    via: str,
) -> PaymentPlan:
    """Make a plan within the rule in force, waiting for acceptance; PlanError says why not."""
    if open_plan(session, account.id) is not None:
        raise PlanError("account", "This account already has a payment plan.", "already")
    rule = rule_on(session, as_of)
    if rule is None:
        raise PlanError("account", "The town offers no payment plans yet.", "no_rules")
    if via == "resident" and not rule.residents_may_request:
        raise PlanError(
            "account", "Please call or visit the town office to set up a plan.", "counter_only"
        )
    found = past_due_invoices(session, account.id, as_of)
    owed = {group: sum(cents for _i, cents in rows) for group, rows in found.items()}
    schedule = _schedule(owed, request, as_of)
    included = check_terms(
        terms_of(rule),
        owed_by_group=owed,
        asked_groups=request.groups,
        down_cents=request.down_cents,
        schedule=schedule,
    )
    plan = PaymentPlan(
        account_id=account.id,
        rule_id=rule.id,
        status=PlanStatus.PROPOSED,
        classes=list(request.groups),
        included_cents=included,
        down_payment_cents=request.down_cents,
        start_date=as_of,
        requested_via=via,
        created_by=actor.label,
        installments=[
            PlanInstallment(number=i.number, due_date=i.due_date, amount_cents=i.amount_cents)
            for i in schedule
        ],
        invoices=[
            PlanInvoice(invoice_id=invoice.id, owed_cents=cents)
            for group in request.groups
            for invoice, cents in found.get(group, [])
        ],
    )
    session.add(plan)
    session.flush()
    record(
        session,
        actor,
        "plan.proposed",
        plan,
        account=account.number,
        via=via,
        included_cents=included,
        down_cents=request.down_cents,
        installments=len(schedule) - 1,
    )
    return plan


def _schedule(owed: dict[str, int], request: PlanRequest, as_of: date) -> list[Installment]:
    """The schedule asked for: equal installments, or the clerk's amounts a month apart."""
    included = sum(owed.get(g, 0) for g in request.groups)
    if request.amounts is not None:
        return [Installment(0, as_of, request.down_cents)] + [
            Installment(n, add_months(as_of, n), cents)
            for n, cents in enumerate(request.amounts, start=1)
        ]
    if included <= 0 or request.down_cents > included:
        # check_terms gives the reason; an empty schedule never passes it.
        return [Installment(0, as_of, request.down_cents)]
    return even_schedule(included, request.down_cents, request.count or 0, as_of)


def accept_plan(
    session: Session, actor: Actor, plan: PaymentPlan, *, how: str, on: date, at: datetime
) -> None:
    """The resident accepted online ("online") or signed before a clerk ("counter")."""
    if plan.status != PlanStatus.PROPOSED:
        raise PlanError("plan", "This plan is not waiting for acceptance.", "not_proposed")
    plan.status, plan.accepted_on, plan.accepted_how, plan.accepted_at = (
        PlanStatus.CURRENT,
        on,
        how,
        at,
    )
    session.flush()
    record(session, actor, "plan.accepted", plan, how=how, on=on.isoformat())
    # SB 998: service shut off comes back under an alternative arrangement for its arrears.
    reconnect_cleared(session, actor, [plan.account_id], how="plan")


def cancel_plan(
    session: Session, actor: Actor, plan: PaymentPlan, *, on: date, reason: str
) -> None:
    """Withdraw a proposed or current plan; collection of its balance resumes from the day."""
    if plan.status not in OPEN_STATUSES:
        raise PlanError("plan", "Only a proposed or current plan can be cancelled.")
    if not reason.strip():
        raise PlanError("reason", "Give the reason for cancelling the plan.")
    plan.status, plan.ended_on = PlanStatus.CANCELLED, on
    session.flush()
    record(session, actor, "plan.cancelled", plan, reason=reason.strip()[:300])


def paid_toward(session: Session, plans: Sequence[PaymentPlan], as_of: date) -> dict[int, int]:
    """What settled each plan's included invoices after it was made, dated up to the day."""
    paid: dict[int, int] = {plan.id: 0 for plan in plans}
    if not plans:
        return paid
    signed = sa.case(
        (Settlement.kind.in_(REOPENING), -Settlement.amount_cents), else_=Settlement.amount_cents
    )
    rows = session.execute(
        sa.select(PlanInvoice.plan_id, sa.func.coalesce(sa.func.sum(signed), 0))
        .join(Settlement, Settlement.invoice_id == PlanInvoice.invoice_id)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .where(
            PlanInvoice.plan_id.in_([p.id for p in plans]),
            # NOTE: what settled before the plan was made is already out of its balance
            # (included_cents), even on its start day; what is recorded after counts, whatever
            # day it is dated (a lockbox payment dated earlier still pays the plan).
            Settlement.created_at >= PaymentPlan.created_at,
            Settlement.settled_on <= as_of,
        )
        .group_by(PlanInvoice.plan_id)
    )
    for plan_id, cents in rows:
        paid[plan_id] = max(int(cents), 0)
    return paid


def schedule_of(plan: PaymentPlan) -> list[Installment]:
    """A stored plan's schedule as plain values."""
    return [Installment(i.number, i.due_date, i.amount_cents) for i in plan.installments]


def plan_standing(session: Session, plan: PaymentPlan, as_of: date) -> Standing:
    """Where a plan stands on a day: paid, due now, the next installment, any missed one."""
    paid = paid_toward(session, [plan], as_of)[plan.id]
    return standing(schedule_of(plan), paid, as_of, plan.rule.grace_days)


def installments_owing(
    session: Session, plan: PaymentPlan, as_of: date
) -> list[tuple[Installment, int]]:
    """Each installment due by the day with what of it is still unpaid (payments cover the
    installments in order), for autopay to charge on its due date."""
    paid = paid_toward(session, [plan], as_of)[plan.id]
    covered, owing = 0, []
    for part in sorted(schedule_of(plan), key=lambda i: i.number):
        covered += part.amount_cents
        short = min(max(covered - paid, 0), part.amount_cents)
        if part.due_date <= as_of and short > 0:
            owing.append((part, short))
    return owing


def current_plans(session: Session, account_ids: Iterable[int], as_of: date) -> list[PaymentPlan]:
    """The plans current on the day of some accounts, with their installments and invoices."""
    wanted = list(account_ids)
    if not wanted:
        return []
    return list(
        session.scalars(
            sa.select(PaymentPlan)
            .where(PaymentPlan.account_id.in_(wanted), *current_on(as_of))
            .options(
                selectinload(PaymentPlan.installments),
                selectinload(PaymentPlan.invoices),
                selectinload(PaymentPlan.rule),
            )
        )
    )


def is_under_current_plan(
    session: Session, account_id: int, as_of: date, invoice_id: int | None = None
) -> bool:
    """Whether the account (or one invoice of it) was under a current plan on the day.

    What shutoff, penalties and reminders ask before acting on a balance (docs/arrangements.md).
    """
    query = sa.select(PaymentPlan.id).where(
        PaymentPlan.account_id == account_id, *current_on(as_of)
    )
    if invoice_id is not None:
        query = query.join(PlanInvoice).where(PlanInvoice.invoice_id == invoice_id)
    return session.scalar(query.limit(1)) is not None


def current_on(as_of: date) -> tuple:
    """The conditions of a plan accepted by the day and not ended by it."""
    return (
        PaymentPlan.accepted_on.is_not(None),
        PaymentPlan.accepted_on <= as_of,
        sa.or_(PaymentPlan.ended_on.is_(None), PaymentPlan.ended_on > as_of),
    )


#: A span of days an invoice was under a current plan: [first day, end) (end None: still is).
Window = tuple[date, date | None]


def paused_windows(
    session: Session, invoice_ids: Iterable[int], what: str
) -> dict[int, list[Window]]:
    """For each invoice, the spans in which a plan with a rule pausing `what` ("penalties" or
    "reminders") was current."""
    column = {"penalties": PlanRule.pause_penalties, "reminders": PlanRule.pause_reminders}[what]
    wanted = list(invoice_ids)
    windows: dict[int, list[Window]] = defaultdict(list)
    if not wanted:
        return windows
    rows = session.execute(
        sa.select(PlanInvoice.invoice_id, PaymentPlan.accepted_on, PaymentPlan.ended_on)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .join(PlanRule, PlanRule.id == PaymentPlan.rule_id)
        .where(PlanInvoice.invoice_id.in_(wanted), PaymentPlan.accepted_on.is_not(None), column)
    )
    for invoice_id, first, end in rows:
        windows[invoice_id].append((first, end))
    return windows


def within(windows: Iterable[Window], day: date) -> bool:
    """Whether a day falls in one of the spans."""
    return any(first <= day and (end is None or day < end) for first, end in windows)


@dataclass
class Review:
    """What one daily review did."""

    completed: list[int]
    defaulted: list[int]
    lapsed: list[int]

    def counts(self) -> dict:
        return {
            "completed": len(self.completed),
            "defaulted": len(self.defaulted),
            "lapsed": len(self.lapsed),
        }


def review_plans(session: Session, actor: Actor, as_of: date) -> Review:
    """Complete the plans paid in full, default those with an installment missed past the grace
    days, and cancel proposals whose down payment fell late unaccepted. Running it again for
    the same day changes nothing."""
    review = Review([], [], [])
    plans = session.scalars(
        sa.select(PaymentPlan)
        .where(PaymentPlan.status.in_(OPEN_STATUSES), PaymentPlan.start_date <= as_of)
        .options(selectinload(PaymentPlan.installments), selectinload(PaymentPlan.rule))
        .order_by(PaymentPlan.id)
    ).all()
    paid = paid_toward(session, plans, as_of)
    for plan in plans:
        now = standing(schedule_of(plan), paid[plan.id], as_of, plan.rule.grace_days)
        if plan.status == PlanStatus.PROPOSED:
            if now.missed is not None:
                plan.status, plan.ended_on = PlanStatus.CANCELLED, as_of
                review.lapsed.append(plan.id)
                record(session, actor, "plan.lapsed", plan)
        elif now.complete:
            plan.status, plan.ended_on = PlanStatus.COMPLETED, as_of
            review.completed.append(plan.id)
            record(session, actor, "plan.completed", plan)
        elif now.missed is not None:
            plan.status, plan.ended_on = PlanStatus.DEFAULTED, as_of
            plan.missed_installment = now.missed.number
            review.defaulted.append(plan.id)
            record(
                session,
                actor,
                "plan.defaulted",
                plan,
                missed=now.missed.number,
                remaining_cents=now.remaining_cents,
            )
    session.flush()
    return review
