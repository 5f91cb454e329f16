"""What every rater of billing.rating and billing.rating_more shares: the bill being rated.

Pure module: plain values in, plain values out, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from billing.computed import ComputedLine, RuleError
from billing.rate_plan_spec import (
    UNITS,
    USAGE_CHARGES,
    Allowance,
    Component,
    FixedCharge,
    RatePlanSpec,
    RateVersionSpec,
)
from billing.words import DEFAULT_LANGUAGE, WORDS, in_languages
from core.money import ROUNDING_RULES, dollars_to_cents

#: A text by language.
Texts = dict[str, str]
ZERO, ONE = Decimal(0), Decimal(1)
T = TypeVar("T")


@dataclass(frozen=True)
class Bill:
    """What every component needs to know about the bill (or the part of one) being rated."""

    plan: RatePlanSpec
    version: RateVersionSpec
    #: Billed usage in the plan's unit (converted and stepped); None for an unmetered bill.
    usage: Decimal | None
    meter_size: str | None
    dwelling_units: int
    rounding: str
    #: The components that apply (a seasonal one only in its months); all of them by default.
    components: tuple[Component, ...] = ()
    #: Multipliers for the cycle's months and the days billed (docs/rates.md): amounts per
    #: period (fixed charges, fees, limits, credits, per-unit charges), the allowance, and
    #: block boundaries and thresholds. 1 for a whole period of the version's frequency.
    fixed_factor: Decimal = ONE
    allowance_factor: Decimal = ONE
    block_factor: Decimal = ONE
    #: The service point's attributes (impervious_area, carts, ...).
    attributes: Mapping[str, Decimal] = field(default_factory=dict)
    #: The account's flags (senior, low_income, ...).
    flags: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        """The plan and version, for messages."""
        return f"rate plan {self.plan.code} (version of {self.version.effective_from})"

    @property
    def included(self) -> Decimal:
        """The allowance in the plan's unit, scaled by dwelling units and period; else 0."""
        for component in self.components:
            if isinstance(component, Allowance):
                scale = self.scale(component.per_dwelling_unit) * self.allowance_factor
                return component.included * scale
        return ZERO

    def scale(self, per_dwelling_unit: bool) -> Decimal:
        """The dwelling units as a multiplier, or 1."""
        return Decimal(self.dwelling_units) if per_dwelling_unit else ONE

    @property
    def usage_unit(self) -> Texts:
        """The plan's unit by language: the plan's own label, else the engine's word for it."""
        own = dict(self.plan.unit_translations)
        return {
            language: own.get(language) or table[f"unit.{self.plan.unit}"]
            for language, table in WORDS.items()
        }


def say_around(component: Component, key: str, **fields: object) -> Texts:
    """A phrase of the engine around a component's description, in each language it has."""
    texts = in_languages(component.description, component.translations)
    return {
        language: WORDS[language][key].format(text=text, **fields)
        for language, text in texts.items()
    }


def usage_of(component: Component, bill: Bill) -> Decimal:
    """The usage a component bills (its percentage, if it has one), or a RuleError naming it."""
    if bill.usage is None:
        raise RuleError(
            f"{bill.where}: component {component.id!r} bills usage, but no usage was given"
        )
    percent = getattr(component, "usage_percent", None)
    if percent is None:
        return bill.usage
    return step_usage(bill.usage * percent / 100, bill.version)


def step_usage(usage: Decimal, version: RateVersionSpec) -> Decimal:
    """Usage rounded to a multiple of the version's usage step, by its usage rounding."""
    rule = ROUNDING_RULES[version.usage_rounding]
    steps = (usage / version.usage_step).quantize(ONE, rounding=rule)
    return steps * version.usage_step


def priced(
    bill: Bill,
    component: Component,
    descriptions: Texts,
    quantity: Decimal,
    units: Texts,
    rate: Decimal,
) -> ComputedLine:
    """A line whose amount is quantity × rate, rounded once."""
    category = component.category if isinstance(component, FixedCharge) else "charge"
    cents = dollars_to_cents(quantity * rate, bill.rounding)
    description, unit = descriptions[DEFAULT_LANGUAGE], units[DEFAULT_LANGUAGE]
    return ComputedLine(
        description, cents, quantity, unit, rate, category, component.id, descriptions, units
    )


def adjustment(component: Component, descriptions: Texts, cents: int) -> ComputedLine:
    """A line without quantity or rate (a limit, a credit): its figures are in its description."""
    return ComputedLine(
        descriptions[DEFAULT_LANGUAGE], cents, source=component.id, descriptions=descriptions
    )


def usage_ids(bill: Bill) -> tuple[str, ...]:
    """The ids of the usage charges that apply."""
    return tuple(c.id for c in bill.components if isinstance(c, USAGE_CHARGES))


def symbol(bill: Bill) -> str:
    """The plan unit's short symbol (kgal, CCF, m³)."""
    return UNITS[bill.plan.unit][3]
