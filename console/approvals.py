"""Four-eyes changes: a clerk asks, with a reason; a supervisor (never the same person)
approves, and the change is made then, as the supervisor, by the service that owns it, or
rejects it with a note. Every step is audited.

The change is checked again when it is approved, not only when it is asked: a payment
refunded in the meantime, or an invoice paid, refuses the action and the request is kept
as failed with the reason, changing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.adjustments import (
    AdjustmentError,
    issue_credit_memo,
    resident_words,
    void_invoice,
    waive_charge,
)
from billing.models import Invoice, InvoiceCharge
from console.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from core.audit import Actor, record
from core.db import utcnow
from payments.gateway import PaymentError, StripeGateway
from payments.models import Payment, PaymentStatus
from payments.refunds import refund_payment, void_counter_payment
from payments.services import PaymentRefused

MIN_REASON = 5


class ApprovalRefused(ValueError):
    """The request cannot be made or decided; the message says why."""


@dataclass(frozen=True)
class Target:
    """What a request is about."""

    account: Account
    payment: Payment | None = None
    invoice: Invoice | None = None
    charge: InvoiceCharge | None = None


def ask(
    session: Session,
    actor: Actor,
    kind: ApprovalKind,
    target: Target,
    *,
    reason: str,
    amount_cents: int | None = None,
    resident_text: str | None = None,
) -> ApprovalRequest:
    """Record a clerk's request (the staff's reason, and optionally the words the resident will
    read); nothing changes until a supervisor approves it."""
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ApprovalRefused("Say why, in at least 5 characters.")
    try:
        words = resident_words(resident_text)
    except AdjustmentError as error:
        raise ApprovalRefused(f"Words for the resident: {str(error).partition(': ')[2]}") from None
    needs = {
        ApprovalKind.REFUND: target.payment,
        ApprovalKind.VOID_PAYMENT: target.payment,
        ApprovalKind.CREDIT_MEMO: target.invoice,
        ApprovalKind.VOID_INVOICE: target.invoice,
        ApprovalKind.WAIVE_CHARGE: target.charge,
    }[kind]
    if needs is None:
        raise ApprovalRefused(f"A {kind.value.replace('_', ' ')} names what it is about.")
    if kind in (ApprovalKind.REFUND, ApprovalKind.CREDIT_MEMO) and (
        not isinstance(amount_cents, int) or amount_cents <= 0
    ):
        raise ApprovalRefused("Enter an amount greater than zero.")
    row = ApprovalRequest(
        kind=kind,
        account_id=target.account.id,
        payment_id=target.payment.id if target.payment else None,
        invoice_id=target.invoice.id if target.invoice else None,
        charge_id=target.charge.id if target.charge else None,
        amount_cents=amount_cents
        if kind in (ApprovalKind.REFUND, ApprovalKind.CREDIT_MEMO)
        else None,
        reason=reason[:500],
        resident_text=words,
        requested_by=actor.label,
    )
    session.add(row)
    session.flush()
    record(session, actor, "approval.ask", row, kind=kind.value, reason=row.reason)
    return row


def pending(session: Session) -> list[ApprovalRequest]:
    """The supervisors' queue, oldest first."""
    return list(
        session.scalars(
            sa.select(ApprovalRequest)
            .where(ApprovalRequest.status == ApprovalStatus.PENDING)
            .order_by(ApprovalRequest.id)
        )
    )


def decided(session: Session, limit: int = 100) -> list[ApprovalRequest]:
    """The latest decisions, newest first."""
    return list(
        session.scalars(
            sa.select(ApprovalRequest)
            .where(ApprovalRequest.status != ApprovalStatus.PENDING)
            .order_by(ApprovalRequest.decided_at.desc())
            .limit(limit)
        )
    )


def _decidable(row: ApprovalRequest, actor: Actor) -> None:
    if row.status != ApprovalStatus.PENDING:
        raise ApprovalRefused(f"Request {row.id} was {row.status.value} by {row.decided_by}.")
    if row.requested_by == actor.label:
        raise ApprovalRefused("A request is decided by another person than the one who asked.")


def _act(
    session: Session,
    actor: Actor,
    row: ApprovalRequest,
    on: date,
    gateway: Callable[[], StripeGateway] | None,
) -> str:
    """Make the change the request asks for; returns what it made."""
    note = f"{row.reason} (asked by {row.requested_by}, request {row.id})"
    if row.kind == ApprovalKind.REFUND:
        payment = session.get(Payment, row.payment_id)
        # NOTE: Stripe is opened only for a settled card payment; any other is refused without it.
        card = payment.stripe_payment_intent_id and payment.status == PaymentStatus.SUCCEEDED
        opened = gateway() if gateway is not None and card else None
        try:
            refund = refund_payment(
                session,
                actor,
                payment,
                amount_cents=row.amount_cents,
                reason=note,
                on=on,
                gateway=opened,
                resident_text=row.resident_text,
            )
        finally:
            if opened is not None:
                opened.close()
        return f"refund {refund.id}"
    if row.kind == ApprovalKind.VOID_PAYMENT:
        void_counter_payment(
            session, actor, session.get(Payment, row.payment_id), reason=note, on=on
        )
        return f"payment {row.payment_id} voided"
    if row.kind == ApprovalKind.CREDIT_MEMO:
        invoice = session.get(Invoice, row.invoice_id)
        memo = issue_credit_memo(
            session,
            actor,
            invoice,
            amount_cents=row.amount_cents,
            reason=note,
            on=on,
            resident_text=row.resident_text,
        )
        return f"credit memo {memo.number}"
    if row.kind == ApprovalKind.VOID_INVOICE:
        void_invoice(
            session,
            actor,
            session.get(Invoice, row.invoice_id),
            reason=note,
            on=on,
            resident_text=row.resident_text,
        )
        return f"invoice {row.invoice_id} voided"
    waive_charge(
        session,
        actor,
        session.get(InvoiceCharge, row.charge_id),
        reason=note,
        on=on,
        resident_text=row.resident_text,
    )
    return f"charge {row.charge_id} waived"


def approve(
    session: Session,
    actor: Actor,
    row: ApprovalRequest,
    *,
    on: date,
    note: str = "",
    gateway: Callable[[], StripeGateway] | None = None,
) -> ApprovalRequest:
    """Approve and make the change as the supervisor, in one savepoint: all of it or nothing.

    A change its service refuses now leaves the request FAILED with the reason.
    """
    _decidable(row, actor)
    savepoint = session.begin_nested()
    try:
        outcome = _act(session, actor, row, on, gateway)
    except (PaymentRefused, AdjustmentError, PaymentError) as refused:
        savepoint.rollback()
        message = getattr(refused, "message", None) or str(refused)
        _decide(session, actor, row, ApprovalStatus.FAILED, note or "", outcome=message[:200])
        return row
    savepoint.commit()
    _decide(session, actor, row, ApprovalStatus.APPROVED, note, outcome=outcome)
    return row


def reject(session: Session, actor: Actor, row: ApprovalRequest, *, note: str) -> ApprovalRequest:
    """Turn the request down with a note for the clerk."""
    _decidable(row, actor)
    if len((note or "").strip()) < MIN_REASON:
        raise ApprovalRefused("Say why it is turned down, in at least 5 characters.")
    _decide(session, actor, row, ApprovalStatus.REJECTED, note.strip())
    return row


def _decide(
    session: Session,
    actor: Actor,
    row: ApprovalRequest,
    status: ApprovalStatus,
    note: str,
    *,
    outcome: str | None = None,
) -> None:
    row.status, row.decided_by, row.decided_at = status, actor.label, utcnow()
    row.decision_note, row.outcome = (note or None), outcome
    session.flush()
    record(
        session,
        actor,
        f"approval.{status.value}",
        row,
        kind=row.kind.value,
        requested_by=row.requested_by,
        outcome=outcome,
        note=note or None,
    )
