"""What a penalty rule is charged on, and the words for a charge: shared by billing.penalties
(one-time, schedule and monthly rules) and billing.penalty_daily (daily interest).

Pure module. Amounts "scaled" here are cents times the invoice's total principal, so that a
rule's share of the unpaid balance stays exact until it is rounded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from billing.penalty_format import PenaltyRule
from billing.words import WORDS, in_languages
from core.money import format_cents, to_cents

if TYPE_CHECKING:
    from billing.penalties import InvoiceFacts

#: Words of a description not yet in a language: a billing.words key and its fields (a field
#: may be a phrase itself; `month` is a month's number, named in the language).
Phrase = tuple[str, dict]


@dataclass(frozen=True)
class PenaltyCharge:
    """One penalty or interest charge owed; (rule_id, period_key) names it for good."""

    rule_id: str
    #: "once" for a one_time rule, the month a delinquency month starts in ("2027-03"), or the
    #: first day a daily rule's charge counts ("2027-03-01").
    period_key: str
    #: "penalty" or "interest" (a LineCategory value).
    category: str
    amount_cents: int
    #: Words for the invoice and the notice, in the default language.
    description: str
    #: The day the charge became due.
    assessed_on: date
    #: The description by language (billing.words).
    descriptions: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Basis:
    """One rule applied to one invoice: the principal it is charged on, its cap, the rounding."""

    rule: PenaltyRule
    invoice: InvoiceFacts
    #: Principal as billed in the rule's categories.
    billed: int
    cap: int | None
    rounding: str
    #: The charges made on the invoice so far (earlier rules, earlier versions, this rule's
    #: earlier periods): what `unpaid_with_charges` adds to the principal.
    earlier: list[PenaltyCharge] = field(default_factory=list)

    def unpaid(self, day: date) -> int:
        """The rule's share of the unpaid principal at the start of day, scaled."""
        # NOTE: a partial payment reduces every principal category in proportion;
        # which line a payment settles first is allocation's business, not ours.
        return self.invoice.balance_before(day) * self.billed

    def chargeable(self, unpaid: int, day: date) -> bool:
        """Whether anything is owed: unpaid principal, at least the minimum past due.

        With `unpaid_with_charges` the minimum is tested on the principal plus the earlier
        charges still unpaid ("the late charge becomes part of the unpaid principal balance
        and is included ... for determining whether the unpaid balance exceeds $10.00").
        """
        minimum = self.rule.minimum_past_due_cents
        if unpaid <= 0 or minimum is None:
            return unpaid > 0
        past_due = unpaid
        if self.rule.base == "unpaid_with_charges":
            past_due += self.charges_unpaid(day) * self.invoice.original_cents
        if self.rule.base == "account_past_due":
            past_due += self.invoice.arrears_before(day) * self.invoice.original_cents
        return past_due >= minimum * self.invoice.original_cents

    def charges_unpaid(self, day: date) -> int:
        """Penalties and interest charged before day and not paid by its start, in cents."""
        charged = sum(c.amount_cents for c in self.earlier if c.assessed_on < day)
        return max(charged - self.invoice.charges_paid_before(day), 0)

    def base(self, unpaid: int, day: date) -> int:
        """What a percentage is taken of on a day, scaled."""
        if self.rule.base == "original":
            return self.billed * self.invoice.original_cents
        if self.rule.base == "unpaid_with_charges":
            # NOTE: "the late charge becomes part of the unpaid balance": earlier charges
            # still unpaid bear the percentage as the principal does.
            return unpaid + self.charges_unpaid(day) * self.invoice.original_cents
        if self.rule.base == "account_past_due":
            # NOTE: "an outstanding balance ... on the current charges or any unpaid
            # arrearages" (Maumee § 139.05(a)): the account's other past-due bills count too.
            return unpaid + self.invoice.arrears_before(day) * self.invoice.original_cents
        return unpaid

    def cents(self, scaled: Decimal | int) -> int:
        """A scaled amount rounded once, by the municipality's rule, to whole cents."""
        return to_cents(Decimal(scaled) / self.invoice.original_cents, self.rounding)

    def base_text(self, scaled: int) -> Phrase:
        """The base for a description: '$1,234.56 unpaid'."""
        return (f"penalty.{self.rule.base}", {"amount": format_cents(self.cents(scaled))})

    def limit(self, amount: int, charged: int) -> tuple[int, Phrase | None]:
        """Raise the amount to the minimum charge, then hold the total to the cap."""
        note: Phrase | None = None
        minimum = self.rule.minimum_charge_cents
        if minimum is not None and amount < minimum:
            amount, note = minimum, ("penalty.minimum", {})
        if self.cap is not None and charged + amount > self.cap:
            amount = max(self.cap - charged, 0)
            note = ("penalty.cap", {"cap": format_cents(self.cap)})
        return amount, note


@dataclass
class Accrual:
    """The running totals of a periodic rule on one invoice."""

    #: The exact amount accrued so far (scaled, in percent-cents), never rounded.
    exact: Decimal = Decimal(0)
    #: `exact` rounded once to cents, as of the period before.
    rounded: int = 0
    #: What the rule has charged so far, after minimums and the cap.
    charged: int = 0

    def add(self, basis: Basis, scaled_percent: Decimal) -> int:
        """Accrue this period's exact amount; return how much the rounded total grew."""
        self.exact += scaled_percent
        total = basis.cents(self.exact / 100)
        grown, self.rounded = total - self.rounded, total
        return grown


def in_words(phrase: Phrase, table: Mapping) -> str:
    """A phrase in the language of a billing.words table."""
    key, fields = phrase
    filled = {
        name: in_words(value, table)
        if isinstance(value, tuple)
        else table["months"][value - 1]
        if name == "month"
        else value
        for name, value in fields.items()
    }
    return str(table[key]).format(**filled)


def descriptions(rule: PenaltyRule, *phrases: Phrase | None) -> dict[str, str]:
    """A charge's description in each language the rule's own has: it, then the phrases."""
    texts = in_languages(rule.description, rule.description_translations)
    return {
        language: text + "".join(in_words(p, WORDS[language]) for p in phrases if p is not None)
        for language, text in texts.items()
    }
