"""Property tax: a parcel's value through assessment and exemptions to one line per levy.

Pure module: plain values in, plain values out; no database, no clock. The
order of the arithmetic (docs/tax.md):

1. Assessed value: the parcel's assessed value when given (it wins over the
   market value), else market value x the class's assessment ratio, rounded once.
2. Equalized value: assessed value x the equalization factor, rounded once
   (the same as the assessed value when the factor is 1).
3. Exemptions the parcel is eligible for (it carries every flag they name), step
   by step: market, then assessed, then taxable; in document order within a step.
   A percentage is taken of the value at the start of its step; every exemption
   is rounded once and never removes more than is left, so the value stays >= 0.
   Each levy applies only the exemptions it honours, so it has its own taxable value.
4. One line per levy: taxable value x rate (mills, percent or per $100), rounded once.
5. The total is the sum of the lines; installments split it with the leftover
   cents on the first; early-payment discounts are percentages of the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.computed import ComputedLine, RuleError
from billing.levy_format import STEPS, Exemption, Levy, TaxYearSpec
from core.money import ROUNDING_RULES, split_cents, to_cents

#: The line's unit and what the rate is per, for each basis.
UNITS = {
    "mills": ("per $1,000 of value", Decimal(1000)),
    "per_100": ("per $100 of value", Decimal(100)),
    "percent": ("% of value", Decimal(100)),
}


class ParcelTaxError(RuleError):
    """A parcel whose values or class this levy cannot tax; the message names the field."""


@dataclass(frozen=True)
class AppliedExemption:
    """An exemption a parcel received, and the levies for which it removed this much value."""

    code: str
    name: str
    #: Cents of equalized assessed value removed (a market-step exemption converted by the ratio).
    value_removed_cents: int
    #: Jurisdiction codes of the levies where it removed exactly this much.
    levies: tuple[str, ...]


@dataclass(frozen=True)
class Installment:
    """One installment of the year's tax."""

    number: int
    due_date: date
    amount_cents: int


@dataclass(frozen=True)
class EarlyPaymentDiscount:
    """Paying the whole year's tax by pay_by costs amount_due_cents instead of the total."""

    pay_by: date
    percent: Decimal
    discount_cents: int
    amount_due_cents: int


@dataclass(frozen=True)
class TaxBill:
    """A parcel's tax for one year: the values, the exemptions, one line per levy."""

    tax_year: int
    property_class: str
    market_value_cents: int | None
    assessed_value_cents: int
    #: The assessed value x the equalization factor; exemptions are taken from it.
    equalized_value_cents: int
    #: The largest taxable value of any levy (each line's quantity is its levy's own).
    taxable_value_cents: int
    exemptions_applied: list[AppliedExemption]
    lines: list[ComputedLine]
    #: The sum of the lines.
    total_cents: int
    installments: list[Installment]
    discounts: list[EarlyPaymentDiscount]


@dataclass(frozen=True)
class _Valuation:
    """A parcel's values before exemptions."""

    market_cents: int | None
    ratio: Decimal
    factor: Decimal
    assessed_cents: int
    equalized_cents: int


def _cents(value: object, field: str) -> int | None:
    """A value in whole cents, not negative, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParcelTaxError(f"{field}: {value!r} is not whole cents")
    if value < 0:
        raise ParcelTaxError(f"{field}: {value} must not be negative")
    return value


def _valuation(
    spec: TaxYearSpec, market: int | None, assessed: int | None, property_class: str, rule: str
) -> _Valuation:
    """The assessed value (given, or market x ratio) and the equalized value."""
    ratio = spec.class_ratios.get(property_class)
    if ratio is None:
        known = ", ".join(sorted(spec.class_ratios))
        raise ParcelTaxError(
            f"property_class: {property_class!r} has no assessment ratio in the "
            f"{spec.tax_year} levy (it has {known})"
        )
    if assessed is None:
        if market is None:
            raise ParcelTaxError("a parcel needs a market value or an assessed value")
        assessed = to_cents(Decimal(market) * ratio, rule)
    factor = spec.equalization_factor
    equalized = assessed if factor == 1 else to_cents(Decimal(assessed) * factor, rule)
    return _Valuation(market, ratio, factor, assessed, equalized)


def _raw_cut(exemption: Exemption, start: Decimal) -> Decimal:
    """The value an exemption takes from a value, before rounding and before what is left."""
    base = max(Decimal(0), start - exemption.above_cents)
    if exemption.kind == "fixed":
        return min(Decimal(exemption.amount_cents or 0), base)
    cut = base * (exemption.percent or 0) / 100
    if exemption.minimum_cents is not None:
        cut = max(cut, Decimal(exemption.minimum_cents))
    if exemption.maximum_cents is not None:
        cut = min(cut, Decimal(exemption.maximum_cents))
    return min(cut, base)


def _cut(exemption: Exemption, value: _Valuation, start: int, rule: str) -> int:
    """The cents of equalized value an exemption removes, rounded once."""
    if exemption.applies_to != "market":
        return to_cents(_raw_cut(exemption, Decimal(start)), rule)
    # NOTE: a market-step exemption is taken from market value and converted to
    # assessed value by the class ratio (and equalization factor); a parcel without
    # a market value is taken to be worth its equalized value / ratio / factor.
    level = value.ratio * value.factor
    market = (
        Decimal(value.market_cents)
        if value.market_cents is not None
        else Decimal(value.equalized_cents) / level
    )
    return to_cents(_raw_cut(exemption, market) * level, rule)


def _taxable_value(
    exemptions: Sequence[Exemption], value: _Valuation, rule: str
) -> tuple[int, list[tuple[Exemption, int]]]:
    """The value left after the exemptions, and what each removed (step, then given order)."""
    running = value.equalized_cents
    removed: list[tuple[Exemption, int]] = []
    for step in STEPS:
        start = running
        for exemption in exemptions:
            if exemption.applies_to == step:
                cut = min(_cut(exemption, value, start, rule), running)
                running -= cut
                removed.append((exemption, cut))
    return running, removed


def levy_line(levy: Levy, taxable_cents: int, rule: str) -> ComputedLine:
    """One levy's line: taxable value x rate, rounded once."""
    unit, per = UNITS[levy.basis]
    return ComputedLine(
        description=levy.jurisdiction_name,
        amount_cents=to_cents(Decimal(taxable_cents) * levy.rate / per, rule),
        quantity=Decimal(taxable_cents).scaleb(-2),
        unit=unit,
        unit_rate=levy.rate,
        category="tax",
        source=levy.jurisdiction,
    )


def split_installments(spec: TaxYearSpec, total_cents: int) -> list[Installment]:
    """The total split over the installments; parts add up, leftover cents first."""
    dues = spec.installments
    weights = [due.share or Decimal(0) for due in dues] if dues[0].share else [1] * len(dues)
    parts = split_cents(total_cents, weights)
    return [
        Installment(due.number, due.due_date, cents) for due, cents in zip(dues, parts, strict=True)
    ]


def early_payment_discounts(
    spec: TaxYearSpec, total_cents: int, rule: str
) -> list[EarlyPaymentDiscount]:
    """What paying the whole year by each pay-by date saves, rounded once each."""
    discounts = []
    for step in spec.discounts:
        cents = to_cents(Decimal(total_cents) * step.percent / 100, rule)
        discounts.append(
            EarlyPaymentDiscount(step.pay_by, step.percent, cents, total_cents - cents)
        )
    return discounts


def _applied(
    eligible: Sequence[Exemption], levies: Sequence[Levy], cuts: dict[str, dict[str, int]]
) -> list[AppliedExemption]:
    """Each exemption that removed value, once per distinct amount, with its levies."""
    applied = []
    for exemption in eligible:
        groups: dict[int, list[str]] = {}
        for levy in levies:
            cents = cuts[levy.jurisdiction].get(exemption.code, 0)
            if cents > 0:
                groups.setdefault(cents, []).append(levy.jurisdiction)
        for cents, codes in groups.items():
            applied.append(AppliedExemption(exemption.code, exemption.name, cents, tuple(codes)))
    return applied


def _levy_values(
    levies: Sequence[Levy], eligible: Sequence[Exemption], value: _Valuation, rule: str
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Each levy's taxable value and the cents each exemption removed for it."""
    taxables: dict[str, int] = {}
    cuts: dict[str, dict[str, int]] = {}
    by_honoured: dict[tuple[str, ...], tuple[int, list[tuple[Exemption, int]]]] = {}
    for levy in levies:
        honoured = [e for e in eligible if levy.honours(e.code)]
        key = tuple(e.code for e in honoured)
        if key not in by_honoured:
            by_honoured[key] = _taxable_value(honoured, value, rule)
        taxables[levy.jurisdiction], removed = by_honoured[key]
        cuts[levy.jurisdiction] = {e.code: cents for e, cents in removed}
    return taxables, cuts


def _parcel_inputs(
    property_class: object, exemption_flags: object, rounding: str
) -> tuple[str, frozenset[str]]:
    """The parcel's class and flags, normalized; refuses a string of flags and unknown rules."""
    if rounding not in ROUNDING_RULES:
        raise ParcelTaxError(f"rounding: unknown rule {rounding!r}")
    if not isinstance(property_class, str):
        raise ParcelTaxError(f"property_class: {property_class!r} is not text")
    if isinstance(exemption_flags, str) or not isinstance(exemption_flags, Iterable):
        raise ParcelTaxError("exemption_flags: give a list of flags, not one string")
    flags = []
    for flag in exemption_flags:
        if not isinstance(flag, str):
            raise ParcelTaxError(f"exemption_flags: {flag!r} is not text")
        flags.append(flag.strip().lower())
    return property_class.strip().lower(), frozenset(flags)


def compute_parcel_tax(
    spec: TaxYearSpec,
    *,
    market_value_cents: int | None,
    assessed_value_cents: int | None,
    property_class: str,
    exemption_flags: Iterable[str],
    rounding: str = "half_up",
) -> TaxBill:
    """A parcel's tax bill for the spec's year, every line rounded once by the rounding rule."""
    property_class, flags = _parcel_inputs(property_class, exemption_flags, rounding)
    market = _cents(market_value_cents, "market_value_cents")
    value = _valuation(
        spec, market, _cents(assessed_value_cents, "assessed_value_cents"), property_class, rounding
    )
    eligible = sorted(
        (e for e in spec.exemptions if flags.issuperset(e.eligibility)),
        key=lambda e: STEPS.index(e.applies_to),
    )
    taxables, cuts = _levy_values(spec.levies, eligible, value, rounding)
    lines = [levy_line(levy, taxables[levy.jurisdiction], rounding) for levy in spec.levies]
    total = sum(line.amount_cents for line in lines)
    return TaxBill(
        tax_year=spec.tax_year,
        property_class=property_class,
        market_value_cents=market,
        assessed_value_cents=value.assessed_cents,
        equalized_value_cents=value.equalized_cents,
        taxable_value_cents=max(taxables.values()),
        exemptions_applied=_applied(eligible, spec.levies, cuts),
        lines=lines,
        total_cents=total,
        installments=split_installments(spec, total),
        discounts=early_payment_discounts(spec, total, rounding),
    )
