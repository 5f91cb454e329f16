"""Money arithmetic: integer cents, one named rounding rule, exact splits.

Pure module: plain values in, plain values out. A float never touches money.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
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


def parse_dollars(text: str) -> int:
    """Parse '1,234.56' or '$12' to cents; refuses fractions of a cent."""
    cleaned = text.strip().replace(",", "").removeprefix("$")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not an amount of money") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not an amount of money")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise MoneyError(f"{text!r} has fractions of a cent")
    return int(cents)


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
