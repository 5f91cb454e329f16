"""Parsing the components and settings added for rating as towns bill: seasons (months),
greater-of and lesser-of, credits, per-unit charges and winter averaging.

Pure module, called by billing.rate_plan_format; every error is a RuleError naming the place.
"""

from __future__ import annotations

from typing import Any

from billing.computed import RuleError
from billing.rate_plan_reading import (
    NAME_PATTERN,
    read_list,
    read_mapping,
    read_number,
    read_scope,
    read_text,
    unit_text,
)
from billing.rate_plan_spec import (
    MONEY_PLACES,
    QUANTITY_PLACES,
    RATE_PLACES,
    WINTER_BILLING,
    ChoiceCharge,
    Credit,
    PerUnitCharge,
    WinterAverage,
)
from billing.words import parse_text
from core.money import ROUNDING_RULES


def parse_winter(value: Any, where: str) -> WinterAverage:
    """The winter months, the default average and what the average replaces."""
    doc = read_mapping(value, where, ("months", "default"), ("bill",))
    bill = doc.get("bill", "lesser")
    if bill not in WINTER_BILLING:
        raise RuleError(f"{where}.bill: must be one of {', '.join(WINTER_BILLING)}")
    return WinterAverage(
        parse_months(doc["months"], f"{where}.months"),
        read_number(doc["default"], f"{where}.default", QUANTITY_PLACES),
        bill,
    )


def parse_months(value: Any, where: str) -> tuple[int, ...]:
    """A list of month numbers 1-12, each once, kept in the order of the year."""
    items = read_list(value, where)
    for index, month in enumerate(items):
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise RuleError(f"{where}[{index}]: {month!r} is not a month number 1-12")
    if len(set(items)) != len(items):
        raise RuleError(f"{where}: names a month twice")
    return tuple(sorted(items))


def parse_choice(doc: dict, where: str, ident: str, description: str) -> ChoiceCharge:
    """The greater (or lesser) of two or more components."""
    names = doc["of"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RuleError(f"{where}.of: must be a list of component ids")
    if len(names) < 2 or len(set(names)) != len(names):
        raise RuleError(f"{where}.of: must name two or more different components")
    return ChoiceCharge(ident, description, tuple(names), doc["kind"].removesuffix("_of"))


def parse_credit(doc: dict, where: str, ident: str, description: str) -> Credit:
    """A discount: a percentage or an amount per period, for accounts with an eligible flag."""
    if ("percent" in doc) == ("amount" in doc):
        raise RuleError(f"{where}: give either percent or amount")
    eligible = read_list(doc["eligible"], f"{where}.eligible")
    for index, flag in enumerate(eligible):
        read_text(flag, f"{where}.eligible[{index}]", NAME_PATTERN, longest=32)
    percent = amount = None
    if "percent" in doc:
        percent = read_number(doc["percent"], f"{where}.percent", 4, positive=True)
        if percent > 100:
            raise RuleError(f"{where}.percent: {percent} is more than 100")
    else:
        amount = read_number(doc["amount"], f"{where}.amount", MONEY_PLACES, positive=True)
    scope = read_scope(doc, where)
    return Credit(ident, description, tuple(sorted(set(eligible))), percent, amount, scope)


def parse_per_unit(doc: dict, where: str, ident: str, description: str) -> PerUnitCharge:
    """A rate per unit of a service point attribute, the attribute counted in units of `size`."""
    rounding = doc.get("rounding", "half_up")
    if rounding not in ROUNDING_RULES:
        raise RuleError(f"{where}.rounding: must be one of {', '.join(ROUNDING_RULES)}")
    unit, unit_translations = parse_text(doc.get("unit", "unit"), f"{where}.unit", unit_text)
    return PerUnitCharge(
        ident,
        description,
        read_text(doc["attribute"], f"{where}.attribute", NAME_PATTERN, longest=32),
        read_number(doc["rate"], f"{where}.rate", RATE_PLACES),
        read_number(doc.get("size", 1), f"{where}.size", QUANTITY_PLACES, positive=True),
        rounding,
        read_number(doc.get("at_least", 0), f"{where}.at_least", QUANTITY_PLACES),
        unit,
        unit_translations,
    )
