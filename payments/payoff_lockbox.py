"""Lockbox and bill-pay items that name a payoff quote (docs/payoff-quotes.md).

The quote letter's stub carries the quote number and no scan line, so a lender's or title
company's check comes back with the quote number where an account's scan line or bill-pay
reference would be. The import (payments.lockbox) recognises it — the whole text is a quote
number `PQ-YYYY-NNNNNN`, which no account number or former number can be mistaken for — and:

- a quote that stands on the deposit date (open or already paid, good through that day or
  later) is applied to at import: the item is held on 2040 with the file's other waiting items
  and at once applied to the quote (payments.payoff_payments.apply_item_to_quote), so the
  parcel is settled once and whatever it pays beyond the parcel's tax is a refund to send;
- an unknown quote number, a quote past its good-through date or a quote replaced by a newer
  one waits in the exception queue with its reason, for a clerk to apply to a quote (a late
  payment) or return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import PayoffPayment, PayoffQuote, QuoteStatus
from core.audit import Actor
from core.db import among
from payments.models import RemittanceItem
from payments.payoff_payments import apply_item_to_quote

QUOTE_NUMBER = re.compile(r"PQ-\d{4}-\d{6}")
#: Why an item naming a quote waits, in the clerks' words (part of payments.lockbox.REASONS).
REASONS = {
    "payoff_quote": "names a payoff quote: apply it to the quote",
    "unknown_quote": "no payoff quote has this number",
    "quote_expired": "the payoff quote's good-through date had passed",
    "quote_superseded": "the payoff quote was replaced by a newer one",
}
#: The reason of an item that is applied to its quote (at import, or by a clerk).
TO_APPLY = "payoff_quote"


@dataclass(frozen=True)
class QuoteTerms:
    """The town's penalty settings a quote payment assesses with (as billing.payoff uses)."""

    rounding: str
    town_state: str = ""

    @classmethod
    def from_config(cls, config: Mapping) -> QuoteTerms:
        return cls(config["ROUNDING_RULE"], config.get("MUNICIPALITY_STATE", ""))


@dataclass(frozen=True)
class QuoteMatch:
    """What an item naming a quote number becomes: applied (TO_APPLY) or waiting, and why."""

    number: str
    account_id: int | None
    reason: str
    detail: str


def quote_number(*texts: str | None) -> str | None:
    """The quote number an item's scan line or reference is, spaces ignored; else None."""
    for text in texts:
        compact = "".join((text or "").split()).upper()
        if QUOTE_NUMBER.fullmatch(compact):
            return compact
    return None


def match_quotes(
    session: Session, numbers: Iterable[str], deposited: date
) -> dict[str, QuoteMatch]:
    """Each quote number's match as of the deposit date, the quotes read by one query."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    quotes = {
        q.number: q
        for q in session.scalars(
            sa.select(PayoffQuote).where(among(session, PayoffQuote.number, wanted))
        )
    }
    return {n: _match(n, quotes.get(n), deposited) for n in wanted}


def _match(number: str, quote: PayoffQuote | None, deposited: date) -> QuoteMatch:
    if quote is None:
        return QuoteMatch(number, None, "unknown_quote", f"no payoff quote has the number {number}")
    if quote.status == QuoteStatus.SUPERSEDED:
        return QuoteMatch(
            number,
            quote.account_id,
            "quote_superseded",
            f"payoff quote {number} was replaced by a newer quote for {quote.requester_name}",
        )
    if quote.good_through < deposited:
        return QuoteMatch(
            number,
            quote.account_id,
            "quote_expired",
            f"payoff quote {number} was good through {quote.good_through.isoformat()}; "
            f"the check was deposited {deposited.isoformat()}",
        )
    return QuoteMatch(
        number,
        quote.account_id,
        TO_APPLY,
        f"payoff quote {number} for {quote.requester_name}, good through "
        f"{quote.good_through.isoformat()}",
    )


def apply_at_import(
    session: Session,
    actor: Actor,
    file_id: int,
    numbers: Mapping[int, str],
    terms: QuoteTerms,
    *,
    on: date,
) -> list[PayoffPayment]:
    """Apply the file's held items (by sequence) to the quotes they name, in the file's order."""
    items = session.scalars(
        sa.select(RemittanceItem)
        .where(RemittanceItem.file_id == file_id, RemittanceItem.sequence.in_(list(numbers)))
        .order_by(RemittanceItem.sequence)
    ).all()
    quotes = {
        q.number: q
        for q in session.scalars(
            sa.select(PayoffQuote).where(PayoffQuote.number.in_(set(numbers.values())))
        )
    }
    return [
        apply_item_to_quote(
            session,
            actor,
            item,
            quotes[numbers[item.sequence]],
            note=f"Applied at import to payoff quote {numbers[item.sequence]}",
            on=on,
            rounding=terms.rounding,
            town_state=terms.town_state,
        )
        for item in items
    ]
