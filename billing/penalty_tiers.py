"""Rates by amount: a base split at the tiers' boundaries, each part at its own rate.

Pure module, used by billing.penalties (one_time and monthly percentages) and
billing.penalty_daily (daily interest). N.J.S.A. 54:4-67: "8% per annum on the first
$1,500.00 of the delinquency and 18% per annum on any amount in excess of $1,500.00".
Amounts here are "scaled" as in billing.penalty_basis (cents times the invoice's total
principal), so a part stays exact until the charge is rounded once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from billing.penalty_basis import Phrase
from billing.penalty_format import RateTier, decimal_text
from core.money import format_cents


def split(tiers: Sequence[RateTier], base: int, original: int) -> list[tuple[RateTier, int]]:
    """(tier, its part of the scaled base) for every tier the base reaches, lowest first."""
    parts: list[tuple[RateTier, int]] = []
    lower = 0
    for tier in tiers:
        if base <= lower:
            break
        upper = None if tier.up_to_cents is None else tier.up_to_cents * original
        parts.append((tier, base - lower if upper is None else min(base, upper) - lower))
        if upper is None:
            break
        lower = upper
    return parts


def scaled_percent(tiers: Sequence[RateTier], base: int, original: int) -> Decimal:
    """The base times its rate, tier by tier (percent times scaled cents, not yet / 100)."""
    return sum((tier.percent * part for tier, part in split(tiers, base, original)), Decimal(0))


def lower_bound(tiers: Sequence[RateTier], tier: RateTier) -> int:
    """The amount, in cents, above which a tier's rate applies (0 for the first)."""
    index = tiers.index(tier)
    return tiers[index - 1].up_to_cents or 0 if index else 0


def in_a_list(phrases: Sequence[Phrase]) -> Phrase:
    """Phrases joined for a description: 'a', 'a and b', 'a, b and c'."""
    if len(phrases) == 1:
        return phrases[0]
    head: Phrase = phrases[0]
    for phrase in phrases[1:-1]:
        head = ("penalty.tiers_comma", {"first": head, "then": phrase})
    return ("penalty.tiers_and", {"first": head, "then": phrases[-1]})


def parts_text(
    tiers: Sequence[RateTier], base: int, original: int, cents: Callable[[int], int]
) -> Phrase:
    """Each tier's part of the base at its rate: '8% of $1,500.00 and 18% of $700.00'.

    `cents` rounds a scaled amount to cents (Basis.cents) for the words only.
    """
    return in_a_list(
        [
            (
                "penalty.tier",
                {"percent": decimal_text(tier.percent), "amount": format_cents(cents(part))},
            )
            for tier, part in split(tiers, base, original)
        ]
    )


def range_text(tiers: Sequence[RateTier], tier: RateTier) -> Phrase:
    """The amounts a tier covers: ' up to $1,500.00', ' above $1,500.00', ' from ... to ...'."""
    lower = lower_bound(tiers, tier)
    if tier.up_to_cents is None:
        if not lower:
            return ("penalty.tier_all", {})
        return ("penalty.tier_above", {"lower": format_cents(lower)})
    if not lower:
        return ("penalty.tier_up_to", {"upper": format_cents(tier.up_to_cents)})
    return (
        "penalty.tier_between",
        {"lower": format_cents(lower), "upper": format_cents(tier.up_to_cents)},
    )
