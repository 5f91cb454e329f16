"""A bank debit the resident's bank sends back: the settlement reversed, the fee, the block.

A debit fails in flight (while `processing`) or comes back after it settled. Either way
it is recorded once (one AchReturn per payment, under the payment's row lock) with its
NACHA return code. After settlement the reversal takes back what the payment settled
(its credit first) from Stripe clearing and re-opens the bills; a failure in flight
settled nothing, so nothing is reversed. The debit's own-line convenience fee came back
with it: its posting is reversed too (payments.fee_charges.reverse_returned_fee), once.
The returned-payment rule in force on the day
charges its fee as an invoice charge (GL 4520) and blocks the bank account (by Stripe's
fingerprint) at its count of returns within its months, or at once on a return that says
the account cannot be debited (closed, not found, unauthorised).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.invoices import refresh_status
from billing.models import Invoice, InvoiceCharge, LineCategory, Settlement
from core.audit import Actor, record
from core.db import utcnow
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.ach_codes import ReturnCode, return_code
from payments.ach_models import AchReturn, AchReturnRule, BankMandate, BlockedBankAccount
from payments.fee_charges import reverse_returned_fee
from payments.models import Payment, PaymentStatus, Tender
from payments.refunds import take_back_what_is_left

#: The fee's words on the bill, by language.
FEE_WORDS = {"en": "Returned payment fee", "es": "Cargo por pago devuelto"}
FEE_RULE = "returned_payment"


def rule_on(session: Session, on: date) -> AchReturnRule | None:
    """The returned-payment rule in force on the day (the newest effective by then)."""
    return session.scalar(
        sa.select(AchReturnRule)
        .where(AchReturnRule.effective_from <= on)
        .order_by(AchReturnRule.effective_from.desc())
        .limit(1)
    )


def fingerprint_of(session: Session, payment: Payment) -> str | None:
    """The bank account a payment debited, by Stripe's fingerprint (from its mandate)."""
    return session.scalar(
        sa.select(BankMandate.fingerprint).where(BankMandate.payment_id == payment.id)
    )


def return_debit(
    session: Session,
    actor: Actor,
    payment: Payment,
    *,
    stripe_code: str | None,
    on: date,
    event_id: str | None = None,
    fingerprint: str | None = None,
) -> AchReturn | None:
    """Record the bank's return of a debit once: reverse, charge the fee, block; None if recorded.

    The caller holds the payment's row lock (webhooks lock it before reading it).
    `fingerprint` is the bank account's as Stripe's event gives it; else the mandate's.
    """
    if payment.tender != Tender.BANK_DEBIT:
        raise ValueError(f"payment {payment.id} is not a bank debit ({payment.tender.value})")
    if session.scalar(sa.select(AchReturn.id).where(AchReturn.payment_id == payment.id)):
        return None
    code = return_code(stripe_code)
    settled = payment.status == PaymentStatus.SUCCEEDED
    if settled:
        _reverse(session, actor, payment, code, on)
        reverse_returned_fee(
            session, actor, payment, on=on, because=f"bank debit returned ({code.code})"
        )
        payment.status = PaymentStatus.RETURNED
    else:
        payment.status = PaymentStatus.FAILED
    payment.failure_code, payment.failure_message = code.code, code.meaning
    returned = AchReturn(
        payment_id=payment.id,
        return_code=code.code,
        stripe_failure_code=(stripe_code or None) and stripe_code[:64],
        after_settlement=settled,
        returned_on=on,
        stripe_event_id=event_id,
        fingerprint=fingerprint or fingerprint_of(session, payment),
    )
    session.add(returned)
    session.flush()
    record(
        session,
        actor,
        "payment.returned" if settled else "payment.fail",
        payment,
        return_code=code.code,
        stripe_code=stripe_code,
        after_settlement=settled,
    )
    rule = rule_on(session, on)
    if rule is not None and rule.fee_cents:
        returned.fee_charge_id = _charge_fee(session, actor, payment, rule, on, code)
    if rule is not None and returned.fingerprint:
        _block_if_due(session, actor, payment, returned, rule, code)
    return returned


def _reverse(session: Session, actor: Actor, payment: Payment, code: ReturnCode, on: date) -> None:
    """Take back what the settled debit paid: Stripe clearing is debited back, the bills re-open."""
    debits, short = take_back_what_is_left(
        session,
        actor,
        payment,
        payment.amount_cents,
        on,
        cause=f"ach_return:{payment.id}",
        because=f"bank debit {payment.id} returned ({code.code})",
    )
    if short:
        # NOTE: the money was already given back (refunded) or its credit spent on bills that
        # stay paid: what the payment no longer holds is the town's loss, as in a lost dispute.
        debits.append(Posting(chart.WRITE_OFFS, debit_cents=short))
    post_entry(
        session,
        [*debits, Posting(chart.STRIPE_CLEARING, credit_cents=payment.amount_cents)],
        entry_date=on,
        source_type="ach_return",
        source_id=str(payment.id),
        actor=actor,
        memo=f"Bank debit {payment.id} returned by the bank ({code.code} {code.meaning})",
    )


def _fee_invoice(session: Session, payment: Payment) -> Invoice | None:
    """The bill the fee goes on: the first the debit paid, else the payer's choice, else the newest."""
    settled = session.scalar(
        sa.select(Settlement.invoice_id)
        .where(Settlement.source_id == str(payment.id))
        .order_by(Settlement.id)
        .limit(1)
    )
    invoice_id = settled or (payment.invoice_ids[0] if payment.invoice_ids else None)
    if invoice_id is not None:
        return session.get(Invoice, invoice_id)
    return session.scalar(
        sa.select(Invoice)
        .where(Invoice.account_id == payment.account_id)
        .order_by(Invoice.due_date.desc(), Invoice.id.desc())
        .limit(1)
    )


def _charge_fee(
    session: Session,
    actor: Actor,
    payment: Payment,
    rule: AchReturnRule,
    on: date,
    code: ReturnCode,
) -> int | None:
    """Charge the rule's returned-payment fee as its own charge on the bill; its id (None: no bill)."""
    invoice = _fee_invoice(session, payment)
    if invoice is None:
        record(session, actor, "payment.return_fee_skipped", payment, reason="no bill")
        return None
    charge = InvoiceCharge(
        invoice_id=invoice.id,
        installment_number=0,
        rule_id=FEE_RULE,
        period_key=f"payment-{payment.id}",
        category=LineCategory.FEE,
        description=FEE_WORDS["en"],
        descriptions=dict(FEE_WORDS),
        amount_cents=rule.fee_cents,
        balance_cents=rule.fee_cents,
        assessed_on=on,
        booked_on=on,
    )
    session.add(charge)
    session.flush()
    refresh_status(session, invoice)
    post_entry(
        session,
        [
            Posting(
                chart.PENALTY_RECEIVABLE, debit_cents=rule.fee_cents, account_id=payment.account_id
            ),
            Posting(rule.fee_gl_code, credit_cents=rule.fee_cents),
        ],
        entry_date=on,
        source_type="ach_return_fee",
        source_id=str(charge.id),
        actor=actor,
        memo=f"Returned payment fee (charge {charge.id}) for bank debit {payment.id} "
        f"({code.code}) on invoice {invoice.number}",
    )
    record(session, actor, "charge.returned_payment_fee", charge, payment=payment.id)
    return charge.id


def _months_before(day: date, months: int) -> date:
    """The same day `months` months earlier (the month's last day when it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _block_if_due(
    session: Session,
    actor: Actor,
    payment: Payment,
    returned: AchReturn,
    rule: AchReturnRule,
    code: ReturnCode,
) -> None:
    """Block the debited bank account at the rule's count of returns (or at once on a final code)."""
    fingerprint = returned.fingerprint
    blocked = session.get(BlockedBankAccount, fingerprint, with_for_update=True)
    since = _months_before(returned.returned_on, rule.within_months)
    query = sa.select(sa.func.count()).where(
        AchReturn.fingerprint == fingerprint, AchReturn.returned_on > since
    )
    if blocked is not None and blocked.unblocked_at is not None:
        query = query.where(AchReturn.created_at > blocked.unblocked_at)
    elif blocked is not None:
        return  # blocked already
    count = session.scalar(query)
    if count < rule.block_after_returns and not code.final:
        return
    if blocked is None:
        blocked = BlockedBankAccount(fingerprint=fingerprint, returns=count)
        session.add(blocked)
    blocked.account_id, blocked.returns, blocked.blocked_at = payment.account_id, count, utcnow()
    blocked.unblocked_at = blocked.unblocked_by = blocked.unblock_reason = None
    session.flush()
    record(
        session,
        actor,
        "bank_account.block",
        object_type="BankAccount",
        object_id=fingerprint,
        payment=payment.id,
        returns=count,
        return_code=code.code,
    )
