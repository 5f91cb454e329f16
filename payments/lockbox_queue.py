"""The clerks' exception queue of lockbox and bill-pay items: apply one to an account, or return it.

An item waits with its money on 2040 (payments.lockbox). A clerk either applies
the whole amount to an account chosen by hand (a payment settled as any other,
posted Dr 2040 / Cr receivables, with a receipt) or returns the check to the
payer (Dr 2040 / Cr 2010 Refunds payable: the town owes it back). Each item is
resolved once, under a row lock, and audited.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, AccountStatus
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from ledger import chart
from ledger.posting import credit, debit, post_entry
from payments.models import (
    Channel,
    Payment,
    Receipt,
    RemittanceFile,
    RemittanceItem,
    RemittanceKind,
    RemittanceStatus,
    Tender,
)
from payments.services import settle_payment

MIN_NOTE, MAX_NOTE = 5, 500


class QueueRefused(ValueError):
    """A resolution that cannot be made; `field` names what is wrong, nothing was changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def waiting(session: Session, limit: int = 500) -> list[RemittanceItem]:
    """The items waiting for a clerk, oldest first."""
    return list(
        session.scalars(
            sa.select(RemittanceItem)
            .where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
            .order_by(RemittanceItem.id)
            .limit(limit)
        )
    )


def take_waiting(session: Session, item: RemittanceItem, note: str) -> RemittanceItem:
    """The item locked and still waiting, with a note of the right length; else QueueRefused.

    The first step of every resolution, here or elsewhere (payments.payoff_payments applies an
    item to a payoff quote); `mark_applied` is the last.
    """
    note = (note or "").strip()
    if not MIN_NOTE <= len(note) <= MAX_NOTE:
        raise QueueRefused("note", f"say why, in {MIN_NOTE} to {MAX_NOTE} characters")
    locked = session.scalars(
        sa.select(RemittanceItem)
        .where(RemittanceItem.id == item.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.status != RemittanceStatus.EXCEPTION:
        raise QueueRefused(
            "item",
            f"item {locked.id} was already {locked.status.value} by {locked.resolved_by}",
        )
    return locked


def _close(item: RemittanceItem, actor: Actor, status: RemittanceStatus, note: str) -> None:
    item.status, item.resolved_by, item.resolved_at = status, actor.label, utcnow()
    item.resolution = note.strip()


def apply_item(
    session: Session,
    actor: Actor,
    item: RemittanceItem,
    *,
    account: Account | None,
    amount_cents: int,
    note: str,
    on: date,
) -> Receipt:
    """Apply a waiting item's whole amount to an account chosen by hand; settled, receipted."""
    item = take_waiting(session, item, note)
    if account is None:
        raise QueueRefused("account", "enter the number of the account to apply it to")
    if account.status == AccountStatus.CLOSED:
        raise QueueRefused("account", f"account {account.number} is closed")
    if amount_cents != item.amount_cents:
        raise QueueRefused(
            "amount_cents",
            f"the bank deposited {format_cents(item.amount_cents)}: apply all of it, "
            "or return the check",
        )
    kind = session.scalar(sa.select(RemittanceFile.kind).where(RemittanceFile.id == item.file_id))
    payment = Payment(
        account_id=account.id,
        channel=Channel.MAIL,
        tender=Tender.CHECK if kind == RemittanceKind.LOCKBOX else Tender.BILL_PAY,
        amount_cents=item.amount_cents,
        invoice_ids=[],
        tender_reference=item.reference,
        created_by=actor.label,
    )
    session.add(payment)
    session.flush()
    record(session, actor, "payment.record", payment, amount_cents=payment.amount_cents)
    receipt = settle_payment(session, actor, payment, on=on, cash_gl=chart.REMITTANCES_HELD)
    mark_applied(
        session,
        actor,
        item,
        payment_id=payment.id,
        account_id=account.id,
        note=note,
        account=account.number,
    )
    return receipt


def mark_applied(
    session: Session,
    actor: Actor,
    item: RemittanceItem,
    *,
    payment_id: int,
    account_id: int,
    note: str,
    **details,
) -> None:
    """Close an item taken by `take_waiting` as applied by the payment, and audit it."""
    _close(item, actor, RemittanceStatus.APPLIED, note)
    item.payment_id, item.account_id = payment_id, account_id
    record(
        session,
        actor,
        "remittance.apply",
        item,
        **details,
        amount_cents=item.amount_cents,
        reason=item.reason,
        note=note.strip(),
        payment=payment_id,
    )


def return_item(session: Session, actor: Actor, item: RemittanceItem, *, note: str, on: date):
    """Return a waiting item to its payer: the town owes it back (Dr 2040 / Cr 2010)."""
    item = take_waiting(session, item, note)
    post_entry(
        session,
        [
            debit(chart.REMITTANCES_HELD, item.amount_cents),
            credit(chart.REFUNDS_PAYABLE, item.amount_cents),
        ],
        entry_date=on,
        source_type="remittance_item",
        source_id=item.id,
        actor=actor,
        memo=f"Remittance item {item.id} (file {item.file_id}, item {item.sequence}"
        + (f", check {item.reference}" if item.reference else "")
        + ") returned to its payer",
    )
    _close(item, actor, RemittanceStatus.RETURNED, note)
    record(
        session,
        actor,
        "remittance.return",
        item,
        amount_cents=item.amount_cents,
        reason=item.reason,
        note=note.strip(),
    )
    return item
