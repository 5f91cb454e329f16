"""Money arithmetic: integer cents, one named rounding rule, exact splits.

Pure module: plain values in, plain values out. A float never touches money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)

#: The rounding rules a municipality may choose (setting ROUNDING_RULE).
ROUNDING_RULES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}
DEFAULT_ROUNDING = "half_up"
_CENT = Decimal(1)
#: The longest number text parsed: more digits than any town's money or rate needs, far fewer
#: than make Decimal work for seconds on an exponent like "1e999999".
MAX_NUMBER_CHARS = 40
#: The largest amount of money taken: $99,999,999,999.99.
MAX_CENTS = 10**13 - 1
#: Plain decimal notation: digits (thousands may be grouped by commas), an optional fraction;
#: ASCII digits only; no exponent, no infinity, no NaN, no underscores.
_UNSIGNED = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+")


class MoneyError(ValueError):
    """An amount that is not a valid amount of money."""


def to_cents(amount: Decimal, rule: str = DEFAULT_ROUNDING) -> int:
    """Round a Decimal amount of cents to whole cents by the named rule."""
    if not isinstance(amount, Decimal):
        raise MoneyError(f"amount must be a Decimal, not {type(amount).__name__}")
    try:
        mode = ROUNDING_RULES[rule]
    except KeyError:
        raise MoneyError(f"unknown rounding rule {rule!r}") from None
    return int(amount.quantize(_CENT, rounding=mode))


def dollars_to_cents(amount: Decimal, rule: str = DEFAULT_ROUNDING) -> int:
    """Convert a Decimal amount of dollars to whole cents, rounded once."""
    return to_cents(amount * 100, rule)


def plain_decimal(text: str, *, signed: bool = True) -> Decimal:
    """A number in plain decimal notation ("-1,234.5", ".25") as a Decimal, in bounded time:
    at most MAX_NUMBER_CHARS characters, no exponent; MoneyError otherwise."""
    if not isinstance(text, str):
        raise MoneyError(f"{text!r} is not a number written in figures")
    cleaned = text.strip()
    body = cleaned[1:] if signed and cleaned[:1] in "+-" else cleaned
    if len(cleaned) > MAX_NUMBER_CHARS or not body or not _UNSIGNED.fullmatch(body):
        shown = cleaned if len(cleaned) <= MAX_NUMBER_CHARS else cleaned[:MAX_NUMBER_CHARS] + "…"
        raise MoneyError(f"{shown!r} is not a number written in plain figures")
    return Decimal(cleaned.replace(",", ""))


def parse_dollars(text: str) -> int:
    """Parse '1,234.56', '$12' or '-$0.05' to cents; refuses fractions of a cent, exponents,
    and amounts beyond MAX_CENTS."""
    if not isinstance(text, str):
        raise MoneyError(f"{text!r} is not an amount of money")
    cleaned = text.strip()
    sign = -1 if cleaned.startswith("-") else 1
    body = cleaned.removeprefix("-").removeprefix("$")
    try:
        value = plain_decimal(body, signed=False)
    except MoneyError:
        shown = cleaned if len(cleaned) <= MAX_NUMBER_CHARS else cleaned[:MAX_NUMBER_CHARS] + "…"
        raise MoneyError(f"{shown!r} is not an amount of money") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise MoneyError(f"{text!r} has fractions of a cent")
    if cents > MAX_CENTS:
        raise MoneyError(f"{text!r} is more than {format_cents(MAX_CENTS)}")
    return sign * int(cents)


def format_cents(cents: int, symbol: str = "$") -> str:
    """Format cents as '$1,234.56' (negative as '-$1,234.56')."""
    if not isinstance(cents, int):
        raise MoneyError("cents must be an int")
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def split_cents(total: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split total cents in proportion to weights; leftovers by largest remainder.

    The parts always add up to total. Ties go to the earlier part, so the
    result is deterministic (an installment plan puts leftover cents first).
    """
    if not weights:
        raise MoneyError("cannot split among no parts")
    if any(w < 0 for w in weights):
        raise MoneyError("weights must not be negative")
    weight_sum = sum(Decimal(w) for w in weights)
    if weight_sum == 0:
        raise MoneyError("weights must not all be zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    exact = [Decimal(magnitude) * Decimal(w) / weight_sum for w in weights]
    floors = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    leftover = magnitude - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * part for part in floors]


def split_evenly(total: int, parts: int) -> list[int]:
    """Split total cents into equal parts, the leftover cents on the first parts."""
    return split_cents(total, [1] * parts)
