"""Early-payment discounts honoured when a tax bill is paid in full in time.

A tax invoice keeps the discounts its levy gives (billing.models.InvoiceDiscount): paying the
whole bill by a pay-by date costs the bill less that discount. A payment received on or before
a pay-by date (the town's business date of the payment) that, allocated as usual (oldest due
first, payments.allocation), settles everything the invoice still owes less the discount settles
the invoice in full: the discount is settled too, and posted to the levy's discount account.
A payment that comes late, or that is short even by a cent, gets no discount.

The choice (`honoured`) is pure: plain values in, plain values out; `offers_of` reads the
stored discounts and `settle_discounts` settles and posts what was chosen, for
payments.services.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import InvoiceDiscount, Settlement, SettlementKind
from billing.receivables import fill
from core.db import among
from ledger.posting import EntrySpec, Posting
from payments.allocation import Owed, allocate
from payments.models import Payment


@dataclass(frozen=True)
class Offer:
    """A discount on offer for paying an invoice (or one installment of it) in full by pay_by."""

    invoice_id: int
    pay_by: date
    discount_cents: int
    #: The discount account's GL id.
    gl_account_id: int
    #: 0: for the whole bill; n: for installment n alone.
    installment_number: int = 0

    @property
    def key(self) -> tuple[int, int]:
        """What the offer is for: (invoice id, installment number or 0)."""
        return (self.invoice_id, self.installment_number)


def best_offers(offers: Iterable[Offer], on: date) -> dict[tuple[int, int], Offer]:
    """Per invoice (or installment), the largest discount still open on the day (pay_by on or
    after it)."""
    best: dict[tuple[int, int], Offer] = {}
    for offer in offers:
        if offer.pay_by < on or offer.discount_cents <= 0:
            continue
        held = best.get(offer.key)
        if held is None or offer.discount_cents > held.discount_cents:
            best[offer.key] = offer
    return best


def spread(discount_cents: int, installments: Sequence[tuple[int, int]]) -> dict[int, int]:
    """A discount over an invoice's principal items (number, balance), latest first; never more
    than they owe."""
    parts: dict[int, int] = {}
    left = discount_cents
    for number, balance in sorted(installments, reverse=True):
        take = min(left, balance)
        if take:
            parts[number] = take
            left -= take
    return parts


def _reduced(owed: Sequence[Owed], grants: dict[tuple[int, int], dict[int, int]]) -> list[Owed]:
    """The items with each granted discount taken off the principal it is for."""
    cuts: dict[tuple[int, int], int] = defaultdict(int)
    for (invoice_id, _number), parts in grants.items():
        for number, cents in parts.items():
            cuts[(invoice_id, number)] += cents
    items = []
    for item in owed:
        cut = cuts.get((item.invoice_id, item.installment_number), 0)
        if item.charge_id is None and cut:
            if item.balance_cents - cut > 0:
                items.append(replace(item, balance_cents=item.balance_cents - cut))
            continue
        items.append(item)
    return items


def _grant(offer: Offer, principal: list[tuple[int, int]]) -> dict[int, int]:
    """The cents of an offer by installment: spread over the bill, or on its installment."""
    if offer.installment_number == 0:
        return spread(offer.discount_cents, principal)
    balance = dict(principal).get(offer.installment_number, 0)
    cents = min(offer.discount_cents, balance)
    return {offer.installment_number: cents} if cents else {}


def _covers(key: tuple[int, int], item: Owed) -> bool:
    """Whether an item is part of what an offer needs paid: the invoice, or its installment."""
    invoice_id, number = key
    return item.invoice_id == invoice_id and number in (0, item.installment_number)


def honoured(
    amount_cents: int,
    owed: Sequence[Owed],
    offers: Iterable[Offer],
    on: date,
    *,
    only_invoices: Collection[int] | None = None,
) -> dict[tuple[int, int], tuple[Offer, dict[int, int]]]:
    """The discounts a payment of amount_cents received on `on` earns: (invoice id, installment
    or 0) -> (the offer, its cents by installment). An offer is earned when the payment,
    allocated as usual with the discounts taken off, settles everything the invoice (or the
    installment, with its charges) still owes."""
    candidates = best_offers(offers, on)
    if only_invoices is not None:
        candidates = {k: o for k, o in candidates.items() if k[0] in only_invoices}
    principal: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item in owed:
        if item.charge_id is None:
            principal[item.invoice_id].append((item.installment_number, item.balance_cents))
    while candidates:
        grants = {k: _grant(o, principal[k[0]]) for k, o in candidates.items()}
        items = _reduced(owed, grants)
        allocation = allocate(amount_cents, items, only_invoices=only_invoices)
        paid: dict[tuple[int, int], int] = defaultdict(int)
        for part in allocation.parts:
            paid[(part.invoice_id, part.installment_number)] += part.cents
        short = set()
        for key in candidates:
            needed = sum(i.balance_cents for i in items if _covers(key, i))
            got = sum(c for (i, n), c in paid.items() if key[0] == i and key[1] in (0, n))
            if got < needed or not grants[key]:
                short.add(key)
        # NOTE: an offer that falls short only ever needs more once another one is dropped
        # (money goes oldest due first), so dropping every short one at once reaches the same
        # answer.
        if not short:
            return {k: (candidates[k], grants[k]) for k in candidates}
        candidates = {k: o for k, o in candidates.items() if k not in short}
    return {}


def offers_of(session: Session, invoice_ids: list[int]) -> dict[int, list[Offer]]:
    """The discounts stored with the invoices, by invoice id; none for what holds one now (a
    bill, or an installment, is discounted once). A discount taken back (its payment refunded,
    payments.discount_reversals) is on offer again until its pay-by date."""
    found: dict[int, list[Offer]] = defaultdict(list)
    if not invoice_ids:
        return found
    standing = sa.func.sum(
        sa.case(
            (Settlement.kind == SettlementKind.DISCOUNT_REVERSED, -Settlement.amount_cents),
            else_=Settlement.amount_cents,
        )
    )
    given = {
        (invoice_id, number)
        for invoice_id, number in session.execute(
            sa.select(Settlement.invoice_id, Settlement.installment_number)
            .where(
                Settlement.kind.in_([SettlementKind.DISCOUNT, SettlementKind.DISCOUNT_REVERSED]),
                among(session, Settlement.invoice_id, invoice_ids),
            )
            .group_by(Settlement.invoice_id, Settlement.installment_number)
            .having(standing > 0)
        )
    }
    rows = session.execute(
        sa.select(
            InvoiceDiscount.invoice_id,
            InvoiceDiscount.pay_by,
            InvoiceDiscount.discount_cents,
            InvoiceDiscount.gl_account_id,
            InvoiceDiscount.installment_number,
        ).where(among(session, InvoiceDiscount.invoice_id, invoice_ids))
    )
    for invoice_id, pay_by, cents, gl_id, number in rows:
        taken = (invoice_id, number) in given if number else any(i == invoice_id for i, _ in given)
        if not taken:
            found[invoice_id].append(Offer(invoice_id, pay_by, int(cents), gl_id, number))
    return found


def settle_discounts(
    settlements: list[dict],
    book,
    payment: Payment,
    grants: dict,
    on: date,
    now: datetime,
    codes: dict[int, str],
    entries: list[EntrySpec],
) -> int:
    """Settle the early-payment discounts a payment earned (`honoured`), for
    payments.services and its book of what the account owes: lower the installments, add
    DISCOUNT settlements, and post each as its own entry (debit the discount account, credit
    the receivable); returns the cents discounted."""
    invoices = {i.id: i for i in book.invoices[payment.account_id]}
    total = 0
    for (invoice_id, number), (offer, by_installment) in grants.items():
        invoice = invoices[invoice_id]
        postings: list[Posting] = []
        outstanding = book.outstanding[invoice.id]
        for part_number, cents in by_installment.items():
            for installment in invoice.installments:
                if installment.number == part_number:
                    installment.balance_cents -= cents
            invoice.balance_cents -= cents
            for gl_id, piece in fill(outstanding, cents).items():
                outstanding[gl_id] -= piece
                settlements.append(
                    {
                        "invoice_id": invoice.id,
                        "installment_number": part_number,
                        "charge_id": None,
                        "receivable_gl_id": gl_id,
                        "kind": SettlementKind.DISCOUNT,
                        "source_id": str(payment.id),
                        "amount_cents": piece,
                        "settled_on": on,
                        "created_at": now,
                    }
                )
                postings.append(
                    Posting(codes[gl_id], credit_cents=piece, account_id=invoice.account_id)
                )
            postings.append(Posting(codes[offer.gl_account_id], debit_cents=cents))
            total += cents
        book.refresh_status(invoice)
        book.offers[invoice.id] = [
            o for o in book.offers.get(invoice.id, []) if number and o.installment_number != number
        ]
        what = f"invoice {invoice.number}" + (f" installment {number}" if number else "")
        entries.append(
            EntrySpec(
                postings,
                entry_date=on,
                source_type="discount",
                source_id=f"{invoice.number}/{number}" if number else invoice.number,
                memo=f"Early-payment discount on {what} (paid by {offer.pay_by}) "
                f"with payment {payment.id} for account {book.numbers[payment.account_id]}",
            )
        )
    return total
