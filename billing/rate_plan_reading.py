"""Reading plain values of a rules document: mappings, texts, exact numbers, flags, dates,
lists and units. Every error is a RuleError naming the place (billing.rate_plan_format).

Pure module: plain values in, plain values out.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.computed import RuleError
from billing.rate_plan_spec import UNIT_NAMES, UNITS

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
SERVICE_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
DECIMAL_PATTERN = re.compile(r"\d+(\.\d+)?")
#: An account flag (credits' eligibility) or a service point attribute name.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")


def read_mapping(
    value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict:
    """Check a mapping has the required keys and no unknown ones."""
    if not isinstance(value, dict):
        raise RuleError(f"{where or 'the plan'}: must be a mapping, not {type(value).__name__}")
    for key in value:
        if key not in required and key not in optional:
            known = ", ".join((*required, *optional))
            raise RuleError(f"{key_path(where, key)}: unknown key (expected one of: {known})")
    for key in required:
        if key not in value:
            raise RuleError(f"{key_path(where, key)}: is required")
    return value


def key_path(where: str, key: str | int) -> str:
    """The path of a key or index inside `where`."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def read_text(value: Any, where: str, pattern: re.Pattern | None = None, longest: int = 200) -> str:
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


def read_number(value: Any, where: str, places: int, *, positive: bool = False) -> Decimal:
    """An exact non-negative Decimal from a string or an int; floats are refused."""
    if isinstance(value, float):
        raise RuleError(
            f"{where}: {value!r} is a float; quote it ({str(value)!r}) to keep it exact"
        )
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise RuleError(f"{where}: must be a number written as a string, e.g. '4.23'")
    if isinstance(value, str) and not DECIMAL_PATTERN.fullmatch(value):
        raise RuleError(f"{where}: {value!r} is not a number like '4.23'")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise RuleError(f"{where}: must not be negative")
    if positive and number == 0:
        raise RuleError(f"{where}: must be greater than zero")
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise RuleError(f"{where}: {value} has more than {places} decimal places")
    return number


def read_flag(value: Any, where: str) -> bool:
    """A true/false value."""
    if not isinstance(value, bool):
        raise RuleError(f"{where}: must be true or false")
    return value


def read_date(value: Any, where: str) -> date:
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


def read_list(value: Any, where: str) -> list:
    """A non-empty list."""
    if not isinstance(value, list) or not value:
        raise RuleError(f"{where}: must be a non-empty list")
    return value


def read_scope(doc: dict, where: str) -> tuple[str, ...]:
    """An optional applies_to: a list of component ids, each once."""
    scope = doc.get("applies_to", [])
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        raise RuleError(f"{where}.applies_to: must be a list of component ids")
    if len(set(scope)) != len(scope):
        raise RuleError(f"{where}.applies_to: names a component twice")
    return tuple(scope)


def unit_text(value: Any, where: str) -> str:
    """A unit's name as text (parse_unit reads the default language's)."""
    return read_text(value, where, longest=24)
