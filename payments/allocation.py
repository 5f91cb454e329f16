"""Allocation: which invoices, installments and charges a payment settles, and a refund takes back.

Pure module: plain values in, plain values out; no Flask, no database, no
clock. The order a payment settles in (DESIGN.md, "Allocation"):

1. Oldest due first: what is owed is grouped by (due date, invoice id,
   installment number), ascending; a tax invoice's installments are groups of
   their own, each with its own due date.
2. Within a group, penalties and interest before principal; among the
   charges, the oldest assessed first, then by charge id.
3. Each item receives at most its balance; a payment never over-applies, and
   whatever is left becomes account credit. The parts and the credit always
   add up to the payment exactly.
4. A payment restricted to invoices the resident chose settles only those
   (in the same order); the rest of the money becomes credit.

A refund of a settled payment takes its parts back in the reverse order: the
last settled first (the newest invoice's principal before its charges).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

PRINCIPAL = "principal"
#: The categories of a charge assessed on an invoice or installment after it was posted.
# NOTE: a fee charged on a bill as its own charge (a returned bank debit's, a reconnection fee)
# is settled as a penalty is: before the principal of its bill.
CHARGE_CATEGORIES = frozenset({"penalty", "interest", "fee"})


@dataclass(frozen=True)
class Owed:
    """One thing a payment can settle."""

    invoice_id: int
    invoice_number: str
    #: The invoice's due date, or the installment's.
    due_date: date
    #: 0 = the invoice's principal as a whole; n = installment n of a tax invoice.
    installment_number: int
    #: None = principal; else an InvoiceCharge (penalty or interest) on that invoice/installment.
    charge_id: int | None
    #: "penalty", "interest" or "principal".
    category: str
    #: For charges: when assessed (older first); None for principal.
    assessed_on: date | None
    #: What is still owed on it (> 0).
    balance_cents: int


@dataclass(frozen=True)
class Part:
    """What a payment puts on one invoice's principal, installment or charge."""

    invoice_id: int
    invoice_number: str
    installment_number: int
    charge_id: int | None
    category: str
    cents: int


@dataclass(frozen=True)
class Allocation:
    """How a payment is settled: the parts in the order settled, and the account credit left over."""

    parts: tuple[Part, ...]
    credit_cents: int

    @property
    def applied_cents(self) -> int:
        """The cents that went to invoices (the payment less the credit)."""
        return sum(part.cents for part in self.parts)


def _is_cents(value: object) -> bool:
    """True for a whole number of cents (an int; a bool, float or Decimal is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(item: Owed) -> str:
    """The item in a clerk's words, for error messages."""
    where = f"invoice {item.invoice_number} (id {item.invoice_id})"
    if item.installment_number:
        where += f" installment {item.installment_number}"
    if item.charge_id is None:
        return f"{where} principal"
    return f"{where} {item.category} charge {item.charge_id}"


def _is_date(value: object) -> bool:
    """True for a calendar date (a datetime is not one: it does not order against a date)."""
    return isinstance(value, date) and not isinstance(value, datetime)


def _check_item(item: Owed) -> None:
    """Refuse an item that cannot be settled or ordered; the message names the item."""
    if not isinstance(item, Owed):
        raise ValueError(f"expected an Owed item, got {type(item).__name__}")
    if not _is_cents(item.balance_cents) or item.balance_cents <= 0:
        raise ValueError(
            f"balance_cents of {_describe(item)} must be a positive int, got {item.balance_cents!r}"
        )
    if not _is_cents(item.installment_number) or item.installment_number < 0:
        raise ValueError(f"installment_number of {_describe(item)} must be an int >= 0")
    if not _is_date(item.due_date):
        raise ValueError(f"due_date of {_describe(item)} must be a date, got {item.due_date!r}")
    if item.charge_id is None:
        if item.category != PRINCIPAL:
            raise ValueError(
                f"{_describe(item)} has no charge_id, so its category must be 'principal', "
                f"not {item.category!r}"
            )
        return
    if item.category == PRINCIPAL:
        raise ValueError(f"{_describe(item)}: a principal must not carry a charge_id")
    if item.category not in CHARGE_CATEGORIES:
        raise ValueError(
            f"{_describe(item)}: category must be 'penalty', 'interest', 'fee' or 'principal', "
            f"not {item.category!r}"
        )
    if not _is_date(item.assessed_on):
        raise ValueError(f"{_describe(item)} must have the date it was assessed on")


def _checked(owed: Iterable[Owed]) -> list[Owed]:
    """The items, each checked, with no item twice and one due date per invoice or installment."""
    items = list(owed)
    seen: set[tuple[int, int, int | None]] = set()
    due_dates: dict[tuple[int, int], date] = {}
    numbers: dict[int, str] = {}
    for item in items:
        _check_item(item)
        key = (item.invoice_id, item.installment_number, item.charge_id)
        if key in seen:
            raise ValueError(f"{_describe(item)} is listed twice")
        seen.add(key)
        group = (item.invoice_id, item.installment_number)
        if due_dates.setdefault(group, item.due_date) != item.due_date:
            raise ValueError(
                f"{_describe(item)} is due {item.due_date}, but the rest of it is due "
                f"{due_dates[group]}"
            )
        if numbers.setdefault(item.invoice_id, item.invoice_number) != item.invoice_number:
            raise ValueError(
                f"invoice id {item.invoice_id} is listed as both "
                f"{numbers[item.invoice_id]!r} and {item.invoice_number!r}"
            )
    return items


def _settlement_key(item: Owed) -> tuple:
    """Where the item stands in the order a payment settles things (smallest first)."""
    # NOTE: the municipality's rule (DESIGN.md, "Allocation"): within an invoice
    # or installment, penalties and interest are settled before its principal.
    is_principal = item.charge_id is None
    return (
        item.due_date,
        item.invoice_id,
        item.installment_number,
        is_principal,
        item.assessed_on or date.min,
        item.charge_id or 0,
    )


def _chosen(only_invoices: Collection[int] | None) -> frozenset[int] | None:
    """The invoice ids the resident chose, or None when the payment may settle any invoice."""
    if only_invoices is None:
        return None
    if isinstance(only_invoices, str | bytes):
        raise ValueError("only_invoices must be a collection of invoice ids, not a string")
    chosen = frozenset(only_invoices)
    if not chosen:
        raise ValueError("only_invoices is empty: choose at least one invoice, or pass None")
    return chosen


def allocate(
    amount_cents: int, owed: Iterable[Owed], *, only_invoices: Collection[int] | None = None
) -> Allocation:
    """Settle a payment oldest due first, charges before principal; the rest becomes credit."""
    if not _is_cents(amount_cents) or amount_cents <= 0:
        raise ValueError(
            f"amount_cents must be a positive int, got {amount_cents!r} "
            f"({type(amount_cents).__name__})"
        )
    items = _checked(owed)
    chosen = _chosen(only_invoices)
    if chosen is not None:
        items = [item for item in items if item.invoice_id in chosen]
    left = amount_cents
    parts: list[Part] = []
    for item in sorted(items, key=_settlement_key):
        if left == 0:
            break
        cents = min(left, item.balance_cents)
        parts.append(
            Part(
                item.invoice_id,
                item.invoice_number,
                item.installment_number,
                item.charge_id,
                item.category,
                cents,
            )
        )
        left -= cents
    return Allocation(tuple(parts), left)


def refund_parts(allocation_parts: Sequence[Part], refund_cents: int) -> list[Part]:
    """The parts a refund takes back, last settled first; never more than was allocated."""
    if not _is_cents(refund_cents) or refund_cents < 0:
        raise ValueError(f"refund_cents must be an int >= 0, got {refund_cents!r}")
    for part in allocation_parts:
        if not _is_cents(part.cents) or part.cents <= 0:
            raise ValueError(
                f"a part of invoice {part.invoice_number} has {part.cents!r} cents; "
                "every part must be a positive int"
            )
    allocated = sum(part.cents for part in allocation_parts)
    if refund_cents > allocated:
        raise ValueError(
            f"a refund of {refund_cents} cents exceeds the {allocated} cents "
            "the payment put on invoices"
        )
    left = refund_cents
    taken: list[Part] = []
    for part in reversed(allocation_parts):
        if left == 0:
            break
        cents = min(left, part.cents)
        taken.append(replace(part, cents=cents))
        left -= cents
    return taken
