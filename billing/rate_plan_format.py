"""Rate-plan documents: parse and validate a plan (loaded from JSON or YAML) into frozen values.

Pure module: plain values in, plain values out. Every error is a RuleError whose message
names the place, e.g. ``versions[0].components[2].blocks[1].up_to: ...``. Numbers are
written as strings or integers; a float is refused, so a rate is never rounded in binary.
docs/rates.md describes the format; billing.rate_plan_spec holds the values.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billing.computed import RuleError
from billing.rate_plan_checks import check_choices, check_limits_agree, check_seasons
from billing.rate_plan_kinds import (
    parse_choice,
    parse_credit,
    parse_months,
    parse_per_unit,
    parse_winter,
)
from billing.rate_plan_reading import (
    ID_PATTERN,
    SERVICE_KIND_PATTERN,
    key_path,
    parse_unit,
    read_date,
    read_flag,
    read_list,
    read_mapping,
    read_number,
    read_scope,
    read_text,
    unit_text,
)
from billing.rate_plan_spec import (
    FREQUENCIES,
    MONEY_PLACES,
    PRORATIONS,
    QUANTITY_PLACES,
    RATE_PLACES,
    UNITS,
    USAGE_CHARGES,
    Allowance,
    Block,
    BlockCharge,
    BlockTable,
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
    UnitConversion,
    UsageAboveCharge,
    plain_number,
    plan_to_document,  # noqa: F401 (the service imports it from here)
)
from billing.words import parse_text
from core.money import ROUNDING_RULES

# --- the plan ------------------------------------------------------------------------------


def parse_rate_plan(document: dict) -> RatePlanSpec:
    """Validate a rate-plan document and return its frozen spec."""
    required = ("code", "name", "service_kind", "versions")
    doc = read_mapping(document, "", required, ("unit", "conversions"))
    code = read_text(doc["code"], "code", ID_PATTERN)
    name, name_translations = parse_text(doc["name"], "name", read_text)
    service_kind = read_text(doc["service_kind"], "service_kind", SERVICE_KIND_PATTERN)
    unit, unit_translations = "", ()
    if "unit" in doc:
        unit_name, unit_translations = parse_text(doc["unit"], "unit", unit_text)
        unit = parse_unit(unit_name, "unit.en" if isinstance(doc["unit"], dict) else "unit")
    conversions = _parse_conversions(doc.get("conversions", {}), "conversions")
    items = read_list(doc["versions"], "versions")
    versions = [_parse_version(item, f"versions[{i}]") for i, item in enumerate(items)]
    seen: dict[date, int] = {}
    for index, version in enumerate(versions):
        if version.effective_from in seen:
            raise RuleError(
                f"versions[{index}].effective_from: {version.effective_from} is also the date of "
                f"versions[{seen[version.effective_from]}]"
            )
        seen[version.effective_from] = index
    if not unit and any(v.bills_usage for v in versions):
        raise RuleError("unit: is required when a version bills usage")
    ordered = tuple(sorted(versions, key=lambda v: v.effective_from))
    return RatePlanSpec(
        code, name, service_kind, unit, ordered, conversions, name_translations, unit_translations
    )


def _parse_conversions(value: Any, where: str) -> tuple[UnitConversion, ...]:
    """Parse {'HCF': '748 gallons'}: one declared conversion per pair of unit families."""
    if not isinstance(value, dict):
        raise RuleError(f"{where}: must be a mapping such as {{'HCF': '748 gallons'}}")
    found: dict[frozenset[str], str] = {}
    conversions = []
    for key, text in value.items():
        here = key_path(where, str(key))
        unit = parse_unit(key, here)
        amount_text, _, other_name = text.partition(" ") if isinstance(text, str) else ("", "", "")
        amount = read_number(amount_text, here, RATE_PLACES, positive=True)
        other = parse_unit(other_name, here)
        families = frozenset((UNITS[unit][0], UNITS[other][0]))
        if len(families) == 1:
            raise RuleError(f"{here}: {unit} and {other} convert exactly already; declare none")
        if families in found:
            raise RuleError(f"{here}: the conversion {found[families]} already links these units")
        found[families] = key
        conversions.append(UnitConversion(unit, amount, other))
    return tuple(conversions)


def _parse_version(value: Any, where: str) -> RateVersionSpec:
    """Parse one version and check its components fit together."""
    doc = read_mapping(
        value,
        where,
        ("effective_from", "frequency", "components"),
        ("usage_step", "usage_rounding", "proration", "scale_blocks", "winter_average"),
    )
    frequency = doc["frequency"]
    if frequency not in FREQUENCIES:
        raise RuleError(f"{where}.frequency: must be one of {', '.join(FREQUENCIES)}")
    rounding = doc.get("usage_rounding", "down")
    if rounding not in ROUNDING_RULES:
        raise RuleError(f"{where}.usage_rounding: must be one of {', '.join(ROUNDING_RULES)}")
    items = read_list(doc["components"], f"{where}.components")
    components = tuple(
        parse_component(item, f"{where}.components[{i}]") for i, item in enumerate(items)
    )
    _check_components(components, f"{where}.components")
    proration = doc.get("proration", "none")
    if proration not in PRORATIONS:
        raise RuleError(f"{where}.proration: must be one of {', '.join(PRORATIONS)}")
    winter = None
    if "winter_average" in doc:
        winter = parse_winter(doc["winter_average"], f"{where}.winter_average")
        if not any(isinstance(c, USAGE_CHARGES) for c in components):
            raise RuleError(f"{where}.winter_average: the version has no usage charge to average")
    return RateVersionSpec(
        effective_from=read_date(doc["effective_from"], f"{where}.effective_from"),
        frequency=frequency,
        components=components,
        usage_step=read_number(
            doc.get("usage_step", "0.0001"), f"{where}.usage_step", QUANTITY_PLACES, positive=True
        ),
        usage_rounding=rounding,
        proration=proration,
        scale_blocks=read_flag(doc.get("scale_blocks", False), f"{where}.scale_blocks"),
        winter=winter,
    )


def _check_components(components: tuple[Component, ...], where: str) -> None:
    """Ids are unique (but for seasons), one allowance at most, and scopes name what they may."""
    check_seasons(components, where)
    kinds: dict[str, Component] = {c.id: c for c in components}
    if sum(isinstance(c, Allowance) for c in components) > 1:
        raise RuleError(f"{where}: a version has at most one allowance")
    members = check_choices(components, kinds, where)
    for index, component in enumerate(components):
        if isinstance(component, MinimumCharge | MaximumCharge | Credit):
            _check_scope(component, kinds, f"{where}[{index}].applies_to")
            for name in component.applies_to:
                if name in members:
                    raise RuleError(
                        f"{where}[{index}].applies_to: {name!r} is compared by "
                        f"{members[name]!r}; name {members[name]!r} instead"
                    )
        has_usage = any(isinstance(c, USAGE_CHARGES) for c in components)
        if isinstance(component, MaximumCharge) and not component.applies_to and not has_usage:
            raise RuleError(f"{where}[{index}]: a maximum needs usage charges to cap")
    check_limits_agree(components, where)


def _check_scope(
    limit: MinimumCharge | MaximumCharge | Credit, kinds: dict[str, Component], where: str
) -> None:
    """A limit names existing charges; a minimum may also name a maximum, never a minimum."""
    allowed: tuple[type, ...] = (FixedCharge, *USAGE_CHARGES, ChoiceCharge, PerUnitCharge)
    if isinstance(limit, MinimumCharge):
        allowed = (*allowed, MaximumCharge)
    if isinstance(limit, Credit):
        allowed = (*allowed, MaximumCharge, MinimumCharge)
    for name in limit.applies_to:
        if name not in kinds:
            raise RuleError(f"{where}: no component has the id {name!r}")
        if name == limit.id or not isinstance(kinds[name], allowed):
            raise RuleError(f"{where}: {name!r} cannot be in the scope of {limit.id!r}")


# --- components ----------------------------------------------------------------------------


def parse_component(value: Any, where: str) -> Component:
    """Parse one component by its kind."""
    if not isinstance(value, dict) or "kind" not in value:
        raise RuleError(f"{where}.kind: is required (one of: {', '.join(_PARSERS)})")
    kind = value["kind"]
    if kind not in _PARSERS:
        raise RuleError(f"{where}.kind: {kind!r} is not one of: {', '.join(_PARSERS)}")
    fields, parse = _PARSERS[kind]
    optional = ("description", "months", *fields[1])
    if kind in ("blocks", "usage_above", "uniform"):
        optional = (*optional, "usage_percent")
    doc = read_mapping(value, where, ("id", "kind", *fields[0]), optional)
    ident = read_text(doc["id"], f"{where}.id", ID_PATTERN)
    description, translations = parse_text(
        doc.get("description", _DEFAULT_DESCRIPTIONS[kind]), f"{where}.description", read_text
    )
    component = replace(parse(doc, where, ident, description), translations=translations)
    if "months" in doc:
        component = replace(component, months=parse_months(doc["months"], f"{where}.months"))
    if "usage_percent" in doc:
        percent = read_number(doc["usage_percent"], f"{where}.usage_percent", 4, positive=True)
        if percent > 100:
            raise RuleError(f"{where}.usage_percent: {percent} is more than 100")
        component = replace(component, usage_percent=percent)
    return component


def _parse_fixed(doc: dict, where: str, ident: str, description: str) -> FixedCharge:
    """A fixed charge or fee: an amount, or a table by meter size."""
    if ("amount" in doc) == ("by_meter_size" in doc):
        raise RuleError(f"{where}: give either amount or by_meter_size")
    amount, table = None, ()
    if "amount" in doc:
        amount = read_number(doc["amount"], f"{where}.amount", RATE_PLACES)
    else:
        table = _meter_table(doc["by_meter_size"], f"{where}.by_meter_size", _rate_reader)
    return FixedCharge(
        ident,
        description,
        amount,
        table,
        read_flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
        "fee" if doc["kind"] == "fee" else "charge",
    )


def _rate_reader(value: Any, where: str) -> Decimal:
    """A rate or an amount per period."""
    return read_number(value, where, RATE_PLACES)


def _meter_table(value: Any, where: str, read: Any) -> tuple:
    """A mapping of meter size to a value read by `read`."""
    if not isinstance(value, dict) or not value:
        raise RuleError(f"{where}: must be a mapping of meter size to value, e.g. {{'5/8\"': ...}}")
    return tuple(
        (read_text(size, f"{where} key"), read(v, key_path(where, size)))
        for size, v in value.items()
    )


def _parse_allowance(doc: dict, where: str, ident: str, description: str) -> Allowance:
    """Usage included in the base charge."""
    return Allowance(
        ident,
        description,
        read_number(doc["included"], f"{where}.included", QUANTITY_PLACES, positive=True),
        read_flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
    )


def _parse_blocks(doc: dict, where: str, ident: str, description: str) -> BlockCharge:
    """A block rate: a list of blocks, or a table of block lists by meter size."""
    if ("blocks" in doc) == ("by_meter_size" in doc):
        raise RuleError(f"{where}: give either blocks or by_meter_size")
    blocks: BlockTable = ()
    table: tuple[tuple[str, BlockTable], ...] = ()
    if "blocks" in doc:
        blocks = _block_list(doc["blocks"], f"{where}.blocks")
    else:
        table = _meter_table(doc["by_meter_size"], f"{where}.by_meter_size", _block_list)
    flag = read_flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit")
    return BlockCharge(ident, description, blocks, table, flag)


def _block_list(value: Any, where: str) -> BlockTable:
    """Blocks with rising boundaries; the last has no up_to and takes all remaining usage."""
    items = read_list(value, where)
    blocks = []
    previous = Decimal(0)
    for index, item in enumerate(items):
        here = key_path(where, index)
        doc = read_mapping(item, here, ("rate",), ("up_to",))
        rate = read_number(doc["rate"], f"{here}.rate", RATE_PLACES)
        last = index == len(items) - 1
        if doc.get("up_to") is None:
            if not last:
                raise RuleError(f"{here}.up_to: is required on every block but the last")
            blocks.append(Block(None, rate))
            continue
        if last:
            raise RuleError(f"{here}.up_to: the last block takes all remaining usage; leave it out")
        up_to = read_number(doc["up_to"], f"{here}.up_to", QUANTITY_PLACES)
        if up_to <= previous:
            raise RuleError(
                f"{here}.up_to: must be greater than the previous boundary ({plain_number(previous)})"
            )
        blocks.append(Block(up_to, rate))
        previous = up_to
    return tuple(blocks)


def _parse_usage_above(doc: dict, where: str, ident: str, description: str) -> UsageAboveCharge:
    """A rate on usage above a threshold."""
    return UsageAboveCharge(
        ident,
        description,
        read_number(doc["threshold"], f"{where}.threshold", QUANTITY_PLACES),
        read_number(doc["rate"], f"{where}.rate", RATE_PLACES),
        read_flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
    )


def _parse_uniform(doc: dict, where: str, ident: str, description: str) -> UniformCharge:
    """One rate on all billed usage."""
    return UniformCharge(ident, description, read_number(doc["rate"], f"{where}.rate", RATE_PLACES))


def _parse_limit(
    doc: dict, where: str, ident: str, description: str
) -> MinimumCharge | MaximumCharge:
    """A minimum or maximum in whole cents, with an optional scope of component ids."""
    scope = read_scope(doc, where)
    kind = MinimumCharge if doc["kind"] == "minimum" else MaximumCharge
    return kind(
        ident,
        description,
        read_number(doc["amount"], f"{where}.amount", MONEY_PLACES),
        tuple(scope),
        read_flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
    )


_PARSERS: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], Any]] = {
    "fixed": (((), ("amount", "by_meter_size", "per_dwelling_unit")), _parse_fixed),
    "fee": (((), ("amount", "by_meter_size", "per_dwelling_unit")), _parse_fixed),
    "allowance": ((("included",), ("per_dwelling_unit",)), _parse_allowance),
    "blocks": (((), ("blocks", "by_meter_size", "per_dwelling_unit")), _parse_blocks),
    "usage_above": ((("threshold", "rate"), ("per_dwelling_unit",)), _parse_usage_above),
    "uniform": ((("rate",), ()), _parse_uniform),
    "minimum": ((("amount",), ("applies_to", "per_dwelling_unit")), _parse_limit),
    "maximum": ((("amount",), ("applies_to", "per_dwelling_unit")), _parse_limit),
    "greater_of": ((("of",), ()), parse_choice),
    "lesser_of": ((("of",), ()), parse_choice),
    "credit": ((("eligible",), ("percent", "amount", "applies_to")), parse_credit),
    "per_unit": (
        (("attribute", "rate"), ("size", "rounding", "at_least", "unit")),
        parse_per_unit,
    ),
}
#: A component's description when its document gives none, in every language.
_DEFAULT_DESCRIPTIONS = {
    "fixed": {"en": "Base charge", "es": "Cargo fijo"},
    "fee": {"en": "Fee", "es": "Cuota"},
    "allowance": {"en": "Included in base charge", "es": "Incluido en el cargo fijo"},
    "blocks": {"en": "Usage", "es": "Consumo"},
    "usage_above": {"en": "Usage", "es": "Consumo"},
    "uniform": {"en": "Usage", "es": "Consumo"},
    "minimum": {"en": "Minimum charge", "es": "Cargo mínimo"},
    "maximum": {"en": "Maximum charge", "es": "Cargo máximo"},
    "greater_of": {"en": "Base charge", "es": "Cargo fijo"},
    "lesser_of": {"en": "Base charge", "es": "Cargo fijo"},
    "credit": {"en": "Discount", "es": "Descuento"},
    "per_unit": {"en": "Charge per unit", "es": "Cargo por unidad"},
}


# --- files and the canonical document ------------------------------------------------------


def load_rate_plan_file(path: str | Path) -> RatePlanSpec:
    """Read a .json, .yaml or .yml rate-plan file and parse it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise RuleError(f"{path.name}: a rate plan file ends in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RuleError(f"{path.name}: cannot be read ({exc})") from None
    try:
        return parse_rate_plan(document)
    except RuleError as exc:
        raise RuleError(f"{path.name}: {exc}") from None
