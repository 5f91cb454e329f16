"""The estimated first installment of a tax year (Cook County, 35 ILCS 200/21-30): reading it
from a levy document and the arithmetic of the two bills it makes.

Pure module. The first bill is a percent of the parcel's prior-year tax, rounded once; the
second is the year's actual tax less what the first billed (billed, not paid), never below
zero: when the estimate billed more than the year's tax, the second installment is zero and
the difference is taken off the first bill (what was paid of it becomes account credit;
billing/estimates.py posts it). docs/tax.md, "An estimated first installment".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from billing.computed import RuleError
from billing.levy_spec import DiscountStep, EstimatedFirstInstallment, InstallmentDue
from core.money import to_cents

#: The document's key and the keys of its block.
KEY = "estimated_first_installment"
_KEYS = frozenset({"percent", "issue", "due"})


def parse_estimate(
    value: Any,
    tax_year: int,
    installments: tuple[InstallmentDue, ...],
    discounts: tuple[DiscountStep, ...],
    *,
    mapping: Callable,
    read_date: Callable,
    read_decimal: Callable,
) -> EstimatedFirstInstallment:
    """The estimated first installment block, checked against the year's installments.

    The field readers are levy_format's own, so that every refusal names its place alike.
    """
    item: Mapping = mapping(value, KEY, _KEYS, _KEYS)
    percent = read_decimal(item["percent"], f"{KEY}.percent", Decimal(0), Decimal(100), 4)
    issue = read_date(item["issue"], f"{KEY}.issue")
    due = read_date(item["due"], f"{KEY}.due")
    if not tax_year <= due.year <= tax_year + 2:
        raise RuleError(f"{KEY}.due: {due} is not within tax year {tax_year} to {tax_year + 2}")
    if due < issue:
        raise RuleError(f"{KEY}.due: {due} is before the issue date {issue}")
    if len(installments) != 1:
        raise RuleError(
            "installments: with an estimated first installment, give the one (second) "
            f"installment it is deducted from, not {len(installments)}"
        )
    second = installments[0].due_date
    if due >= second:
        raise RuleError(
            f"{KEY}.due: {due} is not before the second installment's due date {second}"
        )
    if discounts:
        raise RuleError("discounts: a year with an estimated first installment has none")
    return EstimatedFirstInstallment(percent, issue, due)


def estimate_cents(prior_tax_cents: int, percent: Decimal, rounding: str) -> int:
    """The estimated first installment: percent of the prior year's tax, rounded once."""
    if prior_tax_cents <= 0:
        return 0
    return to_cents(Decimal(prior_tax_cents) * percent / 100, rounding)


@dataclass(frozen=True)
class SecondInstallment:
    """What the year's bill deducts and owes once its actual tax is known."""

    #: The year's actual tax (the levy lines, charges and credits of the bill).
    tax_cents: int
    #: The estimated first installment billed.
    estimate_cents: int
    #: Deducted on the bill: the estimate, at most the tax.
    deducted_cents: int
    #: The second installment: the tax less the estimate, never below zero.
    due_cents: int
    #: What the estimate billed beyond the year's tax: taken off the first bill.
    excess_cents: int


def second_installment(tax_cents: int, estimate: int) -> SecondInstallment:
    """The second installment of a year whose first was estimated at `estimate` cents."""
    deducted = min(tax_cents, estimate)
    return SecondInstallment(
        tax_cents, estimate, deducted, tax_cents - deducted, estimate - deducted
    )


def estimate_words(percent: Decimal, prior_year: int, prior_tax: str) -> dict[str, str]:
    """The estimated bill's one line, by language: "Estimated at 55% of 2022 tax of $5,466.97"."""
    shown = format(percent.normalize(), "f")
    return {
        "en": f"Estimated at {shown}% of {prior_year} tax of {prior_tax}",
        "es": f"Estimado en {shown}% del impuesto de {prior_year} de {prior_tax}",
    }


def deduction_words(tax_year: int, billed_on: date) -> dict[str, str]:
    """The second bill's deduction line, by language."""
    day = billed_on.strftime("%m/%d/%Y")
    return {
        "en": f"Less {tax_year} first installment (estimated), billed {day}",
        "es": f"Menos la primera cuota de {tax_year} (estimada), facturada el {day}",
    }
