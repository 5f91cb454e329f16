"""What must hold of the books after a fault: each payment settled once, and nothing half-written."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.invoices import invoices_not_matching_lines
from billing.models import Settlement, SettlementKind
from ledger.balances import trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.models import Payment, PaymentStatus, Receipt


def settled_once(session: Session, payment_ids: list[int]) -> None:
    """Each payment succeeded with one receipt, one journal entry and settlements adding up to it."""
    payments = session.scalars(sa.select(Payment).where(Payment.id.in_(payment_ids))).all()
    assert {p.status for p in payments} == {PaymentStatus.SUCCEEDED}
    receipts = dict(
        session.execute(
            sa.select(Receipt.payment_id, sa.func.count())
            .where(Receipt.payment_id.in_(payment_ids))
            .group_by(Receipt.payment_id)
        ).all()
    )
    entries = dict(
        session.execute(
            sa.select(JournalEntry.source_id, sa.func.count())
            .where(JournalEntry.source_type == "payment")
            .group_by(JournalEntry.source_id)
        ).all()
    )
    settled = dict(
        session.execute(
            sa.select(Settlement.source_id, sa.func.sum(Settlement.amount_cents))
            .where(Settlement.kind == SettlementKind.PAYMENT)
            .group_by(Settlement.source_id)
        ).all()
    )
    for payment in payments:
        assert receipts.get(payment.id) == 1, (
            f"payment {payment.id} has {receipts.get(payment.id)} receipts"
        )
        assert entries.get(str(payment.id)) == 1, (
            f"payment {payment.id} posted {entries.get(str(payment.id))} times"
        )
        assert settled.get(str(payment.id)) == payment.amount_cents


def books_whole(session: Session) -> None:
    """The ledger's chain verifies, it balances, and every invoice matches its lines."""
    assert verify_chain(session).ok
    report = trial_balance(session)
    assert report.total_debit_cents == report.total_credit_cents
    assert invoices_not_matching_lines(session) == []
