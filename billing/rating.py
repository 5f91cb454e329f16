"""The rating engine: a rate plan and one billing period's facts in, invoice lines out.

Pure module: plain values in, plain values out, no clock. The version in force on the last
day of the billing period prices the whole period (no proration). Each line is rounded once
by the municipality's rule; the bill's total is the sum of its rounded lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from billing.computed import ComputedLine, RuleError
from billing.rate_plan_format import parse_unit
from billing.rate_plan_spec import (
    UNITS,
    USAGE_CHARGES,
    Allowance,
    Block,
    BlockCharge,
    Component,
    FixedCharge,
    MaximumCharge,
    MinimumCharge,
    RatePlanSpec,
    RateVersionSpec,
    UniformCharge,
    UsageAboveCharge,
    plain_number,
)
from core.money import ROUNDING_RULES, dollars_to_cents, format_cents

#: What one period of each frequency is called on an invoice line.
PERIOD_UNITS = {"monthly": "month", "bimonthly": "2 months", "quarterly": "quarter"}
_ZERO = Decimal(0)
T = TypeVar("T")


@dataclass(frozen=True)
class _Bill:
    """What every component needs to know about the bill being rated."""

    plan: RatePlanSpec
    version: RateVersionSpec
    #: Billed usage in the plan's unit (converted and stepped); None for an unmetered bill.
    usage: Decimal | None
    meter_size: str | None
    dwelling_units: int
    rounding: str

    @property
    def where(self) -> str:
        """The plan and version, for messages."""
        return f"rate plan {self.plan.code} (version of {self.version.effective_from})"

    @property
    def included(self) -> Decimal:
        """The allowance in the plan's unit, scaled by dwelling units if it says so; else 0."""
        for component in self.version.components:
            if isinstance(component, Allowance):
                return component.included * self.scale(component.per_dwelling_unit)
        return _ZERO

    def scale(self, per_dwelling_unit: bool) -> Decimal:
        """The dwelling units as a multiplier, or 1."""
        return Decimal(self.dwelling_units) if per_dwelling_unit else Decimal(1)


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
) -> list[ComputedLine]:
    """The lines of one service point's bill for one billing period, each rounded once."""
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
    version = version_in_force(plan, period_end)
    billed = _billed_usage(plan, version, usage, usage_unit)
    bill = _Bill(plan, version, billed, meter_size, dwelling_units, rounding)
    lines: dict[str, list[ComputedLine]] = {}
    for component in version.components:
        if not isinstance(component, MinimumCharge | MaximumCharge):
            lines[component.id] = _RATERS[type(component)](component, bill)
    for component in version.components:
        if isinstance(component, MaximumCharge):
            lines[component.id] = _maximum_lines(component, bill, lines)
    for component in version.components:
        if isinstance(component, MinimumCharge):
            lines[component.id] = _minimum_lines(component, bill, lines)
    return [line for component in version.components for line in lines[component.id]]


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
    steps = convert_usage(plan, usage, usage_unit) / version.usage_step
    rule = ROUNDING_RULES[version.usage_rounding]
    return steps.quantize(Decimal(1), rounding=rule) * version.usage_step


def _usage(component: Component, bill: _Bill) -> Decimal:
    """The billed usage, or a RuleError naming the component that needs it."""
    if bill.usage is None:
        raise RuleError(
            f"{bill.where}: component {component.id!r} bills usage, but no usage was given"
        )
    return bill.usage


def _for_meter_size(component: Component, table: tuple[tuple[str, T], ...], bill: _Bill) -> T:
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


def _priced(
    bill: _Bill, component: Component, description: str, quantity: Decimal, unit: str, rate: Decimal
) -> ComputedLine:
    """A line whose amount is quantity × rate, rounded once."""
    category = component.category if isinstance(component, FixedCharge) else "charge"
    cents = dollars_to_cents(quantity * rate, bill.rounding)
    return ComputedLine(description, cents, quantity, unit, rate, category, component.id)


def _fixed_lines(charge: FixedCharge, bill: _Bill) -> list[ComputedLine]:
    """One line: the amount per period, or per dwelling unit per period."""
    description = charge.description
    rate = charge.amount
    if rate is None:
        rate = _for_meter_size(charge, charge.by_meter_size, bill)
        description = f"{description}, {bill.meter_size.strip()} meter"  # type: ignore[union-attr]
    if charge.per_dwelling_unit:
        quantity, unit = Decimal(bill.dwelling_units), "dwelling unit"
    else:
        quantity, unit = Decimal(1), PERIOD_UNITS[bill.version.frequency]
    return [_priced(bill, charge, description, quantity, unit, rate)]


def _allowance_lines(allowance: Allowance, bill: _Bill) -> list[ComputedLine]:
    """One line at zero: the usage the base charge includes."""
    usage, included = _usage(allowance, bill), bill.included
    label, symbol = UNITS[bill.plan.unit][2:]
    description = f"{allowance.description} (first {plain_number(included)} {symbol})"
    return [_priced(bill, allowance, description, min(usage, included), label, _ZERO)]


def _block_lines(charge: BlockCharge, bill: _Bill) -> list[ComputedLine]:
    """One line per block that holds billed usage; adjacent blocks at one rate make one line."""
    usage, included = _usage(charge, bill), bill.included
    blocks = charge.blocks or _for_meter_size(charge, charge.by_meter_size, bill)
    label = UNITS[bill.plan.unit][2]
    ranges = _merged_ranges(blocks, bill.scale(charge.per_dwelling_unit))
    billed = [(max(low, included), high, rate) for low, high, rate in ranges]
    billed = [(low, high, rate) for low, high, rate in billed if high is None or high > low]
    lines = []
    for low, high, rate in billed:
        quantity = max((usage if high is None else min(usage, high)) - low, _ZERO)
        if quantity > 0 or (not lines and (high is None or usage <= high)):
            description = _range_description(charge.description, low, high, bill)
            lines.append(_priced(bill, charge, description, quantity, label, rate))
    return lines


def _merged_ranges(
    blocks: tuple[Block, ...], scale: Decimal
) -> list[tuple[Decimal, Decimal | None, Decimal]]:
    """(from, to, rate) per run of blocks at one rate, boundaries scaled."""
    ranges: list[tuple[Decimal, Decimal | None, Decimal]] = []
    low = _ZERO
    for block in blocks:
        high = None if block.up_to is None else block.up_to * scale
        if ranges and ranges[-1][2] == block.rate:
            low = ranges.pop()[0]
        ranges.append((low, high, block.rate))
        low = high if high is not None else low
    return ranges


def _range_description(text: str, low: Decimal, high: Decimal | None, bill: _Bill) -> str:
    """'Water usage (2–50 kgal)', 'Water usage (over 500 kgal)' or just 'Water usage'."""
    symbol = UNITS[bill.plan.unit][3]
    if high is not None:
        return f"{text} ({plain_number(low)}–{plain_number(high)} {symbol})"
    return f"{text} (over {plain_number(low)} {symbol})" if low > 0 else text


def _usage_above_lines(charge: UsageAboveCharge, bill: _Bill) -> list[ComputedLine]:
    """One line: usage above the threshold (and above any allowance)."""
    usage = _usage(charge, bill)
    start = max(charge.threshold * bill.scale(charge.per_dwelling_unit), bill.included)
    description = _range_description(charge.description, start, None, bill)
    quantity = max(usage - start, _ZERO)
    return [_priced(bill, charge, description, quantity, UNITS[bill.plan.unit][2], charge.rate)]


def _uniform_lines(charge: UniformCharge, bill: _Bill) -> list[ComputedLine]:
    """One line: all billed usage above any allowance at one rate."""
    usage, included = _usage(charge, bill), bill.included
    description = _range_description(charge.description, included, None, bill)
    quantity = max(usage - included, _ZERO)
    return [_priced(bill, charge, description, quantity, UNITS[bill.plan.unit][2], charge.rate)]


def _limit_cents(limit: MinimumCharge | MaximumCharge, bill: _Bill) -> int:
    """The limit in cents for this bill (per dwelling unit if it says so)."""
    return dollars_to_cents(limit.amount * bill.scale(limit.per_dwelling_unit), bill.rounding)


def _maximum_lines(
    cap: MaximumCharge, bill: _Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """A negative line bringing the capped components down to the maximum, if they exceed it."""
    scope = cap.applies_to or tuple(
        c.id for c in bill.version.components if isinstance(c, USAGE_CHARGES)
    )
    total = sum(line.amount_cents for name in scope for line in lines[name])
    limit = _limit_cents(cap, bill)
    if total <= limit:
        return []
    return [
        ComputedLine(f"{cap.description} ({format_cents(limit)})", limit - total, source=cap.id)
    ]


def _minimum_lines(
    floor: MinimumCharge, bill: _Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """A line topping the components in scope up to the minimum, if they fall short of it."""
    scope = floor.applies_to or tuple(
        c.id for c in bill.version.components if not isinstance(c, MinimumCharge)
    )
    total = sum(line.amount_cents for name in scope for line in lines[name])
    limit = _limit_cents(floor, bill)
    if total >= limit:
        return []
    return [
        ComputedLine(f"{floor.description} ({format_cents(limit)})", limit - total, source=floor.id)
    ]


_RATERS: dict[type, Callable[..., list[ComputedLine]]] = {
    FixedCharge: _fixed_lines,
    Allowance: _allowance_lines,
    BlockCharge: _block_lines,
    UsageAboveCharge: _usage_above_lines,
    UniformCharge: _uniform_lines,
}
