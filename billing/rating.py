"""The rating engine: a rate plan and one billing period's facts in, invoice lines out.

Pure module: plain values in, plain values out, no clock, no database. The version in force
on the last day of the billing period prices the period; a version that says so prorates a
partial period by days and splits a period at a rate change (docs/rates.md, "Periods and
proration"). Each line is rounded once by the municipality's rule; the bill's total is the
sum of its rounded lines. The components added for seasons, choices, credits, attributes
and winter averaging are rated in billing.rating_more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from billing.computed import BilledPeriod, ComputedLine, RuleError
from billing.rate_plan_format import parse_unit
from billing.rate_plan_spec import (
    UNITS,
    Allowance,
    Block,
    BlockCharge,
    ChoiceCharge,
    Component,
    Credit,
    FixedCharge,
    MaximumCharge,
    MinimumCharge,
    PerUnitCharge,
    RatePlanSpec,
    RateVersionSpec,
    UniformCharge,
    UsageAboveCharge,
    plain_number,
)
from billing.rating_base import (
    ONE,
    ZERO,
    Bill,
    T,
    Texts,
    adjustment,
    priced,
    say_around,
    step_usage,
    symbol,
    usage_ids,
    usage_of,
)
from billing.rating_more import (
    Part,
    bill_parts,
    choice_lines,
    credit_lines,
    labelled,
    per_unit_lines,
    split_usage,
    winter_billed,
)
from billing.words import in_languages, say
from core.money import ROUNDING_RULES, dollars_to_cents, format_cents


def version_in_force(plan: RatePlanSpec, period_end: date) -> RateVersionSpec:
    """The version in force on the last day of the billing period."""
    in_force = [v for v in plan.versions if v.effective_from <= period_end]
    if not in_force:
        raise RuleError(
            f"rate plan {plan.code}: no version is in force on {period_end} "
            f"(the first takes effect on {plan.versions[0].effective_from})"
        )
    return in_force[-1]


def convert_usage(plan: RatePlanSpec, usage: Decimal, usage_unit: str) -> Decimal:
    """Usage in the plan's unit: exact within a family, across families by a declared conversion."""
    source, target = parse_unit(usage_unit, "usage_unit"), plan.unit
    numerator, denominator = UNITS[source][1], UNITS[target][1]
    if UNITS[source][0] != UNITS[target][0]:
        across, back = _family_factor(plan, source, target)
        numerator, denominator = numerator * across, denominator * back
    # NOTE: one division, last, so a conversion that comes out even (5,236 gallons at
    # 748 gallons per CCF is 7 CCF) is exact, not 6.9999...
    return usage * numerator / denominator


def _family_factor(plan: RatePlanSpec, source: str, target: str) -> tuple[Decimal, Decimal]:
    """(numerator, denominator): the target family's smallest units in one of the source's."""
    families = (UNITS[source][0], UNITS[target][0])
    for conversion in plan.conversions:
        unit_family, other_family = UNITS[conversion.unit][0], UNITS[conversion.other_unit][0]
        # NOTE: 1 unit = amount other_unit, so one smallest unit of the unit's family is
        # amount * size(other_unit) / size(unit) smallest units of the other family.
        across = conversion.amount * UNITS[conversion.other_unit][1]
        back = UNITS[conversion.unit][1]
        if (unit_family, other_family) == families:
            return across, back
        if (other_family, unit_family) == families:
            return back, across
    raise RuleError(
        f"rate plan {plan.code}: usage in {UNITS[source][2]} cannot be converted to the plan's "
        f"unit {UNITS[target][2]}; the plan must declare a conversion, e.g. HCF: 748 gallons"
    )


def rate_bill(
    plan: RatePlanSpec,
    *,
    period_end: date,
    usage: Decimal | None,
    usage_unit: str | None,
    meter_size: str | None,
    dwelling_units: int,
    rounding: str = "half_up",
    period: BilledPeriod | None = None,
    attributes: Mapping[str, Decimal] | None = None,
    flags: Iterable[str] = (),
    winter_average: Decimal | None = None,
) -> list[ComputedLine]:
    """The lines of one service point's bill for one billing period, each rounded once.

    `period` gives the days billed and the cycle's regular period (None: one whole period of
    the plan's frequency ending `period_end`); `attributes` the service point's attributes;
    `flags` the account's flags; `winter_average` the point's stored winter average in the
    plan's unit (None: none stored yet, the plan's default applies).
    """
    _check_inputs(dwelling_units, rounding)
    end = period_end if period is None else period.end
    version = version_in_force(plan, end)
    billed = _billed_usage(plan, version, usage, usage_unit)
    billed, lines = winter_billed(plan, version, end, billed, winter_average)
    parts = bill_parts(plan, version, period, end)
    facts = (meter_size, dwelling_units, rounding, dict(attributes or {}), frozenset(flags))
    for part, share in zip(parts, split_usage(billed, parts, version), strict=True):
        lines += labelled(_rate_components(_part_bill(plan, part, share, *facts)), part)
    return lines


def _check_inputs(dwelling_units: int, rounding: str) -> None:
    """Dwelling units are a whole number of at least 1; the rounding rule is known."""
    if (
        isinstance(dwelling_units, bool)
        or not isinstance(dwelling_units, int)
        or dwelling_units < 1
    ):
        raise RuleError(
            f"dwelling_units must be a whole number of at least 1, not {dwelling_units!r}"
        )
    if rounding not in ROUNDING_RULES:
        raise RuleError(
            f"unknown rounding rule {rounding!r} (use one of: {', '.join(ROUNDING_RULES)})"
        )


def _part_bill(
    plan: RatePlanSpec,
    part: Part,
    usage: Decimal | None,
    meter_size: str | None,
    dwelling_units: int,
    rounding: str,
    attributes: dict[str, Decimal],
    flags: frozenset[str],
) -> Bill:
    """The bill of one part of the period: its version's components of the season, its factors."""
    month = part.end.month
    active = tuple(c for c in part.version.components if not c.months or month in c.months)
    return Bill(
        plan,
        part.version,
        usage,
        meter_size,
        dwelling_units,
        rounding,
        active,
        part.fixed_factor,
        part.allowance_factor,
        part.block_factor,
        attributes,
        flags,
    )


def _rate_components(bill: Bill) -> list[ComputedLine]:
    """Rate the components of one part: charges, then choices, maximums, minimums, credits."""
    lines: dict[str, list[ComputedLine]] = {}
    later = (MinimumCharge, MaximumCharge, ChoiceCharge, Credit)
    for component in bill.components:
        if not isinstance(component, later):
            lines[component.id] = _RATERS[type(component)](component, bill)
    for component in bill.components:
        if isinstance(component, ChoiceCharge):
            lines[component.id] = choice_lines(component, bill, lines)
    for component in bill.components:
        if isinstance(component, MaximumCharge):
            lines[component.id] = _maximum_lines(component, bill, lines)
    for component in bill.components:
        if isinstance(component, MinimumCharge):
            lines[component.id] = _minimum_lines(component, bill, lines)
    for component in bill.components:
        if isinstance(component, Credit):
            lines[component.id] = credit_lines(component, bill, lines)
    return [line for component in bill.components for line in lines[component.id]]


def billed_usage(
    plan: RatePlanSpec, period_end: date, usage: Decimal, usage_unit: str
) -> Decimal | None:
    """The usage a bill ending `period_end` bills: converted to the plan's unit and stepped."""
    return _billed_usage(plan, version_in_force(plan, period_end), usage, usage_unit)


def _billed_usage(
    plan: RatePlanSpec, version: RateVersionSpec, usage: Decimal | None, usage_unit: str | None
) -> Decimal | None:
    """Usage converted to the plan's unit and rounded to the version's usage step."""
    if usage is None:
        return None
    if isinstance(usage, bool) or not isinstance(usage, Decimal | int):
        raise RuleError(f"usage must be a Decimal, not {type(usage).__name__}")
    usage = Decimal(usage)
    if not usage.is_finite() or usage < 0:
        raise RuleError(f"usage cannot be negative ({usage}); settle a meter roll-over first")
    if not version.bills_usage:
        return None
    if usage_unit is None:
        raise RuleError(f"rate plan {plan.code}: usage {usage} was given without its unit")
    return step_usage(convert_usage(plan, usage, usage_unit), version)


def _for_meter_size(component: Component, table: tuple[tuple[str, T], ...], bill: Bill) -> T:
    """The entry of a by-meter-size table for this bill's meter."""
    sizes = ", ".join(size for size, _ in table)
    if bill.meter_size is None:
        raise RuleError(
            f"{bill.where}: component {component.id!r} is priced by meter size ({sizes}), "
            "but no meter size was given"
        )
    for size, entry in table:
        if size == bill.meter_size.strip():
            return entry
    raise RuleError(
        f"{bill.where}: component {component.id!r} has no rate for meter size "
        f"{bill.meter_size!r} (it has {sizes})"
    )


def _fixed_lines(charge: FixedCharge, bill: Bill) -> list[ComputedLine]:
    """One line: the amount per period, or per dwelling unit per period."""
    descriptions = in_languages(charge.description, charge.translations)
    rate = charge.amount
    if rate is None:
        rate = _for_meter_size(charge, charge.by_meter_size, bill)
        descriptions = say_around(charge, "line.meter", size=bill.meter_size.strip())  # type: ignore[union-attr]
    if charge.per_dwelling_unit:
        quantity, units = Decimal(bill.dwelling_units), say("unit.dwelling")
    else:
        quantity, units = ONE, say(f"unit.{bill.version.frequency}")
    quantity *= bill.fixed_factor
    return [priced(bill, charge, descriptions, quantity, units, rate)]


def _allowance_lines(allowance: Allowance, bill: Bill) -> list[ComputedLine]:
    """One line at zero: the usage the base charge includes."""
    usage, included = usage_of(allowance, bill), bill.included
    descriptions = say_around(
        allowance, "line.first", included=plain_number(included), symbol=symbol(bill)
    )
    return [priced(bill, allowance, descriptions, min(usage, included), bill.usage_unit, ZERO)]


def _block_lines(charge: BlockCharge, bill: Bill) -> list[ComputedLine]:
    """One line per block that holds billed usage; adjacent blocks at one rate make one line."""
    usage, included = usage_of(charge, bill), bill.included
    blocks = charge.blocks or _for_meter_size(charge, charge.by_meter_size, bill)
    ranges = _merged_ranges(blocks, bill.scale(charge.per_dwelling_unit) * bill.block_factor)
    billed = [(max(low, included), high, rate) for low, high, rate in ranges]
    billed = [(low, high, rate) for low, high, rate in billed if high is None or high > low]
    lines = []
    for low, high, rate in billed:
        quantity = max((usage if high is None else min(usage, high)) - low, ZERO)
        if quantity > 0 or (not lines and (high is None or usage <= high)):
            descriptions = _range_description(charge, low, high, bill)
            lines.append(priced(bill, charge, descriptions, quantity, bill.usage_unit, rate))
    return lines


def _merged_ranges(
    blocks: tuple[Block, ...], scale: Decimal
) -> list[tuple[Decimal, Decimal | None, Decimal]]:
    """(from, to, rate) per run of blocks at one rate, boundaries scaled."""
    ranges: list[tuple[Decimal, Decimal | None, Decimal]] = []
    low = ZERO
    for block in blocks:
        high = None if block.up_to is None else block.up_to * scale
        if ranges and ranges[-1][2] == block.rate:
            low = ranges.pop()[0]
        ranges.append((low, high, block.rate))
        low = high if high is not None else low
    return ranges


def _range_description(charge: Component, low: Decimal, high: Decimal | None, bill: Bill) -> Texts:
    """'Water usage (2–50 kgal)', 'Water usage (over 500 kgal)' or just 'Water usage'."""
    unit = symbol(bill)
    if high is not None:
        return say_around(
            charge, "line.range", low=plain_number(low), high=plain_number(high), symbol=unit
        )
    if low > 0:
        return say_around(charge, "line.over", low=plain_number(low), symbol=unit)
    return in_languages(charge.description, charge.translations)


def _usage_above_lines(charge: UsageAboveCharge, bill: Bill) -> list[ComputedLine]:
    """One line: usage above the threshold (and above any allowance)."""
    usage = usage_of(charge, bill)
    threshold = charge.threshold * bill.scale(charge.per_dwelling_unit) * bill.block_factor
    start = max(threshold, bill.included)
    descriptions = _range_description(charge, start, None, bill)
    quantity = max(usage - start, ZERO)
    return [priced(bill, charge, descriptions, quantity, bill.usage_unit, charge.rate)]


def _uniform_lines(charge: UniformCharge, bill: Bill) -> list[ComputedLine]:
    """One line: all billed usage above any allowance at one rate."""
    usage, included = usage_of(charge, bill), bill.included
    descriptions = _range_description(charge, included, None, bill)
    quantity = max(usage - included, ZERO)
    return [priced(bill, charge, descriptions, quantity, bill.usage_unit, charge.rate)]


def _limit_cents(limit: MinimumCharge | MaximumCharge, bill: Bill) -> int:
    """The limit in cents for this bill (per dwelling unit if it says so)."""
    scale = bill.scale(limit.per_dwelling_unit) * bill.fixed_factor
    return dollars_to_cents(limit.amount * scale, bill.rounding)


def _maximum_lines(
    cap: MaximumCharge, bill: Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """A negative line bringing the capped components down to the maximum, if they exceed it."""
    scope = cap.applies_to or usage_ids(bill)
    total = sum(line.amount_cents for name in scope for line in lines.get(name, ()))
    limit = _limit_cents(cap, bill)
    if total <= limit:
        return []
    return [_limit_line(cap, limit, limit - total)]


def _minimum_lines(
    floor: MinimumCharge, bill: Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """A line topping the components in scope up to the minimum, if they fall short of it."""
    scope = floor.applies_to or tuple(
        c.id for c in bill.components if not isinstance(c, MinimumCharge | Credit)
    )
    total = sum(line.amount_cents for name in scope for line in lines.get(name, ()))
    limit = _limit_cents(floor, bill)
    if total >= limit:
        return []
    return [_limit_line(floor, limit, limit - total)]


def _limit_line(limit: MinimumCharge | MaximumCharge, limit_cents: int, cents: int) -> ComputedLine:
    """The adjustment a limit makes: no quantity or rate, the limit in its description."""
    descriptions = say_around(limit, "line.limit", amount=format_cents(limit_cents))
    return adjustment(limit, descriptions, cents)


_RATERS: dict[type, Callable[..., list[ComputedLine]]] = {
    FixedCharge: _fixed_lines,
    Allowance: _allowance_lines,
    BlockCharge: _block_lines,
    UsageAboveCharge: _usage_above_lines,
    UniformCharge: _uniform_lines,
    PerUnitCharge: per_unit_lines,
}
