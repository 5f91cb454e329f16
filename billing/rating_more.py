"""Rating beyond one whole period of plain charges: periods and proration, greater-of and
lesser-of choices, credits, charges per unit of a service point attribute, winter averaging.

Pure module: plain values in, plain values out, no clock, no database (docs/rates.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.computed import BilledPeriod, ComputedLine, RuleError
from billing.periods import days_in
from billing.rate_plan_spec import (
    FREQUENCY_MONTHS,
    QUANTITY_PLACES,
    UNITS,
    ChoiceCharge,
    Credit,
    PerUnitCharge,
    RatePlanSpec,
    RateVersionSpec,
    plain_number,
)
from billing.rating_base import (
    ONE,
    Bill,
    adjustment,
    priced,
    say_around,
    step_usage,
)
from billing.words import DEFAULT_LANGUAGE, LANGUAGES, in_languages, say, words
from core.money import ROUNDING_RULES, dollars_to_cents, format_cents

_FACTOR_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)

# --- periods and proration -----------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """Days of one bill priced by one version, with the multipliers of its factors."""

    version: RateVersionSpec
    start: date | None
    end: date
    fixed_factor: Decimal = ONE
    allowance_factor: Decimal = ONE
    block_factor: Decimal = ONE
    #: Whether the part's lines say their dates (a prorated partial period or a split).
    dated: bool = False
    days: int = 1


def bill_parts(
    plan: RatePlanSpec, version: RateVersionSpec, period: BilledPeriod | None, period_end: date
) -> list[Part]:
    """The parts of a bill: one, or one per version in force when the version splits periods.

    The version in force on the last day decides proration and block scaling for every part.
    """
    if period is None:
        return [Part(version, None, period_end)]
    _check_period(period)
    bounds = [period.start]
    if version.proration != "none":
        bounds += [
            v.effective_from for v in plan.versions if period.start < v.effective_from <= period.end
        ]
    ends = [b - timedelta(days=1) for b in bounds[1:]] + [period.end]
    regular = days_in(period.regular_start, period.regular_end)
    dated = version.proration != "none" and days_in(period.start, period.end) < regular
    parts = []
    for start, end in zip(bounds, ends, strict=True):
        in_force = _in_force(plan, end)
        share = Decimal(days_in(start, end)) / regular
        parts.append(
            Part(
                in_force,
                start,
                end,
                *_factors(version, in_force, period.months, share),
                dated or len(bounds) > 1,
                days_in(start, end),
            )
        )
    return parts


def _in_force(plan: RatePlanSpec, day: date) -> RateVersionSpec:
    """The version in force on a day; a part of a period before the first is refused."""
    in_force = [v for v in plan.versions if v.effective_from <= day]
    if not in_force:
        raise RuleError(
            f"rate plan {plan.code}: no version is in force on {day} "
            f"(the first takes effect on {plan.versions[0].effective_from})"
        )
    return in_force[-1]


def _check_period(period: BilledPeriod) -> None:
    """The billed days lie inside the regular period; months is a whole number of at least 1."""
    if not period.regular_start <= period.start <= period.end <= period.regular_end:
        raise RuleError(
            f"the billed period {period.start} to {period.end} is not inside its regular "
            f"period {period.regular_start} to {period.regular_end}"
        )
    if isinstance(period.months, bool) or not isinstance(period.months, int) or period.months < 1:
        raise RuleError(
            f"a period's months must be a whole number of at least 1, not {period.months!r}"
        )


def _factors(
    settings: RateVersionSpec, version: RateVersionSpec, months: int, share: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(fixed, allowance, block) multipliers of a part, each rounded to 4 places half-up.

    Amounts are stated per the version's frequency: a period of `months` months charges
    months / frequency months of them; the proration prorates by the share of days.
    """
    cycle = Decimal(months) / FREQUENCY_MONTHS[version.frequency]
    prorated = share if settings.proration != "none" else ONE
    usage_prorated = share if settings.proration == "fixed_and_blocks" else ONE
    blocks = cycle if settings.scale_blocks else ONE
    return tuple(  # type: ignore[return-value]
        (factor).quantize(_FACTOR_STEP, rounding=ROUND_HALF_UP)
        for factor in (cycle * prorated, cycle * usage_prorated, blocks * usage_prorated)
    )


def split_usage(
    usage: Decimal | None, parts: list[Part], version: RateVersionSpec
) -> list[Decimal | None]:
    """The usage of each part, shared by days and stepped; the last part takes the rest."""
    if usage is None or len(parts) == 1:
        return [usage] * len(parts)
    total = sum(part.days for part in parts)
    shares: list[Decimal | None] = []
    for part in parts[:-1]:
        share = step_usage(usage * part.days / total, replace(version, usage_rounding="down"))
        shares.append(share)
    shares.append(usage - sum(s for s in shares if s is not None))
    return shares


def labelled(lines: list[ComputedLine], part: Part) -> list[ComputedLine]:
    """The part's lines, saying their dates when the part is prorated."""
    if not part.dated or part.start is None:
        return lines
    dates = {"start": part.start.isoformat(), "end": part.end.isoformat()}
    out = []
    for line in lines:
        descriptions = dict(line.descriptions) or {DEFAULT_LANGUAGE: line.description}
        worded = {
            language: words(language)["line.dates"].format(text=text, **dates)
            for language, text in descriptions.items()
        }
        out.append(replace(line, description=worded[DEFAULT_LANGUAGE], descriptions=worded))
    return out


# --- greater-of and lesser-of --------------------------------------------------------------


def choice_lines(
    choice: ChoiceCharge, bill: Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """The lines of the greater (or lesser) of the compared components, saying what was chosen.

    The compared components bill nothing themselves; a tie goes to the first one named.
    """
    totals = [(sum(x.amount_cents for x in lines.get(name, ())), name) for name in choice.of]
    for name in choice.of:
        lines.setdefault(name, [])
    pick = max if choice.choose == "greater" else min
    cents, chosen = pick(totals, key=lambda total: total[0])
    chosen_lines = lines[chosen]
    for name in choice.of:
        lines[name] = []
    if not chosen_lines:
        return []
    compared = " / ".join(format_cents(total) for total, _ in totals)
    first = chosen_lines[0]
    texts = dict(first.descriptions) or {DEFAULT_LANGUAGE: first.description}
    worded = {
        language: words(language)[f"line.{choice.choose}"].format(text=text, choices=compared)
        for language, text in texts.items()
    }
    first = replace(first, description=worded[DEFAULT_LANGUAGE], descriptions=worded)
    return [first, *chosen_lines[1:]]


# --- credits -------------------------------------------------------------------------------


def credit_lines(
    credit: Credit, bill: Bill, lines: dict[str, list[ComputedLine]]
) -> list[ComputedLine]:
    """A negative line for an eligible account; never more than the bill so far."""
    if not bill.flags & set(credit.eligible):
        return []
    so_far = sum(x.amount_cents for found in lines.values() for x in found)
    if credit.percent is not None:
        scope = credit.applies_to or tuple(
            c.id for c in bill.components if not isinstance(c, Credit)
        )
        base = sum(x.amount_cents for name in scope for x in lines.get(name, ()))
        cents = dollars_to_cents(Decimal(base) * credit.percent / 10000, bill.rounding)
        texts = say_around(
            credit,
            "line.credit_percent",
            percent=plain_number(credit.percent),
            amount=format_cents(base),
        )
        line = adjustment(credit, texts, -cents)
    else:
        quantity = bill.fixed_factor
        units = say(f"unit.{bill.version.frequency}")
        texts = in_languages(credit.description, credit.translations)
        line = priced(bill, credit, texts, quantity, units, -credit.amount)  # type: ignore[operator]
        cents = -line.amount_cents
    if cents <= 0:
        return []
    if cents > so_far:
        # NOTE: a credit never takes the bill below zero.
        if so_far <= 0:
            return []
        texts = say_around(credit, "line.credit_limited", amount=format_cents(so_far))
        line = adjustment(credit, texts, -so_far)
    return [line]


# --- charges per unit of an attribute ------------------------------------------------------


def per_unit_lines(charge: PerUnitCharge, bill: Bill) -> list[ComputedLine]:
    """One line: the attribute in whole units of `size` (at least `at_least`) × rate."""
    value = bill.attributes.get(charge.attribute)
    if value is None:
        raise RuleError(
            f"{bill.where}: component {charge.id!r} bills per {charge.attribute}, but the "
            f"service point has no {charge.attribute}"
        )
    units = (Decimal(value) / charge.size).quantize(ONE, rounding=ROUNDING_RULES[charge.rounding])
    if value > 0:
        units = max(units, charge.at_least)
    descriptions = in_languages(charge.description, charge.translations)
    unit_texts = in_languages(charge.unit, charge.unit_translations)
    unit_texts = {language: unit_texts.get(language, charge.unit) for language in LANGUAGES}
    quantity = units * bill.fixed_factor
    return [priced(bill, charge, descriptions, quantity, unit_texts, charge.rate)]


# --- winter averaging ----------------------------------------------------------------------


def is_winter(version: RateVersionSpec, period_end: date) -> bool:
    """Whether a period ending on `period_end` is a winter period of the version."""
    return version.winter is not None and period_end.month in version.winter.months


def winter_billed(
    plan: RatePlanSpec,
    version: RateVersionSpec,
    period_end: date,
    usage: Decimal | None,
    average: Decimal | None,
) -> tuple[Decimal | None, list[ComputedLine]]:
    """(the usage to bill, a line saying so): outside winter, the average replaces the usage."""
    winter = version.winter
    if winter is None or usage is None or period_end.month in winter.months:
        return usage, []
    key = "line.winter" if average is not None else "line.winter_default"
    average = step_usage(winter.default if average is None else Decimal(average), version)
    billed = min(usage, average) if winter.bill == "lesser" else average
    texts = say(
        key, average=plain_number(average), used=plain_number(usage), symbol=UNITS[plan.unit][3]
    )
    line = ComputedLine(texts[DEFAULT_LANGUAGE], 0, source="winter_average", descriptions=texts)
    return billed, [line]
