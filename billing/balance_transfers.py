"""Moving an unpaid final balance to the person's new account (a clerk, with a reason).

The final bill is settled for what it still owes on each receivable (a settlement the position
counts as adjusted); the new account gets an invoice of the same amounts on the same
receivables; one journal entry credits the old account's receivables and debits the new
account's, so both subledgers and the general ledger stay balanced and each account's position
says what it owes (billing/position.py).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from accounts.locations import BalanceTransfer
from accounts.models import Account, AccountStatus
from billing.final_bills import FINAL_BILL_DUE_DAYS
from billing.invoices import refresh_status
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
    Settlement,
    SettlementKind,
)
from billing.receivables import outstanding_by_receivable
from core.audit import Actor, record
from core.numbering import next_number
from ledger.chart import gl_codes
from ledger.posting import Posting, post_entry


class TransferError(ValueError):
    """A balance transfer refused; the message names the field."""


def _check(final: Invoice, to_account: Account, reason: str) -> str:
    """The reason, cleaned; refuses what cannot be transferred."""
    if not final.is_final:
        raise TransferError(f"invoice: {final.number} is not a final bill")
    if final.status in (InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF):
        raise TransferError(f"invoice: {final.number} is {final.status.value}")
    if final.balance_cents <= 0:
        raise TransferError(f"invoice: {final.number} owes nothing")
    if to_account.id == final.account_id:
        raise TransferError("to_account: the balance is already on that account")
    if to_account.status != AccountStatus.ACTIVE:
        raise TransferError(
            f"to_account: account {to_account.number} is {to_account.status.value}; "
            "a balance can only move to an active account"
        )
    reason = " ".join(reason.split())
    if not reason:
        raise TransferError("reason: say why the balance moves")
    return reason[:500]


def transfer_final_balance(
    session: Session, actor: Actor, final: Invoice, to_account: Account, *, reason: str, on: date
) -> BalanceTransfer:
    """Move what the final bill still owes (its principal) to `to_account`; flushes."""
    reason = _check(final, to_account, reason)
    owed = {gl: cents for gl, cents in outstanding_by_receivable(session, final).items() if cents}
    amount = sum(owed.values())
    codes = gl_codes(session)
    number = f"{on.year}-{next_number(session, 'invoice', on.year):06d}"
    text = f"Unpaid final bill {final.number} of account {final.account.number}"
    carried = Invoice(
        number=number,
        account_id=to_account.id,
        kind=InvoiceKind.UTILITY,
        period_start=final.period_start,
        period_end=final.period_end,
        issue_date=on,
        due_date=max(final.due_date, on + timedelta(days=FINAL_BILL_DUE_DAYS)),
        status=InvoiceStatus.OPEN,
        total_cents=amount,
        balance_cents=amount,
        lines=[
            InvoiceLine(
                position=i,
                description=text[:200],
                category=LineCategory.CHARGE,
                amount_cents=cents,
                # NOTE: no revenue: the line moves a receivable from one account to another.
                gl_account_id=gl_id,
                receivable_gl_id=gl_id,
                source=f"balance_transfer:{final.number}",
            )
            for i, (gl_id, cents) in enumerate(owed.items(), start=1)
        ],
    )
    session.add(carried)
    session.flush()
    transfer = BalanceTransfer(
        from_account_id=final.account_id,
        to_account_id=to_account.id,
        from_invoice_id=final.id,
        to_invoice_id=carried.id,
        amount_cents=amount,
        reason=reason,
        transferred_on=on,
        transferred_by=actor.label,
    )
    session.add(transfer)
    session.flush()
    for gl_id, cents in owed.items():
        # NOTE: counted as adjusted on the final bill, like a write-off, but nothing is lost:
        # the same cents are owed on the new account's invoice.
        session.add(
            Settlement(
                invoice_id=final.id,
                receivable_gl_id=gl_id,
                kind=SettlementKind.WRITE_OFF,
                source_id=f"transfer:{transfer.id}",
                amount_cents=cents,
                settled_on=on,
            )
        )
    final.balance_cents -= amount
    refresh_status(session, final)
    postings = [
        Posting(codes[gl], debit_cents=c, account_id=to_account.id) for gl, c in owed.items()
    ]
    postings += [
        Posting(codes[gl], credit_cents=c, account_id=final.account_id) for gl, c in owed.items()
    ]
    post_entry(
        session,
        postings,
        entry_date=on,
        source_type="balance_transfer",
        source_id=transfer.id,
        actor=actor,
        memo=f"Final bill {final.number} balance to account {to_account.number}: {reason}",
    )
    record(
        session,
        actor,
        "balance_transfer.post",
        transfer,
        final_bill=final.number,
        to_invoice=number,
        amount_cents=amount,
        reason=reason,
    )
    return transfer
