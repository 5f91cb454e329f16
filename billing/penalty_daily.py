"""Daily interest at an annual rate, charged month by month (docs/penalties.md, "daily").

Pure module, called by billing.penalties for rules of type `daily`. Each day from the first
delinquent day (or from the day after the due date, with `interest_from: due_date`, once the
grace period is missed) bears annual_percent / 365 (or / 360) of what is unpaid at the start
of that day. The days of a calendar month are charged together, on the month's last day; the
running total is rounded once, so the charges always add up to the exact interest rounded.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from billing.penalty_basis import Accrual, Basis, PenaltyCharge, Phrase, descriptions
from billing.penalty_format import RateTier, decimal_text
from billing.penalty_tiers import in_a_list, range_text, split
from billing.words import DEFAULT_LANGUAGE
from core.money import format_cents

#: Days in a year for each day count.
YEAR_DAYS = {"actual_365": 365, "actual_360": 360}


def daily_charges(
    basis: Basis, first_day: date, as_of: date, window: tuple[date | None, date | None]
) -> list[PenaltyCharge]:
    """A daily rule's charges: one per calendar month (or part of one in the window)."""
    rule = basis.rule
    origin = first_day
    if rule.interest_from == "due_date":
        # NOTE: "if not paid within the grace period, interest from the due date": a bill
        # paid in the grace period owes none; one that is not owes it for the grace days too.
        if not basis.chargeable(basis.unpaid(first_day), first_day):
            return []
        origin = basis.invoice.due_date + timedelta(days=1)
    start, until = window
    if start is not None and start > origin:
        origin = start
    accrual = Accrual()
    charges: list[PenaltyCharge] = []
    for first, last in _periods(origin, until, as_of):
        assessed = max(last, first_day)
        if assessed > as_of:
            break
        days, scaled, by_tier = _accrue(basis, first, last)
        if not days:
            continue
        amount = accrual.add(basis, scaled)
        amount, note = basis.limit(amount, accrual.charged)
        if amount <= 0:
            if basis.cap is not None and accrual.charged >= basis.cap:
                break
            continue
        accrual.charged += amount
        when = {"days": days, "first": first.isoformat(), "last": last.isoformat()}
        if rule.tiers:
            detail = ("penalty.daily_tiered", {"parts": _tier_parts(basis, by_tier), **when})
        else:
            detail = ("penalty.daily", {"percent": decimal_text(rule.annual_percent), **when})
        texts = descriptions(rule, detail, note)
        charge = PenaltyCharge(
            rule.id,
            first.isoformat(),
            rule.charge_category,
            amount,
            texts[DEFAULT_LANGUAGE],
            assessed,
            texts,
        )
        charges.append(charge)
        basis.earlier.append(charge)
    return charges


def _periods(origin: date, until: date | None, as_of: date) -> Iterator[tuple[date, date]]:
    """(first, last) day of each calendar month from origin, cut at the window's end."""
    first = origin
    while first <= as_of and (until is None or first < until):
        last = first.replace(day=monthrange(first.year, first.month)[1])
        if until is not None and last >= until:
            last = until - timedelta(days=1)
        yield first, last
        first = last + timedelta(days=1)


def _accrue(basis: Basis, first: date, last: date) -> tuple[int, Decimal, dict[RateTier, Decimal]]:
    """The days from first to last that bear interest, their interest (scaled, percent) and,
    for a rate by amount, each tier's share of it."""
    rule = basis.rule
    year = YEAR_DAYS[rule.day_count or "actual_365"]
    original = basis.invoice.original_cents
    days, scaled = 0, Decimal(0)
    by_tier: dict[RateTier, Decimal] = {}
    day = first
    while day <= last:
        unpaid = basis.unpaid(day)
        if basis.chargeable(unpaid, day):
            days += 1
            base = basis.base(unpaid, day)
            if rule.tiers:
                # NOTE: N.J.S.A. 54:4-67: each day's balance is split at $1,500.00, each
                # part at its own rate; the parts are summed exactly and rounded once.
                for tier, part in split(rule.tiers, base, original):
                    share = tier.percent * part / year
                    by_tier[tier] = by_tier.get(tier, Decimal(0)) + share
                    scaled += share
            else:
                assert rule.annual_percent is not None
                scaled += Decimal(base) * rule.annual_percent / year
        day += timedelta(days=1)
    return days, scaled, by_tier


def _tier_parts(basis: Basis, by_tier: dict[RateTier, Decimal]) -> Phrase:
    """Each tier's interest for the period, for the words: '$9.86 at 8% a year up to ...'."""
    tiers = basis.rule.tiers
    return in_a_list(
        [
            (
                "penalty.daily_tier",
                {
                    "amount": format_cents(basis.cents(share / 100)),
                    "percent": decimal_text(tier.percent),
                    "range": range_text(tiers, tier),
                },
            )
            for tier in tiers
            if (share := by_tier.get(tier, Decimal(0))) > 0
        ]
    )
