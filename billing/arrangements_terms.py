"""The terms of a payment plan, on plain values: the schedule of installments, the town's rule
checks, and where a plan stands given what was paid toward it (docs/arrangements.md).

Pure module: no session, no Flask; an explicit `as_of` wherever a day matters. A refused plan
raises PlanError naming the field and the reason in words a resident or a clerk can read.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.money import format_cents, split_evenly, to_cents

#: The receivable groups a rule may let a plan include, with the words for them.
GROUP_WORDS = {"utility": "utility charges", "tax": "property tax", "other": "other charges"}


class PlanError(ValueError):
    """A plan that cannot be made as asked: `field` names what to change, `code` the reason
    (the portal words it in the resident's language with `params`)."""

    def __init__(self, field: str, message: str, code: str = "", **params: object) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Terms:
    """What a rule allows, as plain values (billing.models.PlanRule holds them)."""

    classes: tuple[str, ...]
    min_down_percent: Decimal
    min_down_cents: int
    max_installments: int
    max_included_cents: int | None
    grace_days: int


@dataclass(frozen=True)
class Installment:
    """One scheduled payment: number 0 is the down payment."""

    number: int
    due_date: date
    amount_cents: int


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def minimum_down(terms: Terms, included_cents: int) -> int:
    """The least down payment the rule asks on a balance: its percent or its amount, the larger."""
    by_percent = to_cents(Decimal(included_cents) * terms.min_down_percent / 100, "half_up")
    return min(included_cents, max(by_percent, terms.min_down_cents))


def even_schedule(
    included_cents: int, down_cents: int, count: int, start: date
) -> list[Installment]:
    """The down payment due on the start day, then `count` equal monthly installments from a
    month later (the leftover cents on the first ones)."""
    if count < 1:
        raise PlanError("installments", "A plan needs at least one installment.", "no_installments")
    amounts = split_evenly(included_cents - down_cents, count)
    return [Installment(0, start, down_cents)] + [
        Installment(n, add_months(start, n), amounts[n - 1]) for n in range(1, count + 1)
    ]


def check_terms(
    terms: Terms,
    *,
    owed_by_group: Mapping[str, int],
    asked_groups: Sequence[str],
    down_cents: int,
    schedule: Sequence[Installment],
) -> int:
    """Refuse a plan the rule does not allow (PlanError); return the included balance.

    `owed_by_group` is what the account owes past due in each group; `asked_groups` the groups
    the plan is asked to include.
    """
    excluded = [g for g in asked_groups if g not in terms.classes]
    if excluded:
        words = GROUP_WORDS.get(excluded[0], excluded[0])
        raise PlanError(
            "classes",
            f"The town's rules do not allow {words} in a payment plan.",
            "excluded",
            group=excluded[0],
        )
    included = sum(owed_by_group.get(g, 0) for g in asked_groups)
    if included <= 0:
        raise PlanError(
            "classes", "There is no past-due balance to include in a plan.", "nothing_due"
        )
    if terms.max_included_cents is not None and included > terms.max_included_cents:
        raise PlanError(
            "classes",
            f"A plan may include at most {format_cents(terms.max_included_cents)}; "
            f"the balance is {format_cents(included)}.",
            "over_most",
            most=format_cents(terms.max_included_cents),
            balance=format_cents(included),
        )
    least = minimum_down(terms, included)
    if down_cents < least:
        raise PlanError(
            "down_payment",
            f"The down payment must be at least {format_cents(least)}.",
            "down_too_small",
            least=format_cents(least),
        )
    if down_cents > included:
        raise PlanError(
            "down_payment", "The down payment is more than the balance.", "down_too_large"
        )
    _check_schedule(terms, included, down_cents, schedule)
    return included


def _check_schedule(
    terms: Terms, included: int, down_cents: int, schedule: Sequence[Installment]
) -> None:
    """Refuse a schedule that breaks the rule or does not add up to the included balance."""
    later = [i for i in schedule if i.number > 0]
    if not later:
        raise PlanError("installments", "A plan needs at least one installment.", "no_installments")
    if len(later) > terms.max_installments:
        raise PlanError(
            "installments",
            f"A plan may have at most {terms.max_installments} installments, not {len(later)}.",
            "too_many",
            most=terms.max_installments,
        )
    if any(i.amount_cents <= 0 for i in later):
        raise PlanError(
            "installments", "Every installment must be more than $0.00.", "installment_zero"
        )
    dates = [i.due_date for i in schedule]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise PlanError(
            "installments", "Installments must fall on different days, in order.", "out_of_order"
        )
    down = [i.amount_cents for i in schedule if i.number == 0]
    if down != [down_cents]:
        raise PlanError("down_payment", "The schedule must begin with the down payment.", "no_down")
    total = sum(i.amount_cents for i in schedule)
    if total != included:
        raise PlanError(
            "installments",
            f"The down payment and installments add up to {format_cents(total)}, "
            f"not the included balance of {format_cents(included)}.",
            "not_adding_up",
        )


@dataclass(frozen=True)
class Standing:
    """Where a plan stands on a day, given what was paid toward it."""

    as_of: date
    scheduled_cents: int
    paid_cents: int
    #: What was scheduled by the day and is not paid yet (the installment due now).
    due_now_cents: int
    #: The first installment not paid in full, or None when all are.
    next_unpaid: Installment | None
    #: The first installment unpaid past its grace days (the plan defaults), or None.
    missed: Installment | None

    @property
    def remaining_cents(self) -> int:
        """What of the schedule is still to pay."""
        return max(self.scheduled_cents - self.paid_cents, 0)

    @property
    def complete(self) -> bool:
        """Every scheduled cent was paid."""
        return self.remaining_cents == 0


def standing(
    schedule: Sequence[Installment], paid_cents: int, as_of: date, grace_days: int
) -> Standing:
    """Payments cover the installments in order; one unpaid after its due date plus the grace
    days is missed.

    NOTE: an installment is missed on the first day after its grace days end ("past the grace
    days"): due the 1st with 10 grace days, it is missed on the 12th if still unpaid.
    """
    covered, due_now, next_unpaid, missed = 0, 0, None, None
    for part in sorted(schedule, key=lambda i: i.number):
        covered += part.amount_cents
        if paid_cents >= covered:
            continue
        short = min(covered - paid_cents, part.amount_cents)
        if next_unpaid is None:
            next_unpaid = part
        if part.due_date <= as_of:
            due_now += short
        if missed is None and as_of > part.due_date + timedelta(days=grace_days):
            missed = part
    return Standing(
        as_of,
        sum(i.amount_cents for i in schedule),
        paid_cents,
        due_now,
        next_unpaid,
        missed,
    )
