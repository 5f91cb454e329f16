"""What an invoice still owes, per receivable account, so every settlement credits the right one.

An invoice's lines debit the receivables of their services (or property
tax); payments, credit memos and credit applied credit them back. These
functions keep each receivable exact: a settlement fills the invoice's
receivables in line order and never takes more than one of them still owes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceLine, Settlement
from billing.models.invoices import REOPENING
from core.db import among


def outstanding_by_receivable(session: Session, invoice: Invoice) -> dict[int, int]:
    """receivable GL id -> principal still owed on it, in the order of the invoice's lines."""
    return outstanding_by_receivables(session, [invoice.id])[invoice.id]


def outstanding_by_receivables(
    session: Session, invoice_ids: Sequence[int]
) -> dict[int, dict[int, int]]:
    """outstanding_by_receivable for many invoices with two queries: invoice id -> GL id -> cents."""
    owed: dict[int, dict[int, int]] = {invoice_id: {} for invoice_id in invoice_ids}
    if not owed:
        return owed
    lines = session.execute(
        sa.select(InvoiceLine.invoice_id, InvoiceLine.receivable_gl_id, InvoiceLine.amount_cents)
        .where(among(session, InvoiceLine.invoice_id, owed))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    ).all()
    for invoice_id, gl_id, cents in lines:
        mine = owed[invoice_id]
        mine[gl_id] = mine.get(gl_id, 0) + cents
    settled = session.execute(
        sa.select(Settlement.invoice_id, Settlement.receivable_gl_id, sa.func.sum(signed_amount()))
        .where(among(session, Settlement.invoice_id, owed), Settlement.charge_id.is_(None))
        .group_by(Settlement.invoice_id, Settlement.receivable_gl_id)
    ).all()
    for invoice_id, gl_id, cents in settled:
        mine = owed[invoice_id]
        mine[gl_id] = mine.get(gl_id, 0) - int(cents)
    return owed


def signed_amount():
    """A settlement's effect on what is owed: reversals (of payments or of discounts) give back
    what they take back."""
    return sa.case(
        (Settlement.kind.in_(REOPENING), -Settlement.amount_cents),
        else_=Settlement.amount_cents,
    )


def fill(outstanding: dict[int, int], amount: int) -> dict[int, int]:
    """Split amount over the receivables in order, each up to what it still owes."""
    taken: dict[int, int] = defaultdict(int)
    remaining = amount
    for gl_id, owed in outstanding.items():
        take = min(remaining, max(owed, 0))
        if take:
            taken[gl_id] += take
            remaining -= take
    if remaining:
        raise ValueError(f"{amount} cents is more than the invoice's receivables still owe")
    return dict(taken)
