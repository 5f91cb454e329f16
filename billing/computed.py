"""Plain values shared by the pure computing modules (rating, tax, penalties).

They take plain values and an explicit as-of date and return ComputedLine
values; services turn those into stored invoice lines and ledger postings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
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
    #: The description by language (billing.words); `description` is the default language's.
    descriptions: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: The unit by language; `unit` is the default language's.
    units: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class BilledPeriod:
    """The days one bill covers, within its cycle's regular period."""

    #: First and last day billed (a partial period when service started or stopped inside it,
    #: or when the account joined the cycle mid-period).
    start: date
    end: date
    #: The cycle's regular period that contains them.
    regular_start: date
    regular_end: date
    #: The regular period's length in months (1 monthly, 2 bimonthly, 3 quarterly,
    #: 6 semi-annual; a custom period: its length in whole months, at least 1).
    months: int
