"""The exemptions of one step, taken as slices of the value, so a higher value never leaves less.

Pure module: exact fractions in, exact fractions out (a float never touches a value).

A step's value S is the slice of dollars from 0 to S. Each dollar is whole at the start of the
step; the exemptions take parts of dollars, and a part taken is gone for those after it. The
percentages come first, then the fixed amounts, each kind in document order (taking_order):

* a **percent** is of the step's value: it takes the same share of every dollar above its
  `above`, amount x (S - above) / 100, raised to its minimum and lowered to its maximum (so two
  percentages do not compound, and a percentage is of the whole value wherever the document
  lists it: Travis County's 20% and $110,000, a town's $10,000 and 10%);
* a **fixed** amount takes its amount from the lowest dollars left above its `above` (from the
  bottom when it has none): Florida's first $25,000 is the first $25,000 of assessed value, and
  its additional $25,000 the value from $50,000 up (s. 196.031(1)(b) F.S.); Texas' over-65
  $10,000 after the $40,000 homestead exemption takes the next $10,000.

Why the value left never falls as S rises: compare S with S' > S dollar by dollar on 0..S.
At the start every dollar is whole for both. A percent takes the share r(S) of each dollar, and
r never rises with S (the amount over the base is a constant share, a minimum over a growing
base, a maximum over a growing base); a fixed amount takes the dollar at x only while the
dollars left between `above` and x are fewer than its amount, and they are never fewer for S'.
So after each exemption every dollar below S keeps at least as much for S' as for S, and the
value left (the sum over 0..S', no less than over 0..S) is at least as large. The steps chain
(the value left by one is the start of the next) and rounding the value left is monotone, so
the taxable value never falls as the parcel's value rises. For the same reason an exemption
more (a flag more) never leaves more value: every exemption after it takes the same share or
the same amount from no more than before.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from billing.levy_spec import Exemption

#: The rounding of a value left that rounds what the exemptions removed by the town's rule
#: (a step's start is whole cents, so removed = start - left): half-up removals leave the
#: value rounded half-down, removals rounded down leave it rounded up, and so on. Half-even
#: rounds the value left to even.
LEFT_ROUNDING = {
    "half_up": "half_down",
    "half_even": "half_even",
    "down": "ceiling",
    "up": "floor",
    "floor": "ceiling",
    "ceiling": "floor",
}

#: One run of dollars (start, end] and the share of each dollar not yet exempt.
Piece = tuple[Fraction, Fraction, Fraction]


def round_fraction(value: Fraction, rule: str) -> int:
    """A value of zero or more cents rounded to whole cents by a rounding rule's name."""
    whole, rest = divmod(value.numerator, value.denominator)
    half = 2 * rest - value.denominator  # < 0 below one half, 0 at one half, > 0 above
    if rest == 0 or rule in ("floor", "down"):
        return whole
    if rule in ("ceiling", "up"):
        return whole + 1
    if rule == "half_down":
        return whole + (half > 0)
    if rule == "half_even":
        return whole + (half > 0 or (half == 0 and whole % 2 == 1))
    if rule == "half_up":
        return whole + (half >= 0)
    raise ValueError(f"unknown rounding rule {rule!r}")


def _split(pieces: list[Piece], at: Fraction) -> list[Piece]:
    """The same pieces, the one that spans `at` cut in two there."""
    result = []
    for start, end, share in pieces:
        if start < at < end:
            result += [(start, at, share), (at, end, share)]
        else:
            result.append((start, end, share))
    return result


def _percent_share(exemption: Exemption, value: Fraction, scale: Fraction) -> Fraction:
    """The share of each dollar above `above` a percent exemption takes of a step's value."""
    base = value - exemption.above_cents * scale
    if base <= 0:
        return Fraction(0)
    cut = base * Fraction(exemption.percent or 0) / 100
    if exemption.minimum_cents is not None:
        cut = max(cut, exemption.minimum_cents * scale)
    if exemption.maximum_cents is not None:
        cut = min(cut, exemption.maximum_cents * scale)
    return min(cut / base, Fraction(1))


def _take_percent(pieces: list[Piece], above: Fraction, share: Fraction) -> list[Piece]:
    """Each dollar above `above` gives up `share` of a whole dollar, or what is left of it."""
    return [
        (start, end, left if start < above else max(Fraction(0), left - share))
        for start, end, left in _split(pieces, above)
    ]


def _take_fixed(pieces: list[Piece], above: Fraction, amount: Fraction) -> list[Piece]:
    """`amount` taken from the lowest dollars left above `above`."""
    result = []
    for start, end, left in _split(pieces, above):
        if start < above or amount <= 0 or left == 0:
            result.append((start, end, left))
            continue
        held = (end - start) * left
        if held <= amount:
            result.append((start, end, Fraction(0)))
            amount -= held
            continue
        cut_at = start + amount / left
        result += [(start, cut_at, Fraction(0)), (cut_at, end, left)]
        amount = Fraction(0)
    return result


def taking_order(exemptions: Sequence[Exemption]) -> list[Exemption]:
    """The order a step's exemptions take their dollars in: the percentages, then the fixed
    amounts, each in the order given."""
    return [e for e in exemptions if e.kind == "percent"] + [
        e for e in exemptions if e.kind != "percent"
    ]


def values_left(
    exemptions: Sequence[Exemption], value: Fraction, scale: Fraction = Fraction(1)
) -> list[Fraction]:
    """The exact value left after each exemption of one step, taken in the order given (see
    taking_order) from a step value; scale converts the exemptions' amounts into the value's
    units (1 for cents)."""
    pieces: list[Piece] = [(Fraction(0), value, Fraction(1))] if value > 0 else []
    lefts = []
    for exemption in exemptions:
        above = exemption.above_cents * scale
        if exemption.kind == "fixed":
            pieces = _take_fixed(pieces, above, (exemption.amount_cents or 0) * scale)
        else:
            pieces = _take_percent(pieces, above, _percent_share(exemption, value, scale))
        lefts.append(sum(((end - start) * left for start, end, left in pieces), Fraction(0)))
    return lefts
