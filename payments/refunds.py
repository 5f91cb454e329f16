"""Taking money back: refunds (card through Stripe, counter as refunds payable) and voided counter payments.

What a payment settled is taken back newest first, after any credit it still
holds on the account (what it left when it settled, and what a failed refund
gave back); every piece taken back is a reversal settlement that re-opens the
invoice, installment or charge it had settled; a bill or installment
re-opened that had earned an early-payment discount loses the discount
(payments.discount_reversals). Never more than is still
refundable, whatever Stripe would allow: the part an open dispute holds, or a
lost one took, is not refundable.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.adjustments import AdjustmentError, resident_words
from billing.invoices import refresh_status
from billing.models import Invoice, InvoiceCharge, Settlement, SettlementKind
from core.audit import Actor, record
from core.db import utcnow
from ledger import chart
from ledger.balances import account_credit
from ledger.chart import gl_codes
from ledger.posting import Posting, post_entry
from payments.discount_reversals import take_back_discounts
from payments.fee_charges import refund_fee
from payments.gateway import StripeGateway
from payments.models import (
    Channel,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from payments.services import PaymentRefused

#: Why a payment that is not settled cannot be refunded, by its status.
NOT_REFUNDABLE = {
    PaymentStatus.PENDING: "this payment has not settled yet",
    PaymentStatus.PROCESSING: "this payment has not settled yet",
    PaymentStatus.FAILED: "this payment did not go through; there is nothing to refund",
    PaymentStatus.CANCELED: "this payment was canceled; there is nothing to refund",
    PaymentStatus.VOIDED: "this payment was voided; there is nothing to refund",
}


def refunded_cents(session: Session, payment: Payment, *, but: Refund | None = None) -> int:
    """What the payment's refunds gave back or are giving back (a failed one gave nothing)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(
        Refund.payment_id == payment.id, Refund.status != RefundStatus.FAILED
    )
    if but is not None and but.id is not None:
        query = query.where(Refund.id != but.id)
    return int(session.scalar(query))


def disputed_cents(session: Session, payment: Payment, *statuses: DisputeStatus) -> int:
    """What the payment's disputes in these states hold or took."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Dispute.amount_cents), 0)).where(
                Dispute.payment_id == payment.id, Dispute.status.in_(statuses)
            )
        )
    )


def refundable_cents(session: Session, payment: Payment) -> int:
    """What can still be given back on a payment: settled, less refunded, less what disputes hold or took."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    held = disputed_cents(session, payment, DisputeStatus.OPEN, DisputeStatus.LOST)
    return max(payment.amount_cents - refunded_cents(session, payment) - held, 0)


def _refusal(session: Session, payment: Payment, amount_cents: int) -> PaymentRefused | None:
    """Why `amount_cents` of the payment cannot be refunded now, or None."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return PaymentRefused(
            "payment", NOT_REFUNDABLE.get(payment.status, "this payment cannot be refunded")
        )
    available = refundable_cents(session, payment)
    if amount_cents <= available:
        return None
    held = disputed_cents(session, payment, DisputeStatus.OPEN)
    if held:
        return PaymentRefused(
            "amount_cents",
            f"{held} cents of this payment are held by an open dispute; "
            f"at most {available} cents can be refunded until the dispute is closed",
        )
    return PaymentRefused(
        "amount_cents", f"at most {available} cents of this payment can be refunded"
    )


def _settled_pieces(session: Session, payment: Payment) -> list[tuple[Settlement, int]]:
    """The payment's settlements, newest first, each with what is not yet taken back."""
    rows = session.scalars(
        sa.select(Settlement)
        .where(
            Settlement.source_id == str(payment.id),
            Settlement.kind.in_([SettlementKind.PAYMENT, SettlementKind.REVERSAL]),
        )
        .order_by(Settlement.id)
    ).all()
    reversed_: dict[tuple, int] = defaultdict(int)
    for row in rows:
        if row.kind == SettlementKind.REVERSAL:
            reversed_[
                (row.invoice_id, row.installment_number, row.charge_id, row.receivable_gl_id)
            ] += row.amount_cents
    pieces = []
    for row in reversed([r for r in rows if r.kind == SettlementKind.PAYMENT]):
        key = (row.invoice_id, row.installment_number, row.charge_id, row.receivable_gl_id)
        left = row.amount_cents - min(row.amount_cents, reversed_[key])
        reversed_[key] -= row.amount_cents - left
        if left:
            pieces.append((row, left))
    return pieces


def _reopen(session: Session, piece: Settlement, cents: int, on: date, payment: Payment) -> None:
    """Record the reversal and give the invoice, installment or charge its balance back."""
    session.add(
        Settlement(
            invoice_id=piece.invoice_id,
            installment_number=piece.installment_number,
            charge_id=piece.charge_id,
            receivable_gl_id=piece.receivable_gl_id,
            kind=SettlementKind.REVERSAL,
            source_id=str(payment.id),
            amount_cents=cents,
            settled_on=on,
        )
    )
    invoice = session.get(Invoice, piece.invoice_id)
    if piece.charge_id is not None:
        session.get(InvoiceCharge, piece.charge_id).balance_cents += cents
        session.flush()  # the status below counts the re-opened charge
    with session.no_autoflush:
        if piece.charge_id is None:
            invoice.balance_cents += cents
            for installment in invoice.installments:
                if installment.number == piece.installment_number:
                    installment.balance_cents += cents
        refresh_status(session, invoice)
    session.flush()


def credit_held(session: Session, payment: Payment, *, but: Refund | None = None) -> int:
    """What of the payment is the account's credit now: neither settling a bill nor given back.

    A payment's amount is what still settles bills, plus what refunds and lost
    disputes gave back, plus its credit; so the credit it left when it settled
    counts, and so does what a failed refund gave back. `but` is the refund
    being made (not given back yet).
    """
    settled = session.scalar(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (Settlement.kind == SettlementKind.REVERSAL, -Settlement.amount_cents),
                        else_=Settlement.amount_cents,
                    )
                ),
                0,
            )
        ).where(
            Settlement.source_id == str(payment.id),
            Settlement.kind.in_([SettlementKind.PAYMENT, SettlementKind.REVERSAL]),
        )
    )
    given = refunded_cents(session, payment, but=but) + disputed_cents(
        session, payment, DisputeStatus.LOST
    )
    return max(payment.amount_cents - int(settled) - given, 0)


def take_back(
    session: Session,
    actor: Actor,
    payment: Payment,
    cents: int,
    on: date,
    *,
    cause: str,
    because: str,
    making: Refund | None = None,
) -> list[Posting]:
    """Re-open what `cents` of the payment settled (its credit first); return the debits.

    `making` is the refund the cents are taken back for, if it is already recorded; `cause`
    and `because` name the take-back (take_back_what_is_left).
    """
    debits, remaining = take_back_what_is_left(
        session, actor, payment, cents, on, cause=cause, because=because, making=making
    )
    if remaining:
        raise PaymentRefused(
            "amount_cents", "the credit this payment left has been used; refund less"
        )
    return debits


def take_back_what_is_left(
    session: Session,
    actor: Actor,
    payment: Payment,
    cents: int,
    on: date,
    *,
    cause: str,
    because: str,
    making: Refund | None = None,
) -> tuple[list[Posting], int]:
    """Re-open what up to `cents` of the payment settled (its credit first); the debits and what is left.

    What is left is more than the payment still holds: its credit was used on
    other bills, or it was already given back. A bill (or installment) re-opened
    that had earned an early-payment discount loses it (payments.discount_reversals);
    `cause` ("refund:12") is the source of those settlements and `because` the words
    of the discount's reversing entry.
    """
    credit = min(
        cents,
        credit_held(session, payment, but=making),
        max(account_credit(session, payment.account_id), 0),
    )
    debits = (
        [Posting(chart.UNAPPLIED_CREDITS, debit_cents=credit, account_id=payment.account_id)]
        if credit
        else []
    )
    remaining = cents - credit
    codes = gl_codes(session)
    reopened: set[tuple[int, int]] = set()
    for piece, left in _settled_pieces(session, payment):
        if not remaining:
            break
        take = min(left, remaining)
        _reopen(session, piece, take, on, payment)
        reopened.add((piece.invoice_id, piece.installment_number))
        debits.append(
            Posting(codes[piece.receivable_gl_id], debit_cents=take, account_id=payment.account_id)
        )
        remaining -= take
    take_back_discounts(session, actor, reopened, on, cause=cause, because=because)
    return debits, remaining


def _words(text: str | None) -> str | None:
    """A refund's words for the resident, or the field's error."""
    try:
        return resident_words(text)
    except AdjustmentError as error:
        raise PaymentRefused("resident_text", str(error).partition(": ")[2]) from None


def refund_payment(
    session: Session,
    actor: Actor,
    payment: Payment,
    *,
    amount_cents: int,
    reason: str,
    on: date,
    gateway: StripeGateway | None = None,
    resident_text: str | None = None,
) -> Refund:
    """Refund part or all of a settled payment (supervisor); card refunds go through Stripe."""
    if len((reason or "").strip()) < 5:
        raise PaymentRefused("reason", "say why (at least 5 characters)")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentRefused("amount_cents", "enter an amount greater than zero")
    session.refresh(payment, with_for_update=True)
    refusal = _refusal(session, payment, amount_cents)
    if refusal is not None:
        raise refusal
    card = payment.stripe_payment_intent_id is not None
    refund = Refund(
        payment_id=payment.id,
        amount_cents=amount_cents,
        reason=reason.strip(),
        status=RefundStatus.PENDING,
        requested_by=actor.label,
        refunded_on=on,
        resident_text=_words(resident_text),
    )
    session.add(refund)
    session.flush()
    debits = take_back(
        session,
        actor,
        payment,
        amount_cents,
        on,
        cause=f"refund:{refund.id}",
        because=f"refund {refund.id} of payment {payment.id}",
        making=refund,
    )
    if card:
        if gateway is None:
            raise PaymentRefused("payment", "card refunds need the Stripe gateway")
        stripe_refund = gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount_cents=amount_cents,
            idempotency_key=f"munibill-refund-{refund.id}",
        )
        refund.stripe_refund_id = stripe_refund.id
        refund.status = (
            RefundStatus.SUCCEEDED if stripe_refund.status == "succeeded" else RefundStatus.PENDING
        )
    else:
        refund.status = RefundStatus.SUCCEEDED
    credit_gl = chart.STRIPE_CLEARING if card else chart.REFUNDS_PAYABLE
    post_entry(
        session,
        [*debits, Posting(credit_gl, credit_cents=amount_cents)],
        entry_date=on,
        source_type="refund",
        source_id=refund.id,
        actor=actor,
        memo=f"Refund {refund.id} of payment {payment.id}: {refund.reason}",
    )
    refund_fee(
        session,
        actor,
        payment,
        refund,
        refunded_cents=refunded_cents(session, payment),
        on=on,
        gateway=gateway if card else None,
    )
    record(
        session,
        actor,
        "refund.create",
        refund,
        payment=payment.id,
        amount_cents=amount_cents,
        reason=reason,
    )
    return refund


def void_counter_payment(
    session: Session, actor: Actor, payment: Payment, *, reason: str, on: date
) -> Payment:
    """Take back a counter payment entirely (supervisor): its settlements re-open, the drawer gives it back."""
    if payment.channel != Channel.COUNTER or payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentRefused("payment", "only a settled counter payment can be voided")
    if len((reason or "").strip()) < 5:
        raise PaymentRefused("reason", "say why (at least 5 characters)")
    if refundable_cents(session, payment) != payment.amount_cents:
        raise PaymentRefused(
            "payment", "part of this payment was refunded; it can no longer be voided"
        )
    debits = take_back(
        session,
        actor,
        payment,
        payment.amount_cents,
        on,
        cause=f"void:{payment.id}",
        because=f"void of counter payment {payment.id}",
    )
    post_entry(
        session,
        [*debits, Posting(chart.CASH_DRAWER, credit_cents=payment.amount_cents)],
        entry_date=on,
        source_type="payment_void",
        source_id=payment.id,
        actor=actor,
        memo=f"Void of counter payment {payment.id}: {reason}",
    )
    payment.status, payment.voided_at, payment.void_reason = (
        PaymentStatus.VOIDED,
        utcnow(),
        reason.strip(),
    )
    record(session, actor, "payment.void", payment, reason=reason)
    return payment


def refund_failed(session: Session, actor: Actor, refund: Refund, *, on: date) -> bool:
    """Stripe could not pay a card refund back: the money is still held, as the account's credit.

    The bills the refund re-opened stay open; the amount comes back to Stripe
    clearing and is owed to the account as unapplied credit (applied to its
    next bill, or refunded again: a failed refund no longer counts against
    what is refundable). Safe to call twice: a refund already failed changes nothing.
    """
    if refund.status == RefundStatus.FAILED:
        return False
    refund.status = RefundStatus.FAILED
    payment = refund.payment
    post_entry(
        session,
        [
            Posting(chart.STRIPE_CLEARING, debit_cents=refund.amount_cents),
            Posting(
                chart.UNAPPLIED_CREDITS,
                credit_cents=refund.amount_cents,
                account_id=payment.account_id,
            ),
        ],
        entry_date=on,
        source_type="refund_failed",
        source_id=refund.id,
        actor=actor,
        memo=f"Refund {refund.id} of payment {payment.id} failed: held as the account's credit",
    )
    record(session, actor, "refund.failed", refund, payment=payment.id, amount=refund.amount_cents)
    return True
