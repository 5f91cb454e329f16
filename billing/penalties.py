"""Penalty and interest owed on one posted invoice as of a date.

Pure module: rules (billing.penalty_format), plain facts about one invoice and
an explicit as_of date in; every charge owed from the due date up to as_of out.
The list is stable: a later as_of returns the same earlier charges plus new
ones, so the service can store charges by (invoice, rule_id, period_key) and
post only those it has not stored yet. docs/penalties.md gives the rules.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from types import MappingProxyType

from billing.computed import RuleError
from billing.penalty_format import PenaltyRule, ScheduleStep, decimal_text
from core.money import DEFAULT_ROUNDING, ROUNDING_RULES, MoneyError, format_cents, to_cents

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

    @property
    def original_cents(self) -> int:
        """The invoice's principal as billed, all categories together."""
        return self.principal_balance_history[0][1]

    def balance_before(self, day: date) -> int:
        """The principal balance at the start of day: after the payments of the day before."""
        index = bisect_right(self._dates, day - timedelta(days=1)) - 1
        return self.principal_balance_history[max(index, 0)][1]


@dataclass(frozen=True)
class PenaltyCharge:
    """One penalty or interest charge owed; (rule_id, period_key) names it for good."""

    rule_id: str
    #: "once" for a one_time rule, else the month the delinquency period starts in ("2027-03").
    period_key: str
    #: "penalty" or "interest" (a LineCategory value).
    category: str
    amount_cents: int
    #: Words for the invoice and the notice.
    description: str
    #: The day the charge became due.
    assessed_on: date


def owed_as_of(
    rules: Iterable[PenaltyRule],
    invoice: InvoiceFacts,
    as_of: date,
    rounding: str = DEFAULT_ROUNDING,
) -> list[PenaltyCharge]:
    """Every charge owed on the invoice from its due date up to as_of, oldest first."""
    if rounding not in ROUNDING_RULES:
        raise MoneyError(f"unknown rounding rule {rounding!r}")
    _check_date(as_of, "as_of")
    ordered: list[tuple[date, int, int, PenaltyCharge]] = []
    seen: set[str] = set()
    with localcontext() as context:
        # NOTE: percent x cents x invoice total must stay exact until it is rounded once.
        context.prec = _PRECISION
        for position, rule in enumerate(rules):
            if rule.id in seen:
                raise RuleError(f"rules[{position}].id: {rule.id!r} is used twice")
            seen.add(rule.id)
            for index, charge in enumerate(_rule_charges(rule, invoice, as_of, rounding)):
                ordered.append((charge.assessed_on, position, index, charge))
    ordered.sort(key=lambda item: item[:3])
    return [item[3] for item in ordered]


def first_delinquent_day(rule: PenaltyRule, due_date: date) -> date:
    """The first day a rule can charge: the day after the due date and the grace days."""
    # NOTE: ordinances charge bills "not paid by the due date"; a payment on the
    # due date (or on the last grace day) is on time.
    return due_date + timedelta(days=rule.grace_days + 1)


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
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class _Basis:
    """One rule applied to one invoice: the principal it is charged on, its cap, the rounding.

    Amounts "scaled" here are cents times the invoice's total principal, so that
    a rule's share of the unpaid balance stays exact until it is rounded once.
    """

    rule: PenaltyRule
    invoice: InvoiceFacts
    #: Principal as billed in the rule's categories.
    billed: int
    cap: int | None
    rounding: str

    def unpaid(self, day: date) -> int:
        """The rule's share of the unpaid principal at the start of day, scaled."""
        # NOTE: a partial payment reduces every principal category in proportion;
        # which line a payment settles first is allocation's business, not ours.
        return self.invoice.balance_before(day) * self.billed

    def chargeable(self, unpaid: int) -> bool:
        """Whether anything is owed: unpaid principal, at least the minimum past due."""
        minimum = self.rule.minimum_past_due_cents
        return unpaid > 0 and (minimum is None or unpaid >= minimum * self.invoice.original_cents)

    def base(self, unpaid: int) -> int:
        """What a percentage is taken of, scaled: the unpaid principal or the billed one."""
        return unpaid if self.rule.base == "unpaid" else self.billed * self.invoice.original_cents

    def cents(self, scaled: Decimal | int) -> int:
        """A scaled amount rounded once, by the municipality's rule, to whole cents."""
        return to_cents(Decimal(scaled) / self.invoice.original_cents, self.rounding)

    def base_text(self, scaled: int) -> str:
        """The base for a description: '$1,234.56 unpaid'."""
        word = "unpaid" if self.rule.base == "unpaid" else "billed"
        return f"{format_cents(self.cents(scaled))} {word}"

    def limit(self, amount: int, charged: int) -> tuple[int, str]:
        """Raise the amount to the minimum charge, then hold the total to the cap."""
        note = ""
        minimum = self.rule.minimum_charge_cents
        if minimum is not None and amount < minimum:
            amount, note = minimum, " (minimum charge)"
        if self.cap is not None and charged + amount > self.cap:
            amount = max(self.cap - charged, 0)
            note = f" (limited to the cap of {format_cents(self.cap)})"
        return amount, note


def _rule_charges(
    rule: PenaltyRule, invoice: InvoiceFacts, as_of: date, rounding: str
) -> list[PenaltyCharge]:
    """The charges one rule makes on the invoice up to as_of."""
    if invoice.kind not in rule.applies_to.invoice_kinds:
        return []
    categories = rule.applies_to.categories
    billed = sum(invoice.principal_cents_by_category.get(name, 0) for name in categories)
    first_day = first_delinquent_day(rule, invoice.due_date)
    if billed <= 0 or as_of < first_day:
        return []
    basis = _Basis(rule, invoice, billed, _cap_cents(rule, billed, rounding), rounding)
    if rule.type == "one_time":
        return _one_time_charges(basis, first_day)
    return _periodic_charges(basis, first_day, as_of)


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


def _rate_amount(basis: _Basis, unpaid: int) -> tuple[int, str]:
    """A flat amount, or the percentage of the base; with words for the description."""
    rule = basis.rule
    if rule.percent is None:
        return rule.flat_cents or 0, ""
    base = basis.base(unpaid)
    amount = basis.cents(base * rule.percent / 100)
    return amount, f": {decimal_text(rule.percent)}% of {basis.base_text(base)}"


def _one_time_charges(basis: _Basis, first_day: date) -> list[PenaltyCharge]:
    """A one_time rule: one charge on the first delinquent day, if anything is past due."""
    # NOTE: the past-due balance is what is still unpaid at the end of the last
    # grace day; paying it by then avoids the charge entirely.
    unpaid = basis.unpaid(first_day)
    if not basis.chargeable(unpaid):
        return []
    amount, detail = _rate_amount(basis, unpaid)
    amount, note = basis.limit(amount, 0)
    if amount <= 0:
        return []
    rule = basis.rule
    description = f"{rule.description}{detail}{note}"
    return [PenaltyCharge(rule.id, ONCE, rule.charge_category, amount, description, first_day)]


@dataclass
class _Accrual:
    """The running totals of a periodic rule on one invoice."""

    #: The exact amount accrued so far (scaled, in percent-cents), never rounded.
    exact: Decimal = Decimal(0)
    #: `exact` rounded once to cents, as of the month before.
    rounded: int = 0
    #: What the rule has charged so far, after minimums and the cap.
    charged: int = 0

    def add(self, basis: _Basis, scaled_percent: Decimal) -> int:
        """Accrue this month's exact amount; return how much the rounded total grew."""
        self.exact += scaled_percent
        total = basis.cents(self.exact / 100)
        grown, self.rounded = total - self.rounded, total
        return grown


def _periodic_charges(basis: _Basis, first_day: date, as_of: date) -> list[PenaltyCharge]:
    """A schedule or monthly rule: a charge for each month or part of a month of delinquency."""
    rule = basis.rule
    last_month = rule.schedule[-1].month if rule.schedule else None
    accrual = _Accrual()
    charges: list[PenaltyCharge] = []
    for number, start in delinquency_months(first_day, rule.months or "calendar", as_of):
        if last_month is not None and number > last_month:
            break
        unpaid = basis.unpaid(start)
        if not basis.chargeable(unpaid):
            continue
        amount, detail = _month_amount(basis, accrual, number, unpaid)
        amount, note = basis.limit(amount, accrual.charged)
        if amount <= 0:
            if basis.cap is not None and accrual.charged >= basis.cap:
                break
            continue
        accrual.charged += amount
        label = _period_label(start, rule.months)
        description = f"{rule.description}, {label}{detail}{note}"
        charges.append(_period_charge(rule, start, amount, description))
    return charges


def _month_amount(basis: _Basis, accrual: _Accrual, number: int, unpaid: int) -> tuple[int, str]:
    """Month `number`'s amount before the minimum and the cap, and words for it."""
    rule = basis.rule
    if rule.type == "monthly" and rule.round != "cumulative":
        return _rate_amount(basis, unpaid)
    base = basis.base(unpaid)
    base_text = basis.base_text(base)
    if rule.type == "monthly":
        # NOTE: statutes state the total ("1% for each month", Tex. Tax Code §33.01(c));
        # the months are rounded together so that the total matches the tax office's.
        amount = accrual.add(basis, rule.percent * base)
        return (
            amount,
            f": {decimal_text(rule.percent)}% of {base_text} (rounded with the months before)",
        )
    # NOTE: a statutory grid states cumulative totals (Tex. Tax Code §33.01(a)): each
    # month charges the increase, so the charges add up to the total rounded once.
    reached = _cumulative_percent(rule.schedule, number)
    step = reached - _cumulative_percent(rule.schedule, number - 1)
    amount = accrual.add(basis, step * base)
    return amount, f": brings the total to {decimal_text(reached)}% of {base_text}"


def _cumulative_percent(schedule: Sequence[ScheduleStep], number: int) -> Decimal:
    """The percentage the grid has reached in month `number` (0 before its first step)."""
    reached = Decimal(0)
    for step in schedule:
        if step.month > number:
            break
        reached = step.percent
    return reached


def _period_charge(rule: PenaltyRule, start: date, amount: int, description: str) -> PenaltyCharge:
    """The charge for the delinquency month that starts on `start`."""
    key = f"{start.year:04d}-{start.month:02d}"
    return PenaltyCharge(rule.id, key, rule.charge_category, amount, description, start)


def _period_label(start: date, counting: str | None) -> str:
    """The month's name for a description: 'March 2027' or 'month from 2027-03-16'."""
    if counting == "from_due_date":
        return f"month from {start.isoformat()}"
    return f"{calendar.month_name[start.month]} {start.year}"


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
