"""Rate-plan documents: parse and validate a plan (loaded from JSON or YAML) into frozen values.

Pure module: plain values in, plain values out. Every error is a RuleError whose message
names the place, e.g. ``versions[0].components[2].blocks[1].up_to: ...``. Numbers are
written as strings or integers; a float is refused, so a rate is never rounded in binary.
docs/rates.md describes the format; billing.rate_plan_spec holds the values.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billing.computed import RuleError
from billing.rate_plan_spec import (
    FREQUENCIES,
    MONEY_PLACES,
    QUANTITY_PLACES,
    RATE_PLACES,
    UNIT_NAMES,
    UNITS,
    USAGE_CHARGES,
    Allowance,
    Block,
    BlockCharge,
    BlockTable,
    Component,
    FixedCharge,
    MaximumCharge,
    MinimumCharge,
    RatePlanSpec,
    RateVersionSpec,
    UniformCharge,
    UnitConversion,
    UsageAboveCharge,
    plain_number,
    plan_to_document,  # noqa: F401 (the service imports it from here)
)
from core.money import ROUNDING_RULES

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_SERVICE_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_DECIMAL = re.compile(r"\d+(\.\d+)?")


# --- reading plain values ------------------------------------------------------------------


def _mapping(value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    """Check a mapping has the required keys and no unknown ones."""
    if not isinstance(value, dict):
        raise RuleError(f"{where or 'the plan'}: must be a mapping, not {type(value).__name__}")
    for key in value:
        if key not in required and key not in optional:
            known = ", ".join((*required, *optional))
            raise RuleError(f"{_at(where, key)}: unknown key (expected one of: {known})")
    for key in required:
        if key not in value:
            raise RuleError(f"{_at(where, key)}: is required")
    return value


def _at(where: str, key: str | int) -> str:
    """The path of a key or index inside `where`."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _text(value: Any, where: str, pattern: re.Pattern | None = None, longest: int = 200) -> str:
    """A non-empty string without surrounding spaces, optionally matching a pattern."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: must be a non-empty string")
    if value != value.strip() or len(value) > longest:
        raise RuleError(
            f"{where}: must have no surrounding spaces and at most {longest} characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise RuleError(f"{where}: {value!r} is not allowed here (pattern {pattern.pattern})")
    return value


def _number(value: Any, where: str, places: int, *, positive: bool = False) -> Decimal:
    """An exact non-negative Decimal from a string or an int; floats are refused."""
    if isinstance(value, float):
        raise RuleError(
            f"{where}: {value!r} is a float; quote it ({str(value)!r}) to keep it exact"
        )
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise RuleError(f"{where}: must be a number written as a string, e.g. '4.23'")
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise RuleError(f"{where}: {value!r} is not a number like '4.23'")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise RuleError(f"{where}: must not be negative")
    if positive and number == 0:
        raise RuleError(f"{where}: must be greater than zero")
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise RuleError(f"{where}: {value} has more than {places} decimal places")
    return number


def _flag(value: Any, where: str) -> bool:
    """A true/false value."""
    if not isinstance(value, bool):
        raise RuleError(f"{where}: must be true or false")
    return value


def _date(value: Any, where: str) -> date:
    """A date from a YAML date or an ISO 'YYYY-MM-DD' string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RuleError(f"{where}: must be a date written YYYY-MM-DD")


def parse_unit(value: Any, where: str) -> str:
    """The UNITS code of a unit name such as 'gallons', '1,000 gallons', 'HCF' or 'm3'."""
    name = " ".join(value.lower().split()) if isinstance(value, str) else None
    if name not in UNIT_NAMES:
        raise RuleError(f"{where}: unknown unit {value!r} (use one of: {', '.join(UNITS)})")
    return UNIT_NAMES[name]


def _items(value: Any, where: str) -> list:
    """A non-empty list."""
    if not isinstance(value, list) or not value:
        raise RuleError(f"{where}: must be a non-empty list")
    return value


# --- the plan ------------------------------------------------------------------------------


def parse_rate_plan(document: dict) -> RatePlanSpec:
    """Validate a rate-plan document and return its frozen spec."""
    required = ("code", "name", "service_kind", "versions")
    doc = _mapping(document, "", required, ("unit", "conversions"))
    code = _text(doc["code"], "code", _ID)
    name = _text(doc["name"], "name")
    service_kind = _text(doc["service_kind"], "service_kind", _SERVICE_KIND)
    unit = parse_unit(doc["unit"], "unit") if "unit" in doc else ""
    conversions = _parse_conversions(doc.get("conversions", {}), "conversions")
    items = _items(doc["versions"], "versions")
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
    return RatePlanSpec(code, name, service_kind, unit, ordered, conversions)


def _parse_conversions(value: Any, where: str) -> tuple[UnitConversion, ...]:
    """Parse {'HCF': '748 gallons'}: one declared conversion per pair of unit families."""
    if not isinstance(value, dict):
        raise RuleError(f"{where}: must be a mapping such as {{'HCF': '748 gallons'}}")
    found: dict[frozenset[str], str] = {}
    conversions = []
    for key, text in value.items():
        here = _at(where, str(key))
        unit = parse_unit(key, here)
        amount_text, _, other_name = text.partition(" ") if isinstance(text, str) else ("", "", "")
        amount = _number(amount_text, here, RATE_PLACES, positive=True)
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
    doc = _mapping(
        value,
        where,
        ("effective_from", "frequency", "components"),
        ("usage_step", "usage_rounding"),
    )
    frequency = doc["frequency"]
    if frequency not in FREQUENCIES:
        raise RuleError(f"{where}.frequency: must be one of {', '.join(FREQUENCIES)}")
    rounding = doc.get("usage_rounding", "down")
    if rounding not in ROUNDING_RULES:
        raise RuleError(f"{where}.usage_rounding: must be one of {', '.join(ROUNDING_RULES)}")
    items = _items(doc["components"], f"{where}.components")
    components = tuple(
        parse_component(item, f"{where}.components[{i}]") for i, item in enumerate(items)
    )
    _check_components(components, f"{where}.components")
    return RateVersionSpec(
        effective_from=_date(doc["effective_from"], f"{where}.effective_from"),
        frequency=frequency,
        components=components,
        usage_step=_number(
            doc.get("usage_step", "0.0001"), f"{where}.usage_step", QUANTITY_PLACES, positive=True
        ),
        usage_rounding=rounding,
    )


def _check_components(components: tuple[Component, ...], where: str) -> None:
    """Ids are unique, one allowance at most, and limits name components they may limit."""
    kinds: dict[str, Component] = {}
    for index, component in enumerate(components):
        if component.id in kinds:
            raise RuleError(f"{where}[{index}].id: {component.id!r} is used twice")
        kinds[component.id] = component
    if sum(isinstance(c, Allowance) for c in components) > 1:
        raise RuleError(f"{where}: a version has at most one allowance")
    for index, component in enumerate(components):
        if isinstance(component, MinimumCharge | MaximumCharge):
            _check_scope(component, kinds, f"{where}[{index}].applies_to")
        has_usage = any(isinstance(c, USAGE_CHARGES) for c in components)
        if isinstance(component, MaximumCharge) and not component.applies_to and not has_usage:
            raise RuleError(f"{where}[{index}]: a maximum needs usage charges to cap")


def _check_scope(
    limit: MinimumCharge | MaximumCharge, kinds: dict[str, Component], where: str
) -> None:
    """A limit names existing charges; a minimum may also name a maximum, never a minimum."""
    allowed: tuple[type, ...] = (FixedCharge, *USAGE_CHARGES)
    if isinstance(limit, MinimumCharge):
        allowed = (*allowed, MaximumCharge)
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
    doc = _mapping(value, where, ("id", "kind", *fields[0]), ("description", *fields[1]))
    ident = _text(doc["id"], f"{where}.id", _ID)
    description = _text(doc.get("description", _DEFAULT_DESCRIPTIONS[kind]), f"{where}.description")
    return parse(doc, where, ident, description)


def _parse_fixed(doc: dict, where: str, ident: str, description: str) -> FixedCharge:
    """A fixed charge or fee: an amount, or a table by meter size."""
    if ("amount" in doc) == ("by_meter_size" in doc):
        raise RuleError(f"{where}: give either amount or by_meter_size")
    amount, table = None, ()
    if "amount" in doc:
        amount = _number(doc["amount"], f"{where}.amount", RATE_PLACES)
    else:
        table = _meter_table(doc["by_meter_size"], f"{where}.by_meter_size", _rate_reader)
    return FixedCharge(
        ident,
        description,
        amount,
        table,
        _flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
        "fee" if doc["kind"] == "fee" else "charge",
    )


def _rate_reader(value: Any, where: str) -> Decimal:
    """A rate or an amount per period."""
    return _number(value, where, RATE_PLACES)


def _meter_table(value: Any, where: str, read: Any) -> tuple:
    """A mapping of meter size to a value read by `read`."""
    if not isinstance(value, dict) or not value:
        raise RuleError(f"{where}: must be a mapping of meter size to value, e.g. {{'5/8\"': ...}}")
    return tuple(
        (_text(size, f"{where} key"), read(v, _at(where, size))) for size, v in value.items()
    )


def _parse_allowance(doc: dict, where: str, ident: str, description: str) -> Allowance:
    """Usage included in the base charge."""
    return Allowance(
        ident,
        description,
        _number(doc["included"], f"{where}.included", QUANTITY_PLACES, positive=True),
        _flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
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
    flag = _flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit")
    return BlockCharge(ident, description, blocks, table, flag)


def _block_list(value: Any, where: str) -> BlockTable:
    """Blocks with rising boundaries; the last has no up_to and takes all remaining usage."""
    items = _items(value, where)
    blocks = []
    previous = Decimal(0)
    for index, item in enumerate(items):
        here = _at(where, index)
        doc = _mapping(item, here, ("rate",), ("up_to",))
        rate = _number(doc["rate"], f"{here}.rate", RATE_PLACES)
        last = index == len(items) - 1
        if doc.get("up_to") is None:
            if not last:
                raise RuleError(f"{here}.up_to: is required on every block but the last")
            blocks.append(Block(None, rate))
            continue
        if last:
            raise RuleError(f"{here}.up_to: the last block takes all remaining usage; leave it out")
        up_to = _number(doc["up_to"], f"{here}.up_to", QUANTITY_PLACES)
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
        _number(doc["threshold"], f"{where}.threshold", QUANTITY_PLACES),
        _number(doc["rate"], f"{where}.rate", RATE_PLACES),
        _flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
    )


def _parse_uniform(doc: dict, where: str, ident: str, description: str) -> UniformCharge:
    """One rate on all billed usage."""
    return UniformCharge(ident, description, _number(doc["rate"], f"{where}.rate", RATE_PLACES))


def _parse_limit(
    doc: dict, where: str, ident: str, description: str
) -> MinimumCharge | MaximumCharge:
    """A minimum or maximum in whole cents, with an optional scope of component ids."""
    scope = doc.get("applies_to", [])
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        raise RuleError(f"{where}.applies_to: must be a list of component ids")
    if len(set(scope)) != len(scope):
        raise RuleError(f"{where}.applies_to: names a component twice")
    kind = MinimumCharge if doc["kind"] == "minimum" else MaximumCharge
    return kind(
        ident,
        description,
        _number(doc["amount"], f"{where}.amount", MONEY_PLACES),
        tuple(scope),
        _flag(doc.get("per_dwelling_unit", False), f"{where}.per_dwelling_unit"),
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
}
_DEFAULT_DESCRIPTIONS = {
    "fixed": "Base charge",
    "fee": "Fee",
    "allowance": "Included in base charge",
    "blocks": "Usage",
    "usage_above": "Usage",
    "uniform": "Usage",
    "minimum": "Minimum charge",
    "maximum": "Maximum charge",
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
