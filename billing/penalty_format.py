"""Penalty and interest rules as data: parse, validate and write back a rules document.

Pure module: a dict (from JSON or YAML) in, frozen dataclasses out. Percentages
and dollar amounts are quoted strings or integers, never floats, so that no
value is rounded before it reaches the rules. docs/penalties.md describes the
format; errors raise RuleError naming the place, e.g. `rules[1].schedule[3].percent`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import yaml

from billing.computed import RuleError
from billing.words import WORDS, Translations, missing_texts, parse_text, text_document

FORMAT_VERSION = 1
RULE_TYPES = ("one_time", "schedule", "monthly", "daily")
INVOICE_KINDS = ("tax", "utility")
#: Principal line categories a rule may be charged on (LineCategory values).
PRINCIPAL_CATEGORIES = ("charge", "fee", "tax")
CHARGE_CATEGORIES = ("interest", "penalty")
#: unpaid_with_charges: the unpaid principal plus the penalties and interest charged before and
#: still unpaid ("the late charge becomes part of the unpaid balance"); account_past_due: the
#: unpaid principal plus that of the account's other past-due bills of the same kind (one_time).
BASES = ("unpaid", "original", "unpaid_with_charges", "account_past_due")
MONTH_COUNTS = ("calendar", "from_due_date")
#: How a monthly percentage is rounded: each month by itself, or the running total once.
MONTHLY_ROUNDING = ("each_month", "cumulative")
MAX_GRACE_DAYS = 366
#: Days in a year for daily interest: actual days at 1/365 (or 1/360) of the annual rate each.
DAY_COUNTS = ("actual_365", "actual_360")
#: Where interest starts once the grace period is missed: after the grace days, or the due date.
INTEREST_FROM = ("grace_end", "due_date")
#: Dates a rule moves to the next working day when they fall on a weekend or holiday.
WORKING_DAY_DATES = ("due_date", "grace_end")
_DEFAULT_CATEGORY = {
    "one_time": "penalty",
    "schedule": "penalty",
    "monthly": "interest",
    "daily": "interest",
}
#: A rule's description when it gives none, in every language.
_DEFAULT_DESCRIPTION = {
    category: {language: table[f"{category}.default"] for language, table in WORDS.items()}
    for category in ("penalty", "interest")
}
_COMMON_KEYS = frozenset(
    {
        "id",
        "type",
        "description",
        "applies_to",
        "charge_category",
        "base",
        "grace_days",
        "cap",
        "working_days",
    }
)
_TYPE_KEYS = {
    "one_time": frozenset({"percent", "flat", "plus_flat", "minimum_past_due", "minimum_charge"}),
    "schedule": frozenset({"schedule", "months"}),
    "monthly": frozenset(
        {
            "percent",
            "flat",
            "plus_flat",
            "months",
            "round",
            "minimum_past_due",
            "minimum_charge",
            "interest_from",
        }
    ),
    "daily": frozenset({"annual_percent", "day_count", "minimum_past_due", "interest_from"}),
}
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_PERCENT_RE = re.compile(r"\d{1,3}(\.\d{1,6})?")
_DOLLARS_RE = re.compile(r"\d{1,9}(\.\d{1,2})?")


@dataclass(frozen=True)
class AppliesTo:
    """Which invoices a rule is charged on, and on which of their principal lines."""

    invoice_kinds: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleStep:
    """The cumulative percentage a statutory grid reaches in one month of delinquency."""

    #: 1 = the first month of delinquency.
    month: int
    percent: Decimal


@dataclass(frozen=True)
class RateTier:
    """One rate of a rate by amount: it applies to the part of the base up to `up_to_cents`
    above the tier before (N.J.S.A. 54:4-67: 8% on the first $1,500.00, 18% above)."""

    #: The upper end of the tier, in cents; None for the last, open tier.
    up_to_cents: int | None
    percent: Decimal


@dataclass(frozen=True)
class PenaltyCap:
    """The most a rule may charge on one invoice in total; the lower limit wins if both are set."""

    amount_cents: int | None = None
    #: Percent of the principal as billed in the rule's categories.
    percent: Decimal | None = None


@dataclass(frozen=True)
class PenaltyRule:
    """One penalty or interest rule, validated; `type` says which fields apply."""

    id: str
    #: one_time, schedule or monthly.
    type: str
    applies_to: AppliesTo
    description: str
    #: What the charges are posted as: penalty or interest.
    charge_category: str
    #: What a percentage is taken of: the unpaid principal, or the principal as billed.
    base: str = "unpaid"
    #: How months of delinquency are counted (schedule and monthly only).
    months: str | None = None
    #: How a monthly percentage is rounded (monthly percent rules only).
    round: str | None = None
    grace_days: int = 0
    percent: Decimal | None = None
    flat_cents: int | None = None
    schedule: tuple[ScheduleStep, ...] = ()
    #: Nothing is charged while the past-due principal is below this.
    minimum_past_due_cents: int | None = None
    #: A percentage charge below this is raised to it.
    minimum_charge_cents: int | None = None
    cap: PenaltyCap | None = None
    #: The description in languages other than the default (billing.words).
    description_translations: Translations = ()
    #: A flat amount added to the percentage (one_time, monthly); minimum_charge is over both.
    plus_flat_cents: int | None = None
    #: Daily rules: the annual rate, and how many days a year has (actual_365, actual_360).
    annual_percent: Decimal | None = None
    day_count: str | None = None
    #: Monthly and daily rules: "due_date" charges back to the due date once the grace is missed.
    interest_from: str | None = None
    #: Which of due_date and grace_end move to the next working day (billing.working_days).
    working_days: tuple[str, ...] = ()
    #: A rate by amount instead of one rate: `percent` (one_time, monthly) or `annual_percent`
    #: (daily) given as tiers; that field is then None (billing.penalty_tiers).
    tiers: tuple[RateTier, ...] = ()


def load_penalty_file(path: str | Path) -> tuple[PenaltyRule, ...]:
    """Read a YAML or JSON rules file; errors name the file and the place in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise RuleError(f"{path.name}: cannot be read as rules: {error}") from None
    try:
        return parse_penalty_rules(document)
    except RuleError as error:
        raise RuleError(f"{path.name}: {error}") from None


def parse_penalty_rules(document: dict) -> tuple[PenaltyRule, ...]:
    """Validate a rules document and return its rules, in document order."""
    document = _mapping(document, "document")
    _check_keys(document, {"version", "rules"}, {"version", "rules"}, "document")
    if document["version"] != FORMAT_VERSION or isinstance(document["version"], bool):
        _fail("version", f"must be {FORMAT_VERSION}")
    items = document["rules"]
    if not isinstance(items, list):
        _fail("rules", "must be a list of rules")
    rules: list[PenaltyRule] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        rule = _parse_rule(item, f"rules[{index}]")
        if rule.id in seen:
            _fail(f"rules[{index}].id", f"{rule.id!r} is already used by rules[{seen[rule.id]}]")
        seen[rule.id] = index
        rules.append(rule)
    return tuple(rules)


def _parse_rule(item: Any, place: str) -> PenaltyRule:
    """Validate one rule: the fields every rule has, then those of its type."""
    item = _mapping(item, place)
    rule_type = _choice(item.get("type"), RULE_TYPES, f"{place}.type")
    allowed = _COMMON_KEYS | _TYPE_KEYS[rule_type]
    _check_keys(item, allowed, {"id", "type", "applies_to"}, place)
    rule_id = _text(item["id"], f"{place}.id")
    if not _ID_RE.fullmatch(rule_id):
        _fail(f"{place}.id", "use 1-64 lowercase letters, digits, '-', '_' or '.'")
    category = _choice(
        item.get("charge_category", _DEFAULT_CATEGORY[rule_type]),
        CHARGE_CATEGORIES,
        f"{place}.charge_category",
    )
    description, translations = parse_text(
        item.get("description", _DEFAULT_DESCRIPTION[category]), f"{place}.description", _text
    )
    common = {
        "id": rule_id,
        "type": rule_type,
        "applies_to": _parse_applies_to(item["applies_to"], f"{place}.applies_to"),
        "description": description,
        "description_translations": translations,
        "charge_category": category,
        "base": _choice(item.get("base", "unpaid"), BASES, f"{place}.base"),
        "grace_days": _integer(item.get("grace_days", 0), f"{place}.grace_days", 0, MAX_GRACE_DAYS),
        "cap": _parse_cap(item["cap"], f"{place}.cap") if "cap" in item else None,
        "working_days": _working_days(item.get("working_days", []), f"{place}.working_days"),
    }
    if rule_type == "schedule":
        return _parse_schedule_rule(item, place, common)
    if rule_type == "daily":
        return _parse_daily_rule(item, place, common)
    return _parse_rate_rule(item, place, common)


def _working_days(value: Any, place: str) -> tuple[str, ...]:
    """The dates a rule moves to the next working day: none, due_date, grace_end or both."""
    if value == []:
        return ()
    return _choice_list(value, WORKING_DAY_DATES, place)


def _interest_from(item: Mapping, place: str) -> str:
    """Where interest starts once the grace period is missed (monthly and daily rules)."""
    value = _choice(item.get("interest_from", "grace_end"), INTEREST_FROM, f"{place}.interest_from")
    if value == "due_date" and not item.get("grace_days"):
        _fail(
            f"{place}.interest_from", "due_date needs grace_days: without them it changes nothing"
        )
    return value


def _parse_daily_rule(item: Mapping, place: str, common: dict) -> PenaltyRule:
    """The fields of a daily rule: an annual rate, its day count, where interest starts."""
    if "annual_percent" not in item:
        _fail(place, "missing annual_percent")
    annual, tiers = _rate(item["annual_percent"], f"{place}.annual_percent")
    if common["base"] in ("original", "account_past_due"):
        _fail(f"{place}.base", "a daily rule charges on the bill's own unpaid balance each day")
    return PenaltyRule(
        **common,
        annual_percent=annual,
        tiers=tiers,
        day_count=_choice(item.get("day_count", "actual_365"), DAY_COUNTS, f"{place}.day_count"),
        interest_from=_interest_from(item, place),
        minimum_past_due_cents=_optional_dollars(item, "minimum_past_due", place),
    )


def _parse_rate_rule(item: Mapping, place: str, common: dict) -> PenaltyRule:
    """The fields of a one_time or monthly rule: a percentage or a flat amount, and minimums."""
    if ("percent" in item) == ("flat" in item):
        _fail(place, "give exactly one of percent or flat")
    percent = flat = None
    tiers: tuple[RateTier, ...] = ()
    if "percent" in item:
        percent, tiers = _rate(item["percent"], f"{place}.percent")
    else:
        flat = _positive_dollars(item["flat"], f"{place}.flat")
    for key in ("minimum_charge", "round", "plus_flat"):
        if key in item and flat is not None:
            _fail(f"{place}.{key}", "applies to a percent, not to a flat amount")
    if "plus_flat" in item and item.get("round") == "cumulative":
        _fail(f"{place}.plus_flat", "is added each month: use round: each_month")
    months = rounding = None
    if common["type"] == "monthly":
        months = _choice(item.get("months", "calendar"), MONTH_COUNTS, f"{place}.months")
    if common["type"] == "monthly" and flat is None:
        rounding = _choice(item.get("round", "each_month"), MONTHLY_ROUNDING, f"{place}.round")
    if common["type"] != "one_time" and common["base"] == "account_past_due":
        # NOTE: a periodic charge on the whole account's arrears, made on every open bill,
        # would charge the same arrears once per bill each month.
        _fail(f"{place}.base", "account_past_due is for one_time rules")
    if common["type"] == "one_time" and "interest_from" in item:
        _fail(f"{place}.interest_from", "applies to monthly and daily rules")
    return PenaltyRule(
        **common,
        months=months,
        round=rounding,
        plus_flat_cents=_optional_dollars(item, "plus_flat", place),
        interest_from=_interest_from(item, place) if common["type"] == "monthly" else None,
        percent=percent,
        tiers=tiers,
        flat_cents=flat,
        minimum_past_due_cents=_optional_dollars(item, "minimum_past_due", place),
        minimum_charge_cents=_optional_dollars(item, "minimum_charge", place),
    )


def _parse_schedule_rule(item: Mapping, place: str, common: dict) -> PenaltyRule:
    """The fields of a schedule rule: the cumulative grid and how months are counted."""
    if "schedule" not in item:
        _fail(place, "missing schedule")
    steps = item["schedule"]
    if not isinstance(steps, list) or not steps:
        _fail(f"{place}.schedule", "must be a non-empty list of {month, percent}")
    parsed: list[ScheduleStep] = []
    for index, step in enumerate(steps):
        step_place = f"{place}.schedule[{index}]"
        step = _mapping(step, step_place)
        _check_keys(step, {"month", "percent"}, {"month", "percent"}, step_place)
        month = _integer(step["month"], f"{step_place}.month", 1, 1200)
        percent = _percent(step["percent"], f"{step_place}.percent")
        if parsed and month <= parsed[-1].month:
            _fail(f"{step_place}.month", "must be later than the month before")
        if parsed and percent < parsed[-1].percent:
            _fail(f"{step_place}.percent", "must not be lower than the month before (cumulative)")
        parsed.append(ScheduleStep(month, percent))
    if parsed[-1].percent == 0:
        _fail(f"{place}.schedule", "never charges anything (every percent is 0)")
    months = _choice(item.get("months", "calendar"), MONTH_COUNTS, f"{place}.months")
    if common["base"] == "account_past_due":
        _fail(f"{place}.base", "account_past_due is for one_time rules")
    return PenaltyRule(**common, months=months, schedule=tuple(parsed))


def _rate(value: Any, place: str) -> tuple[Decimal | None, tuple[RateTier, ...]]:
    """One percentage more than 0, or a list of tiers by amount: (percent, ()) or (None, tiers)."""
    if not isinstance(value, list):
        percent = _percent(value, place)
        if percent == 0:
            _fail(place, "must be more than 0")
        return percent, ()
    if not value:
        _fail(place, "give a percentage, or a non-empty list of {up_to, percent} tiers")
    tiers: list[RateTier] = []
    for index, tier in enumerate(value):
        tier_place = f"{place}[{index}]"
        tier = _mapping(tier, tier_place)
        _check_keys(tier, {"up_to", "percent"}, {"percent"}, tier_place)
        if tiers and tiers[-1].up_to_cents is None:
            _fail(tier_place, f"comes after {place}[{index - 1}], which has no up_to (open)")
        if _negative(tier["percent"]):
            _fail(f"{tier_place}.percent", "must not be negative")
        percent = _percent(tier["percent"], f"{tier_place}.percent")
        up_to = None
        if "up_to" in tier:
            if _negative(tier["up_to"]):
                _fail(f"{tier_place}.up_to", "must not be negative")
            up_to = _positive_dollars(tier["up_to"], f"{tier_place}.up_to")
            below = tiers[-1].up_to_cents if tiers else None
            if below is not None and up_to <= below:
                _fail(
                    f"{tier_place}.up_to",
                    f"must be more than {place}[{index - 1}].up_to ({cents_text(below)}):"
                    " tiers go from the lowest amount up",
                )
        tiers.append(RateTier(up_to, percent))
    if tiers[-1].up_to_cents is not None:
        _fail(f"{place}[{len(tiers) - 1}]", "the last tier has no up_to: it holds the rest")
    if all(tier.percent == 0 for tier in tiers):
        _fail(place, "never charges anything (every percent is 0)")
    return None, tuple(tiers)


def _negative(value: Any) -> bool:
    """Whether a number written as an int or a string is below zero (a float is refused later)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value < 0
    return isinstance(value, str) and value.strip().startswith("-")


def _parse_applies_to(value: Any, place: str) -> AppliesTo:
    """Validate applies_to: the invoice kinds and principal line categories, sorted."""
    value = _mapping(value, place)
    keys = {"invoice_kinds", "categories"}
    _check_keys(value, keys, keys, place)
    kinds = _choice_list(value["invoice_kinds"], INVOICE_KINDS, f"{place}.invoice_kinds")
    categories = _choice_list(value["categories"], PRINCIPAL_CATEGORIES, f"{place}.categories")
    return AppliesTo(invoice_kinds=kinds, categories=categories)


def _parse_cap(value: Any, place: str) -> PenaltyCap:
    """Validate a cap: an amount, a percent of the billed principal, or both."""
    value = _mapping(value, place)
    _check_keys(value, {"amount", "percent"}, set(), place)
    if not value:
        _fail(place, "give amount, percent or both")
    percent = None
    if "percent" in value:
        percent = _percent(value["percent"], f"{place}.percent", maximum=Decimal(1000))
        if percent == 0:
            _fail(f"{place}.percent", "must be more than 0")
    amount = _optional_dollars(value, "amount", place)
    return PenaltyCap(amount_cents=amount, percent=percent)


def rules_to_document(rules: Sequence[PenaltyRule]) -> dict:
    """The canonical JSON-able document for rules; it parses back to equal rules."""
    return {"version": FORMAT_VERSION, "rules": [_rule_to_dict(rule) for rule in rules]}


def _rule_to_dict(rule: PenaltyRule) -> dict:
    """One rule as a document entry, keys in a fixed order, only the ones that apply."""
    entry: dict[str, Any] = {
        "id": rule.id,
        "type": rule.type,
        "description": text_document(rule.description, rule.description_translations),
        "applies_to": {
            "invoice_kinds": list(rule.applies_to.invoice_kinds),
            "categories": list(rule.applies_to.categories),
        },
        "charge_category": rule.charge_category,
        "base": rule.base,
        "grace_days": rule.grace_days,
    }
    optional = {
        "months": rule.months,
        "round": rule.round,
        "percent": None if rule.percent is None else decimal_text(rule.percent),
        "flat": None if rule.flat_cents is None else cents_text(rule.flat_cents),
        "minimum_past_due": _cents_or_none(rule.minimum_past_due_cents),
        "minimum_charge": _cents_or_none(rule.minimum_charge_cents),
        "plus_flat": _cents_or_none(rule.plus_flat_cents),
        "annual_percent": None
        if rule.annual_percent is None
        else decimal_text(rule.annual_percent),
        "day_count": rule.day_count,
        # NOTE: the defaults of fields added later are left out, so earlier documents stay as stored.
        "interest_from": rule.interest_from if rule.interest_from == "due_date" else None,
        "working_days": list(rule.working_days) or None,
    }
    if rule.tiers:
        optional["annual_percent" if rule.type == "daily" else "percent"] = [
            {"percent": decimal_text(tier.percent)}
            if tier.up_to_cents is None
            else {"up_to": cents_text(tier.up_to_cents), "percent": decimal_text(tier.percent)}
            for tier in rule.tiers
        ]
    entry.update({key: value for key, value in optional.items() if value is not None})
    if rule.schedule:
        entry["schedule"] = [
            {"month": step.month, "percent": decimal_text(step.percent)} for step in rule.schedule
        ]
    if rule.cap is not None:
        cap = {"amount": _cents_or_none(rule.cap.amount_cents)}
        cap["percent"] = None if rule.cap.percent is None else decimal_text(rule.cap.percent)
        entry["cap"] = {key: value for key, value in cap.items() if value is not None}
    return entry


def rules_text_warnings(rules: Sequence[PenaltyRule], languages: tuple[str, ...]) -> list[str]:
    """A warning for each rule whose description has no wording in one of the town's languages."""
    warnings = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}].description"
        warnings += missing_texts(where, rule.description_translations, languages)
    return warnings


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain digits without trailing zeros: Decimal('6.50') -> '6.5'."""
    return format(value.normalize(), "f")


def cents_text(cents: int) -> str:
    """Cents as a dollar string for a document: 1250 -> '12.50'."""
    return f"{cents // 100}.{cents % 100:02d}"


def _cents_or_none(cents: int | None) -> str | None:
    """cents_text, passing None through."""
    return None if cents is None else cents_text(cents)


def _fail(place: str, message: str) -> NoReturn:
    """Raise the RuleError for one place in the document."""
    raise RuleError(f"{place}: {message}")


def _mapping(value: Any, place: str) -> Mapping:
    """The value, which must be a mapping with string keys."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        _fail(place, "must be a mapping of names to values")
    return value


def _check_keys(value: Mapping, allowed: set | frozenset, required: set, place: str) -> None:
    """Refuse unknown keys (a typo must not pass silently) and missing required ones."""
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(f"{place}.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(set(required) - set(value))
    if missing:
        _fail(place, f"missing {missing[0]}")


def _text(value: Any, place: str) -> str:
    """A non-empty single-line string of at most 200 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or "\n" in value:
        _fail(place, "must be a non-empty line of text (at most 200 characters)")
    return value.strip()


def _choice(value: Any, choices: Sequence[str], place: str) -> str:
    """One of the named choices."""
    if value not in choices or not isinstance(value, str):
        _fail(place, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def _choice_list(value: Any, choices: Sequence[str], place: str) -> tuple[str, ...]:
    """A non-empty list of distinct choices, returned sorted."""
    if not isinstance(value, list) or not value:
        _fail(place, f"must be a non-empty list of {', '.join(choices)}")
    for index, item in enumerate(value):
        _choice(item, choices, f"{place}[{index}]")
    if len(set(value)) != len(value):
        _fail(place, "lists a value twice")
    return tuple(sorted(value))


def _integer(value: Any, place: str, minimum: int, maximum: int) -> int:
    """A whole number within limits (a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(place, "must be a whole number")
    if not minimum <= value <= maximum:
        _fail(place, f"must be from {minimum} to {maximum}")
    return value


def _exact_text(value: Any, pattern: re.Pattern, place: str, what: str) -> str:
    """The text of a decimal value written as a string or an int; a float is refused."""
    if isinstance(value, float):
        # NOTE: YAML and JSON read 1.5 as a binary float; money must never pass through one.
        _fail(place, f"write {what} as a quoted string ('{value}'), not a bare decimal number")
    if isinstance(value, bool) or not isinstance(value, int | str):
        _fail(place, f"must be {what} written as a string")
    text = str(value).strip()
    if not pattern.fullmatch(text):
        _fail(place, f"{text!r} is not {what}")
    return text


def _percent(value: Any, place: str, maximum: Decimal = Decimal(100)) -> Decimal:
    """A percentage such as '1.5' (1.5 %), from 0 up to maximum, at most 6 decimals."""
    text = _exact_text(value, _PERCENT_RE, place, "a percentage like '1.5'")
    percent = Decimal(text)
    if percent > maximum:
        _fail(place, f"must not be more than {decimal_text(maximum)} (percent)")
    return percent


def _dollars(value: Any, place: str) -> int:
    """A dollar amount such as '12.50' or 12, as cents."""
    text = _exact_text(value, _DOLLARS_RE, place, "a dollar amount like '12.50'")
    return int(Decimal(text) * 100)


def _positive_dollars(value: Any, place: str) -> int:
    """A dollar amount that is more than zero, as cents."""
    cents = _dollars(value, place)
    if cents <= 0:
        _fail(place, "must be more than 0.00")
    return cents


def _optional_dollars(item: Mapping, key: str, place: str) -> int | None:
    """item[key] as positive cents, or None when the key is absent."""
    return _positive_dollars(item[key], f"{place}.{key}") if key in item else None
