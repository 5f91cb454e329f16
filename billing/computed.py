"""Plain values shared by the pure computing modules (rating, tax, penalties).

They take plain values and an explicit as-of date and return ComputedLine
values; services turn those into stored invoice lines and ledger postings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class RuleError(ValueError):
    """A rate plan, levy or penalty rule that is not valid; the message names the place."""


@dataclass(frozen=True)
class ComputedLine:
    """One computed invoice line, rounded once to whole cents.

    `quantity * unit_rate` (rounded by the municipality's rule) is `amount_cents`
    wherever both are given, so a resident can check the arithmetic.
    """

    description: str
    amount_cents: int
    quantity: Decimal | None = None
    unit: str | None = None
    #: Dollars per unit, e.g. Decimal("4.23") per 1,000 gallons.
    unit_rate: Decimal | None = None
    #: A LineCategory value: charge, fee, tax, penalty or interest.
    category: str = "charge"
    #: What produced the line: a component id of a rate plan, a levy's jurisdiction code, a rule id.
    source: str = ""
