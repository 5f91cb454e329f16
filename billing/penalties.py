"""Penalty and interest owed on one posted invoice as of a date.

Pure module: rules (billing.penalty_format), plain facts about one invoice and
an explicit as_of date in; every charge owed from the due date up to as_of out.
The list is stable: a later as_of returns the same earlier charges plus new
ones, so the service can store charges by (invoice, rule_id, period_key) and
post only those it has not stored yet. docs/penalties.md gives the rules.
"""

from __future__ import annotations

from bisect import bisect_right
from calendar import monthrange
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from types import MappingProxyType

from billing.computed import RuleError
from billing.penalty_basis import Accrual, Basis, PenaltyCharge, Phrase, descriptions
from billing.penalty_daily import daily_charges
from billing.penalty_format import PenaltyRule, ScheduleStep, decimal_text
from billing.penalty_tiers import parts_text, scaled_percent
from billing.words import DEFAULT_LANGUAGE
from billing.working_days import FEDERAL, WorkingCalendar
from core.money import DEFAULT_ROUNDING, ROUNDING_RULES, MoneyError, format_cents, to_cents

__all__ = ["InvoiceFacts", "PenaltyCharge", "first_delinquent_day", "owed_as_of"]

#: The period_key of a one_time rule's only charge.
ONCE = "once"
#: Decimal digits while computing: products stay exact, and one division by an
#: invoice total is far too precise to move a rounding to cents.
_PRECISION = 60


@dataclass(frozen=True)
class InvoiceFacts:
    """Plain facts about one posted invoice, checked and frozen on creation."""

    #: "utility" or "tax".
    kind: str
    due_date: date
    #: Principal owed per line category ("charge", "fee", "tax"), as billed.
    principal_cents_by_category: Mapping[str, int]
    #: (date, principal balance after that day's payments); the first item is (issue date, original principal).
    principal_balance_history: Sequence[tuple[date, int]]
    #: (date, penalties and interest paid in all after that day's payments), dates rising; empty
    #: when none were paid. Only the `unpaid_with_charges` base reads it.
    charge_payment_history: Sequence[tuple[date, int]] = ()
    #: (due date, principal balance history) of each of the account's other bills of the same
    #: kind: what the `account_past_due` base adds when they are past due.
    other_bills: Sequence[tuple[date, Sequence[tuple[date, int]]]] = ()
    _dates: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse facts that are not plain, consistent values; freeze copies of them."""
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError("InvoiceFacts.kind: must be a non-empty string such as 'utility'")
        _check_date(self.due_date, "InvoiceFacts.due_date")
        principal = _checked_principal(self.principal_cents_by_category)
        history = _checked_history(self.principal_balance_history, sum(principal.values()))
        object.__setattr__(self, "principal_cents_by_category", MappingProxyType(principal))
        object.__setattr__(self, "principal_balance_history", history)
        object.__setattr__(self, "_dates", tuple(day for day, _ in history))
        paid = tuple((day, cents) for day, cents in self.charge_payment_history)
        for index, (day, cents) in enumerate(paid):
            _check_date(day, f"InvoiceFacts.charge_payment_history[{index}]")
            if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
                raise ValueError(f"InvoiceFacts.charge_payment_history[{index}]: not cents")
            if index and day < paid[index - 1][0]:
                raise ValueError(
                    f"InvoiceFacts.charge_payment_history[{index}]: dates go backwards"
                )
        object.__setattr__(self, "charge_payment_history", paid)
        others = []
        for index, (due, bill) in enumerate(self.other_bills):
            place = f"InvoiceFacts.other_bills[{index}]"
            _check_date(due, place)
            if not bill:
                raise ValueError(f"{place}: must start with (issue date, original principal)")
            others.append((due, _checked_history(bill, bill[0][1])))
        object.__setattr__(self, "other_bills", tuple(others))

    @property
    def original_cents(self) -> int:
        """The invoice's principal as billed, all categories together."""
        return self.principal_balance_history[0][1]

    def balance_before(self, day: date) -> int:
        """The principal balance at the start of day: after the payments of the day before."""
        index = bisect_right(self._dates, day - timedelta(days=1)) - 1
        return self.principal_balance_history[max(index, 0)][1]

    def arrears_before(self, day: date) -> int:
        """The principal of the account's other bills past due on day, unpaid at its start."""
        owed = 0
        for due, bill in self.other_bills:
            if due < day:
                days = [when for when, _ in bill]
                index = bisect_right(days, day - timedelta(days=1)) - 1
                owed += bill[max(index, 0)][1]
        return owed

    def charges_paid_before(self, day: date) -> int:
        """Penalties and interest paid in all before day (by the end of the day before)."""
        paid = 0
        for when, cents in self.charge_payment_history:
            if when >= day:
                break
            paid = cents
        return paid


def owed_as_of(
    rules: Iterable[PenaltyRule],
    invoice: InvoiceFacts,
    as_of: date,
    rounding: str = DEFAULT_ROUNDING,
    *,
    calendar: WorkingCalendar = FEDERAL,
    window: tuple[date | None, date | None] = (None, None),
    prior: Sequence[PenaltyCharge] = (),
) -> list[PenaltyCharge]:
    """Every charge owed on the invoice from its due date up to as_of, oldest first.

    `window` (from, until) keeps the charges assessed from `from` and before `until` (and, for
    daily interest, the days in it): the part of the invoice's life a rule set's version
    charges. `prior` are charges made by earlier versions, for the bases that include them.
    """
    if rounding not in ROUNDING_RULES:
        raise MoneyError(f"unknown rounding rule {rounding!r}")
    _check_date(as_of, "as_of")
    ordered: list[tuple[date, int, int, PenaltyCharge]] = []
    made: list[PenaltyCharge] = list(prior)
    seen: set[str] = set()
    shared = _Context(invoice, as_of, rounding, calendar, window, made)
    with localcontext() as decimals:
        # NOTE: percent x cents x invoice total must stay exact until it is rounded once.
        decimals.prec = _PRECISION
        for position, rule in enumerate(rules):
            if rule.id in seen:
                raise RuleError(f"rules[{position}].id: {rule.id!r} is used twice")
            seen.add(rule.id)
            for index, charge in enumerate(_rule_charges(rule, shared)):
                ordered.append((charge.assessed_on, position, index, charge))
    ordered.sort(key=lambda item: item[:3])
    return [item[3] for item in ordered]


@dataclass(frozen=True)
class _Context:
    """What every rule of one assessment shares: the invoice, the date, the calendar, the window."""

    invoice: InvoiceFacts
    as_of: date
    rounding: str
    calendar: WorkingCalendar
    window: tuple[date | None, date | None]
    #: The charges made so far (earlier versions, earlier rules, this rule's earlier periods).
    made: list[PenaltyCharge]

    def in_window(self, day: date) -> bool:
        """Whether a charge assessed on day belongs to this assessment's window."""
        start, until = self.window
        return (start is None or day >= start) and (until is None or day < until)


def first_delinquent_day(
    rule: PenaltyRule, due_date: date, calendar: WorkingCalendar = FEDERAL
) -> date:
    """The first day a rule can charge: the day after the due date and the grace days."""
    # NOTE: ordinances charge bills "not paid by the due date"; a payment on the
    # due date (or on the last grace day) is on time.
    if "due_date" in rule.working_days:
        # NOTE: "if the due date falls on a weekend or holiday, payment is due the next
        # business day": the grace days count from the moved due date.
        due_date = calendar.next_working_day(due_date)
    grace_end = due_date + timedelta(days=rule.grace_days)
    if "grace_end" in rule.working_days:
        grace_end = calendar.next_working_day(grace_end)
    return grace_end + timedelta(days=1)


def delinquency_months(first_day: date, counting: str, as_of: date) -> Iterator[tuple[int, date]]:
    """(number, start) of each month of delinquency begun by as_of; month 1 starts on first_day."""
    number, start = 1, first_day
    while start <= as_of:
        yield number, start
        number += 1
        start = month_start(first_day, counting, number)


def month_start(first_day: date, counting: str, number: int) -> date:
    """The first day of month `number` of delinquency (month 1 starts on first_day)."""
    if number == 1:
        return first_day
    if counting == "calendar":
        # NOTE: "each month or portion of a month" (Tex. Tax Code §33.01(c), Wis. Stat.
        # §74.47): a calendar month counts whole from its 1st day.
        return _add_months(first_day.replace(day=1), number - 1)
    # NOTE: "1 1/2% per month or portion thereof" counted from the day after the due
    # date (35 ILCS 200/21-15): each month starts on the same day of the month.
    return _add_months(first_day, number - 1)


def _add_months(day: date, count: int) -> date:
    """The same day `count` months later, or the month's last day if it is shorter."""
    index = day.year * 12 + day.month - 1 + count
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _rule_charges(rule: PenaltyRule, context: _Context) -> list[PenaltyCharge]:
    """The charges one rule makes on the invoice up to as_of, within the window."""
    invoice = context.invoice
    if invoice.kind not in rule.applies_to.invoice_kinds:
        return []
    categories = rule.applies_to.categories
    billed = sum(invoice.principal_cents_by_category.get(name, 0) for name in categories)
    first_day = first_delinquent_day(rule, invoice.due_date, context.calendar)
    if billed <= 0 or context.as_of < first_day:
        return []
    cap = _cap_cents(rule, billed, context.rounding)
    basis = Basis(rule, invoice, billed, cap, context.rounding, context.made)
    if rule.type == "one_time":
        charges = _one_time_charges(basis, first_day)
        charges = [charge for charge in charges if context.in_window(charge.assessed_on)]
        context.made.extend(charges)
        return charges
    if rule.type == "daily":
        return daily_charges(basis, first_day, context.as_of, context.window)
    return _periodic_charges(basis, first_day, context)


def _cap_cents(rule: PenaltyRule, billed: int, rounding: str) -> int | None:
    """The most the rule may charge on this invoice, or None for no cap."""
    if rule.cap is None:
        return None
    limits = []
    if rule.cap.amount_cents is not None:
        limits.append(rule.cap.amount_cents)
    if rule.cap.percent is not None:
        limits.append(to_cents(rule.cap.percent * billed / 100, rounding))
    return min(limits)


def _rate_amount(basis: Basis, unpaid: int, day: date) -> tuple[int, Phrase | None]:
    """A flat amount, or the percentage of the base (plus a flat amount); with words for it."""
    rule = basis.rule
    if rule.percent is None and not rule.tiers:
        return rule.flat_cents or 0, None
    base = basis.base(unpaid, day)
    if rule.tiers:
        return _tiered_amount(basis, base)
    assert rule.percent is not None
    exact = base * rule.percent / 100
    fields = {"percent": decimal_text(rule.percent), "base": basis.base_text(base)}
    if rule.plus_flat_cents is not None:
        # NOTE: "$2.00 plus 1.5%, not less than $5.00": the sum is rounded once and the
        # minimum is held over both parts together.
        exact += rule.plus_flat_cents * basis.invoice.original_cents
        fields["flat"] = format_cents(rule.plus_flat_cents)
        return basis.cents(exact), ("penalty.plus_flat", fields)
    return basis.cents(exact), ("penalty.percent", fields)


def _tiered_amount(basis: Basis, base: int) -> tuple[int, Phrase]:
    """A rate by amount: each tier's part of the base at its rate, rounded once together."""
    # NOTE: "8% per annum on the first $1,500.00 ... and 18% ... on any amount in excess
    # of $1,500.00" (N.J.S.A. 54:4-67): the parts are summed exactly, then rounded once.
    rule, original = basis.rule, basis.invoice.original_cents
    exact = scaled_percent(rule.tiers, base, original) / 100
    fields: dict = {
        "parts": parts_text(rule.tiers, base, original, basis.cents),
        "base": basis.base_text(base),
    }
    if rule.plus_flat_cents is not None:
        exact += rule.plus_flat_cents * original
        fields["flat"] = format_cents(rule.plus_flat_cents)
        return basis.cents(exact), ("penalty.tiered_plus_flat", fields)
    return basis.cents(exact), ("penalty.tiered", fields)


def _one_time_charges(basis: Basis, first_day: date) -> list[PenaltyCharge]:
    """A one_time rule: one charge on the first delinquent day, if anything is past due."""
    # NOTE: the past-due balance is what is still unpaid at the end of the last
    # grace day; paying it by then avoids the charge entirely.
    unpaid = basis.unpaid(first_day)
    if not basis.chargeable(unpaid, first_day):
        return []
    amount, detail = _rate_amount(basis, unpaid, first_day)
    amount, note = basis.limit(amount, 0)
    if amount <= 0:
        return []
    rule = basis.rule
    texts = descriptions(rule, detail, note)
    return [
        PenaltyCharge(
            rule.id, ONCE, rule.charge_category, amount, texts[DEFAULT_LANGUAGE], first_day, texts
        )
    ]


def _periodic_charges(basis: Basis, first_day: date, context: _Context) -> list[PenaltyCharge]:
    """A schedule or monthly rule: a charge for each month or part of a month of delinquency."""
    rule = basis.rule
    last_month = rule.schedule[-1].month if rule.schedule else None
    origin = first_day
    if rule.interest_from == "due_date":
        # NOTE: "if not paid within the grace period, interest is due from the due date":
        # paid in the grace period, nothing; missed, the months from the due date count.
        if not basis.chargeable(basis.unpaid(first_day), first_day):
            return []
        origin = basis.invoice.due_date + timedelta(days=1)
    accrual = Accrual()
    charges: list[PenaltyCharge] = []
    for number, start in delinquency_months(origin, rule.months or "calendar", context.as_of):
        if last_month is not None and number > last_month:
            break
        assessed = max(start, first_day)
        unpaid = basis.unpaid(start)
        if not basis.chargeable(unpaid, start):
            continue
        amount, detail = _month_amount(basis, accrual, number, unpaid, start)
        if not context.in_window(assessed):
            continue
        amount, note = basis.limit(amount, accrual.charged)
        if amount <= 0:
            if basis.cap is not None and accrual.charged >= basis.cap:
                break
            continue
        accrual.charged += amount
        texts = descriptions(
            rule, ("penalty.period", {"label": _period_label(start, rule.months)}), detail, note
        )
        charges.append(_period_charge(rule, start, assessed, amount, texts))
        context.made.append(charges[-1])
    return charges


def _month_amount(
    basis: Basis, accrual: Accrual, number: int, unpaid: int, start: date
) -> tuple[int, Phrase | None]:
    """Month `number`'s amount before the minimum and the cap, and words for it."""
    rule = basis.rule
    if rule.type == "monthly" and rule.round != "cumulative":
        return _rate_amount(basis, unpaid, start)
    base = basis.base(unpaid, start)
    base_text = basis.base_text(base)
    if rule.type == "monthly" and rule.tiers:
        original = basis.invoice.original_cents
        amount = accrual.add(basis, scaled_percent(rule.tiers, base, original))
        parts = parts_text(rule.tiers, base, original, basis.cents)
        return amount, ("penalty.tiered_cumulative", {"parts": parts, "base": base_text})
    if rule.type == "monthly":
        assert rule.percent is not None
        # NOTE: statutes state the total ("1% for each month", Tex. Tax Code §33.01(c));
        # the months are rounded together so that the total matches the tax office's.
        amount = accrual.add(basis, rule.percent * base)
        return amount, (
            "penalty.cumulative",
            {"percent": decimal_text(rule.percent), "base": base_text},
        )
    # NOTE: a statutory grid states cumulative totals (Tex. Tax Code §33.01(a)): each
    # month charges the increase, so the charges add up to the total rounded once.
    reached = _cumulative_percent(rule.schedule, number)
    step = reached - _cumulative_percent(rule.schedule, number - 1)
    amount = accrual.add(basis, step * base)
    return amount, ("penalty.schedule", {"percent": decimal_text(reached), "base": base_text})


def _cumulative_percent(schedule: Sequence[ScheduleStep], number: int) -> Decimal:
    """The percentage the grid has reached in month `number` (0 before its first step)."""
    reached = Decimal(0)
    for step in schedule:
        if step.month > number:
            break
        reached = step.percent
    return reached


def _period_charge(
    rule: PenaltyRule, start: date, assessed: date, amount: int, texts: dict[str, str]
) -> PenaltyCharge:
    """The charge for the delinquency month that starts on `start`, due on `assessed`."""
    key = f"{start.year:04d}-{start.month:02d}"
    description = texts[DEFAULT_LANGUAGE]
    return PenaltyCharge(rule.id, key, rule.charge_category, amount, description, assessed, texts)


def _period_label(start: date, counting: str | None) -> Phrase:
    """The month's name for a description: 'March 2027' or 'month from 2027-03-16'."""
    if counting == "from_due_date":
        return ("penalty.month_from", {"day": start.isoformat()})
    return ("penalty.month", {"month": start.month, "year": start.year})


def _check_date(value: object, place: str) -> None:
    """Refuse anything that is not a plain date (a datetime is not one)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{place}: must be a date")


def _checked_principal(principal: Mapping[str, int]) -> dict[str, int]:
    """The principal per category as a new dict of non-negative int cents."""
    if not isinstance(principal, Mapping):
        raise ValueError("InvoiceFacts.principal_cents_by_category: must be a mapping")
    checked = dict(principal)
    for category, cents in checked.items():
        if not isinstance(category, str) or isinstance(cents, bool) or not isinstance(cents, int):
            raise ValueError(f"InvoiceFacts.principal_cents_by_category[{category!r}]: not cents")
        if cents < 0:
            raise ValueError(f"InvoiceFacts.principal_cents_by_category[{category!r}]: negative")
    return checked


def _checked_history(history: Sequence[tuple[date, int]], original: int) -> tuple:
    """The balance history as a tuple, dates in order, balances from 0 to the original."""
    checked = tuple((day, balance) for day, balance in history)
    place = "InvoiceFacts.principal_balance_history"
    if not checked:
        raise ValueError(f"{place}: must start with (issue date, original principal)")
    if checked[0][1] != original:
        raise ValueError(f"{place}[0]: must be the original principal, {original} cents")
    for index, (day, balance) in enumerate(checked):
        _check_date(day, f"{place}[{index}]")
        if isinstance(balance, bool) or not isinstance(balance, int):
            raise ValueError(f"{place}[{index}]: the balance must be int cents")
        if not 0 <= balance <= original:
            raise ValueError(f"{place}[{index}]: the balance must be from 0 to {original} cents")
        if index and day < checked[index - 1][0]:
            raise ValueError(f"{place}[{index}]: dates must not go backwards")
    return checked
