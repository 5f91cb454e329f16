"""The checks of one field of a rule document (JSON or YAML) that the shutoff and lien sale
rules share: each returns the value or raises RuleError naming the place."""

from __future__ import annotations

from datetime import date
from typing import Any, NoReturn

from billing.computed import RuleError
from core.money import MoneyError, parse_dollars


def fail(place: str, message: str) -> NoReturn:
    raise RuleError(f"{place}: {message}")


def whole(value: Any, place: str, high: int) -> int:
    """A whole number from 0 to high."""
    if not isinstance(value, int) or isinstance(value, bool):
        fail(place, f"must be a whole number, not {value!r}")
    if value < 0:
        fail(place, f"must not be negative, not {value}")
    if value > high:
        fail(place, f"must be at most {high}, not {value}")
    return value


def day(value: Any, place: str) -> date:
    """A date, or its ISO text."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        fail(place, f"must be a date YYYY-MM-DD, not {value!r}")


def dollars(amount: Any, place: str) -> int:
    """Dollars written as a quoted string, never a float; cents, not negative."""
    if not isinstance(amount, str):
        fail(place, f'write dollars as a quoted string such as "50.00", not {amount!r}')
    try:
        cents = parse_dollars(amount)
    except MoneyError as error:
        fail(place, str(error))
    if cents < 0:
        fail(place, "must not be negative")
    return cents
