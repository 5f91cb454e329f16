"""Property tax: a parcel's value through assessment and exemptions to one line per levy.

Pure module: plain values in, plain values out; no database, no clock. The
order of the arithmetic (docs/tax.md):

1. Assessed value: the parcel's assessed value when given (it wins over the
   market value), else market value x the class's assessment ratio, rounded once.
2. Equalized value: assessed value x the equalization factor, rounded once
   (the same as the assessed value when the factor is 1).
3. Exemptions the parcel is eligible for (it carries every flag of their eligibility and one
   of their any_flags, if named), step
   by step: market, then assessed, then taxable; within a step the percentages, then
   the fixed amounts, each in document order, taking parts of the dollars of the step's
   value (billing/exemptions.py): a percentage the same share of every dollar, a fixed
   amount the lowest dollars left above its threshold; so a higher value never leaves
   less. The value left after each is rounded once, and never goes below 0.
   Each levy applies only the exemptions it honours, so it has its own taxable value.
4. One line per levy: taxable value x rate (mills, percent or per $100), rounded once.
5. A frozen tax ceiling (a parcel's, for a jurisdiction) caps that levy's line: a line
   right after it takes off what is above the ceiling.
6. Non-ad valorem lines: each flat charge of the parcel's class, each special assessment
   listing the parcel (units x rate, rounded once).
7. Credits the parcel is eligible for, in document order (a fixed amount, a rate on the
   taxable value or a percent of the tax), each at most the tax left (levies after
   ceilings, less the credits before it): negative lines.
8. The total is the sum of the lines; installments split it with the leftover
   cents on the first; early-payment discounts are percentages of the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.computed import ComputedLine, RuleError
from billing.exemptions import LEFT_ROUNDING, round_fraction, taking_order, values_left
from billing.levy_spec import STEPS, Exemption, Levy, TaxCredit, TaxYearSpec
from billing.words import DEFAULT_LANGUAGE, WORDS, in_languages, say
from core.money import ROUNDING_RULES, format_cents, split_cents, to_cents

#: What the rate is per, for each basis (the line's unit is WORDS' "unit.<basis>").
PER = {"mills": Decimal(1000), "per_100": Decimal(100), "percent": Decimal(100)}
#: The line's unit (in the default language) and what the rate is per, for each basis.
UNITS = {basis: (WORDS[DEFAULT_LANGUAGE][f"unit.{basis}"], per) for basis, per in PER.items()}


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
    #: 0: for paying the whole bill; n: for paying installment n (amount_due_cents is then
    #: what that installment costs paid by pay_by).
    installment: int = 0


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


def _to_equalized(value: _Valuation, market: Fraction, rule: str) -> int:
    """A market value in equalized cents, the way the parcel's own market value became its
    equalized value: x ratio, rounded; x factor, rounded."""
    assessed = round_fraction(market * Fraction(value.ratio), rule)
    return (
        assessed if value.factor == 1 else round_fraction(assessed * Fraction(value.factor), rule)
    )


def _step_cuts(
    exemptions: Sequence[Exemption], value: _Valuation, start: int, rule: str
) -> list[int]:
    """The cents of equalized value each exemption of one step removes, from the step's start:
    the differences of the rounded values left (docs/tax.md), so they add up to start - left."""
    if exemptions[0].applies_to == "market" and value.market_cents is not None:
        # NOTE: a market-step exemption is taken from the market value; what it leaves becomes
        # equalized value as the market value did (a step that removes nothing changes nothing).
        market = Fraction(value.market_cents)
        lefts = [_to_equalized(value, left, rule) for left in values_left(exemptions, market)]
        lefts.insert(0, _to_equalized(value, market, rule))
    else:
        # NOTE: without a market value the parcel is worth its equalized value / ratio / factor;
        # its market-step amounts are taken at ratio x factor from the equalized value itself.
        scale = Fraction(1)
        if exemptions[0].applies_to == "market":
            scale = Fraction(value.ratio) * Fraction(value.factor)
        left_rule = LEFT_ROUNDING[rule]
        lefts = [start] + [
            round_fraction(left, left_rule)
            for left in values_left(exemptions, Fraction(start), scale)
        ]
    return [before - after for before, after in zip(lefts, lefts[1:], strict=False)]


def _taxable_value(
    exemptions: Sequence[Exemption], value: _Valuation, rule: str
) -> tuple[int, list[tuple[Exemption, int]]]:
    """The value left after the exemptions, and what each removed (step, then given order)."""
    running = value.equalized_cents
    removed: list[tuple[Exemption, int]] = []
    for step in STEPS:
        in_step = taking_order([e for e in exemptions if e.applies_to == step])
        if not in_step:
            continue
        for exemption, cut in zip(in_step, _step_cuts(in_step, value, running, rule), strict=True):
            cut = min(cut, running)
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
        descriptions=in_languages(levy.jurisdiction_name, levy.name_translations),
        units=say(f"unit.{levy.basis}"),
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
    spec: TaxYearSpec,
    total_cents: int,
    rule: str,
    installments: Sequence[Installment] = (),
) -> list[EarlyPaymentDiscount]:
    """What paying by each pay-by date saves, rounded once each: a percentage of the whole bill,
    or of its installment for a discount given per installment."""
    amounts = {part.number: part.amount_cents for part in installments}
    discounts = []
    for step in spec.discounts:
        base = amounts.get(step.installment, 0) if step.installment else total_cents
        cents = to_cents(Decimal(base) * step.percent / 100, rule)
        discounts.append(
            EarlyPaymentDiscount(step.pay_by, step.percent, cents, base - cents, step.installment)
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


def _ceilings(tax_ceilings: Mapping[str, int] | None) -> dict[str, int]:
    """The parcel's frozen ceilings by jurisdiction, each whole cents and not negative."""
    if tax_ceilings is None:
        return {}
    if not isinstance(tax_ceilings, Mapping):
        raise ParcelTaxError("tax_ceilings: give a mapping of jurisdiction to cents")
    found = {}
    for code, cents in tax_ceilings.items():
        found[str(code)] = _cents(cents, f"tax_ceilings.{code}")
    return found


def _levy_lines(
    spec: TaxYearSpec, taxables: dict[str, int], ceilings: dict[str, int], rule: str
) -> list[ComputedLine]:
    """Each levy's line, and after it the reduction its frozen ceiling makes, if any."""
    lines = []
    for levy in spec.levies:
        line = levy_line(levy, taxables[levy.jurisdiction], rule)
        lines.append(line)
        ceiling = ceilings.get(levy.jurisdiction)
        if ceiling is not None and line.amount_cents > ceiling:
            lines.append(ceiling_line(levy, line.amount_cents - ceiling, ceiling))
    return lines


def ceiling_line(levy: Levy, reduction_cents: int, ceiling_cents: int) -> ComputedLine:
    """The reduction a frozen tax ceiling makes to a levy's tax: a negative tax line."""
    names = in_languages(levy.jurisdiction_name, levy.name_translations)
    descriptions = {
        language: table["line.tax_ceiling"].format(
            name=names.get(language, levy.jurisdiction_name), ceiling=format_cents(ceiling_cents)
        )
        for language, table in WORDS.items()
    }
    return ComputedLine(
        description=descriptions[DEFAULT_LANGUAGE],
        amount_cents=-reduction_cents,
        category="tax",
        source=f"ceiling:{levy.jurisdiction}",
        descriptions=descriptions,
    )


def non_ad_valorem_lines(
    spec: TaxYearSpec, property_class: str, parcel_number: str | None, rule: str
) -> list[ComputedLine]:
    """The flat charges of the parcel's class and the special assessments that list it."""
    lines = []
    for charge in spec.charges:
        cents = charge.amounts.get(property_class)
        if cents:
            lines.append(
                ComputedLine(
                    description=charge.name,
                    amount_cents=cents,
                    category="fee",
                    source=f"charge:{charge.code}",
                    descriptions=in_languages(charge.name, charge.name_translations),
                )
            )
    for assessment in spec.special_assessments:
        units = assessment.parcels.get(parcel_number or "")
        if units:
            lines.append(
                ComputedLine(
                    description=assessment.name,
                    amount_cents=to_cents(units * assessment.rate * 100, rule),
                    quantity=units,
                    unit=assessment.unit,
                    unit_rate=assessment.rate,
                    category="fee",
                    source=f"assessment:{assessment.code}",
                    descriptions=in_languages(assessment.name, assessment.name_translations),
                )
            )
    return lines


def credit_amount(
    credit: TaxCredit,
    levy_lines: Sequence[ComputedLine],
    taxables: Mapping[str, int],
    rule: str,
) -> int:
    """A credit's cents before the cap: its fixed amount; or its rate x the largest taxable
    value of its levies, rounded once; or its percent of its levies' tax (after ceilings),
    rounded once."""
    if credit.amount_cents is not None:
        return credit.amount_cents
    codes = set(taxables) if credit.levies is None else set(credit.levies)
    if credit.rate is not None:
        value = max((cents for code, cents in taxables.items() if code in codes), default=0)
        return to_cents(Decimal(value) * credit.rate / PER[credit.basis or "mills"], rule)
    tax = sum(
        line.amount_cents
        for line in levy_lines
        if line.source in codes or line.source.removeprefix("ceiling:") in codes
    )
    return to_cents(Decimal(tax) * (credit.percent or 0) / 100, rule)


def credit_lines(
    spec: TaxYearSpec,
    flags: frozenset[str],
    tax_cents: int,
    levy_lines: Sequence[ComputedLine] = (),
    taxables: Mapping[str, int] | None = None,
    rule: str = "half_up",
) -> list[ComputedLine]:
    """The credits the parcel is eligible for, each at most the tax left: negative lines.
    levy_lines and taxables (jurisdiction -> taxable cents) measure the rate and percent
    credits."""
    lines = []
    left = tax_cents
    for credit in spec.credits:
        cents = min(credit_amount(credit, levy_lines, taxables or {}, rule), left)
        if not flags.issuperset(credit.eligibility) or cents <= 0:
            continue
        left -= cents
        lines.append(
            ComputedLine(
                description=credit.name,
                amount_cents=-cents,
                category="credit",
                source=f"credit:{credit.code}",
                descriptions=in_languages(credit.name, credit.name_translations),
            )
        )
    return lines


def compute_parcel_tax(
    spec: TaxYearSpec,
    *,
    market_value_cents: int | None,
    assessed_value_cents: int | None,
    property_class: str,
    exemption_flags: Iterable[str],
    rounding: str = "half_up",
    parcel_number: str | None = None,
    tax_ceilings: Mapping[str, int] | None = None,
) -> TaxBill:
    """A parcel's tax bill for the spec's year, every line rounded once by the rounding rule.

    parcel_number picks the special assessments that list it; tax_ceilings (jurisdiction ->
    cents) are the parcel's frozen ceilings."""
    property_class, flags = _parcel_inputs(property_class, exemption_flags, rounding)
    market = _cents(market_value_cents, "market_value_cents")
    value = _valuation(
        spec, market, _cents(assessed_value_cents, "assessed_value_cents"), property_class, rounding
    )
    eligible = sorted(
        (e for e in spec.exemptions if e.is_for(flags)),
        key=lambda e: STEPS.index(e.applies_to),
    )
    taxables, cuts = _levy_values(spec.levies, eligible, value, rounding)
    lines = _levy_lines(spec, taxables, _ceilings(tax_ceilings), rounding)
    tax = sum(line.amount_cents for line in lines)
    levy_lines = list(lines)
    lines += non_ad_valorem_lines(spec, property_class, parcel_number, rounding)
    lines += credit_lines(spec, flags, tax, levy_lines, taxables, rounding)
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
        installments=(parts := split_installments(spec, total)),
        discounts=early_payment_discounts(spec, total, rounding, parts),
    )
