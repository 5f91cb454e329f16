"""What an invoice still owes, per receivable account, so every settlement credits the right one.

An invoice's lines debit the receivables of their services (or property
tax); payments, credit memos and credit applied credit them back. These
functions keep each receivable exact: a settlement fills the invoice's
receivables in line order and never takes more than one of them still owes.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, Settlement, SettlementKind


def outstanding_by_receivable(session: Session, invoice: Invoice) -> dict[int, int]:
    """receivable GL id -> principal still owed on it, in the order of the invoice's lines."""
    owed: dict[int, int] = {}
    for line in invoice.lines:
        owed[line.receivable_gl_id] = owed.get(line.receivable_gl_id, 0) + line.amount_cents
    settled = session.execute(
        sa.select(Settlement.receivable_gl_id, sa.func.sum(signed_amount()))
        .where(Settlement.invoice_id == invoice.id, Settlement.charge_id.is_(None))
        .group_by(Settlement.receivable_gl_id)
    ).all()
    for gl_id, cents in settled:
        owed[gl_id] = owed.get(gl_id, 0) - int(cents)
    return owed


def signed_amount():
    """A settlement's effect on what is owed: reversals give back what they take back."""
    return sa.case(
        (Settlement.kind == SettlementKind.REVERSAL, -Settlement.amount_cents),
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
