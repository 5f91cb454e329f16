"""Convenience fee rules as data: their terms, the checks on them and the fee they give.

Pure: plain values in, plain values out (no session, no Flask, no Stripe). A rule
applies to one channel (online, at the counter) and one method (card, bank account);
its kind is none, flat, percentage or tiered, with an optional minimum and cap. The
fee is a function of the rule's terms and the amount paid, rounded once, half up.
docs/payments.md ("Convenience fees") says why each check exists.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.money import to_cents

#: NOTE: the highest percentage a rule may charge. Visa's U.S. rules cap a fee passed to a card
#: payer at 3 % of the payment, and several states set the same limit for fees a public body
#: passes on; a town bound by a lower limit keeps its rules below it. A percentage above this
#: is refused, never quietly lowered.
LEGAL_PERCENT_LIMIT = Decimal("3.00")
#: The largest fixed fee a rule may name ($100.00): a typing error guard, not a legal limit.
FLAT_LIMIT_CENTS = 100_00


class FeeChannel(enum.StrEnum):
    """Where the payer pays: online (the portal) or at the counter (a clerk's card page)."""

    ONLINE = "online"
    COUNTER = "counter"


class FeeMethod(enum.StrEnum):
    """How the payer pays."""

    CARD = "card"
    BANK_ACCOUNT = "bank_account"


class FeeKind(enum.StrEnum):
    """How the fee is worked out."""

    NONE = "none"
    FLAT = "flat"
    PERCENTAGE = "percentage"
    TIERED = "tiered"


class FeeBearer(enum.StrEnum):
    """Who bears the fee: passed to the payer, or absorbed by the town (the payer sees none)."""

    PAYER = "payer"
    TOWN = "town"


class FeeCharge(enum.StrEnum):
    """How a fee passed to the payer is charged: one more line of the same card charge, or a
    charge of its own (the card networks' government service-fee programmes)."""

    OWN_LINE = "own_line"
    SEPARATE = "separate_charge"


class FeeAccount(enum.StrEnum):
    """Where the fee is posted: the town's fee revenue (4530), or owed to a processor (2050)."""

    REVENUE = "revenue"
    PROCESSOR = "processor"


class FeeRefund(enum.StrEnum):
    """What happens to the fee when its payment is refunded."""

    #: The whole fee goes back once the whole payment has been refunded; none before.
    WITH_FULL_REFUND = "with_full_refund"
    #: Each refund gives back the same share of the fee as of the payment.
    PRO_RATA = "pro_rata"
    NEVER = "never"


class FeeRuleError(ValueError):
    """A rule that cannot be kept: the field and the reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Tier:
    """Payments from `from_cents` up to (not including) `to_cents` (None: no end) pay a flat
    amount plus a percentage."""

    from_cents: int
    to_cents: int | None
    flat_cents: int = 0
    percent: Decimal = Decimal("0")


@dataclass(frozen=True)
class FeeTerms:
    """What a rule charges; `minimum_cents` and `cap_cents` bound the worked-out fee."""

    kind: FeeKind
    flat_cents: int = 0
    percent: Decimal = Decimal("0")
    tiers: tuple[Tier, ...] = field(default_factory=tuple)
    minimum_cents: int = 0
    cap_cents: int | None = None


def _cents(value: Any, name: str, *, high: int | None = None) -> int:
    """A whole number of cents, zero or more (and at most `high`)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise FeeRuleError(name, "give a whole number of cents")
    if value < 0:
        raise FeeRuleError(name, "a fee cannot be negative")
    if high is not None and value > high:
        raise FeeRuleError(name, f"at most {high} cents")
    return value


def _percent(value: Any, name: str) -> Decimal:
    """A percentage as a Decimal string or Decimal, from 0 to the legal limit."""
    if isinstance(value, float | bool):
        raise FeeRuleError(name, 'give the percentage as a decimal string, such as "2.5"')
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise FeeRuleError(name, f"{value!r} is not a percentage") from None
    if not number.is_finite():
        raise FeeRuleError(name, f"{value!r} is not a percentage")
    if number < 0:
        raise FeeRuleError(name, "a fee cannot be negative")
    if number > LEGAL_PERCENT_LIMIT:
        raise FeeRuleError(
            name, f"{number} % is over the legal limit of {LEGAL_PERCENT_LIMIT} % of the payment"
        )
    if number != number.quantize(Decimal("0.001")):
        raise FeeRuleError(name, "at most three decimal places")
    return number


def _tiers(rows: Any) -> tuple[Tier, ...]:
    """Tiers from their rows, in order, refused if they overlap, leave a gap or never end."""
    if not isinstance(rows, Sequence) or isinstance(rows, str) or not rows:
        raise FeeRuleError("tiers", "a tiered rule needs at least one tier")
    tiers = []
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise FeeRuleError(f"tiers[{n}]", "a tier is an object")
        to = row.get("to_cents")
        tiers.append(
            Tier(
                from_cents=_cents(row.get("from_cents", 0), f"tiers[{n}].from_cents"),
                to_cents=None if to is None else _cents(to, f"tiers[{n}].to_cents"),
                flat_cents=_cents(
                    row.get("flat_cents", 0), f"tiers[{n}].flat_cents", high=FLAT_LIMIT_CENTS
                ),
                percent=_percent(row.get("percent", "0"), f"tiers[{n}].percent"),
            )
        )
    tiers.sort(key=lambda tier: tier.from_cents)
    if tiers[0].from_cents != 0:
        raise FeeRuleError("tiers", "the first tier starts at 0 cents")
    for n, (tier, following) in enumerate(zip(tiers, [*tiers[1:], None], strict=True), start=1):
        if tier.to_cents is not None and tier.to_cents <= tier.from_cents:
            raise FeeRuleError(f"tiers[{n}]", "a tier ends after it starts")
        if following is None:
            if tier.to_cents is not None:
                raise FeeRuleError("tiers", "the last tier has no end (to_cents null)")
        elif tier.to_cents is None or following.from_cents < tier.to_cents:
            raise FeeRuleError(
                "tiers", f"the tiers from {tier.from_cents} and {following.from_cents} overlap"
            )
        elif following.from_cents > tier.to_cents:
            raise FeeRuleError(
                "tiers", f"no tier covers {tier.to_cents} to {following.from_cents} cents"
            )
    return tuple(tiers)


def parse_terms(row: Mapping[str, Any]) -> FeeTerms:
    """The terms of a rule from its fields (an API body, a rules file), or FeeRuleError."""
    try:
        kind = FeeKind(row.get("kind"))
    except ValueError:
        kinds = ", ".join(k.value for k in FeeKind)
        raise FeeRuleError("kind", f"one of {kinds}") from None
    cap = row.get("cap_cents")
    terms = FeeTerms(
        kind=kind,
        flat_cents=_cents(row.get("flat_cents", 0), "flat_cents", high=FLAT_LIMIT_CENTS),
        percent=_percent(row.get("percent", "0"), "percent"),
        tiers=_tiers(row.get("tiers")) if kind == FeeKind.TIERED else (),
        minimum_cents=_cents(row.get("minimum_cents", 0), "minimum_cents", high=FLAT_LIMIT_CENTS),
        cap_cents=None if cap is None else _cents(cap, "cap_cents"),
    )
    check_terms(terms)
    return terms


def check_terms(terms: FeeTerms) -> None:
    """Refuse terms that do not fit their kind or whose cap is below their minimum."""
    if terms.cap_cents is not None and terms.cap_cents < terms.minimum_cents:
        raise FeeRuleError(
            "cap_cents",
            f"the cap ({terms.cap_cents} cents) is below the minimum ({terms.minimum_cents} cents)",
        )
    if terms.kind == FeeKind.FLAT and terms.flat_cents == 0:
        raise FeeRuleError("flat_cents", "a flat rule names its fee; use kind none for no fee")
    if terms.kind == FeeKind.PERCENTAGE and terms.percent == 0:
        raise FeeRuleError("percent", "a percentage rule names its percentage")
    if terms.kind == FeeKind.NONE and (
        terms.flat_cents or terms.percent or terms.minimum_cents or terms.cap_cents
    ):
        raise FeeRuleError("kind", "a rule of kind none names no amounts")


def _share(amount_cents: int, percent: Decimal) -> int:
    """`percent` of the amount, rounded once, half up."""
    return to_cents(Decimal(amount_cents) * percent / 100)


def fee_cents(terms: FeeTerms, amount_cents: int) -> int:
    """The fee on a payment of `amount_cents` by these terms, within the minimum and the cap."""
    if amount_cents <= 0 or terms.kind == FeeKind.NONE:
        return 0
    if terms.kind == FeeKind.FLAT:
        fee = terms.flat_cents
    elif terms.kind == FeeKind.PERCENTAGE:
        fee = _share(amount_cents, terms.percent)
    else:
        tier = next(
            t
            for t in reversed(terms.tiers)
            if t.from_cents <= amount_cents and (t.to_cents is None or amount_cents < t.to_cents)
        )
        fee = tier.flat_cents + _share(amount_cents, tier.percent)
    fee = max(fee, terms.minimum_cents)
    return fee if terms.cap_cents is None else min(fee, terms.cap_cents)


def _plain(percent: Decimal) -> str:
    """A percentage as a plain decimal string without trailing zeros ("2.35", "3")."""
    return f"{percent.normalize():f}"


def terms_to_row(terms: FeeTerms) -> dict[str, Any]:
    """The terms as the fields `parse_terms` reads (percentages as strings)."""
    return {
        "kind": terms.kind.value,
        "flat_cents": terms.flat_cents,
        "percent": _plain(terms.percent),
        "tiers": [
            {
                "from_cents": t.from_cents,
                "to_cents": t.to_cents,
                "flat_cents": t.flat_cents,
                "percent": _plain(t.percent),
            }
            for t in terms.tiers
        ],
        "minimum_cents": terms.minimum_cents,
        "cap_cents": terms.cap_cents,
    }
