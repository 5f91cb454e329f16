"""A deposit billed to the resident (the rules' `collect: first_bill`): an invoice line whose
credit side is the deposits-held liability, never revenue.

NOTE: the deposit is held from the day it is billed: the invoice's entry debits the account's
receivable and credits 2020 Deposits held, and the register records the deposit with that same
entry, so the register and the ledger agree from the first day. Until the bill is paid the
deposit is owed like any charge on it (aging, reminders, penalties); a deposit billed and never
paid is applied to the final bill like any other, which leaves the total owed unchanged
(docs/deposits.md).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, ServicePoint
from billing.deposits import DepositError, _positive_cents
from billing.invoices import InvoiceError, LineDraft, post_invoice
from billing.models import (
    Deposit,
    DepositMovement,
    DepositStatus,
    Invoice,
    InvoiceKind,
    LineCategory,
    MovementKind,
)
from core.audit import Actor, record
from ledger import chart
from ledger.models import GLAccount, JournalEntry, ServiceKind

#: The line's words, by language, as the resident reads them on the bill.
DEPOSIT_LINE = {
    "en": "Security deposit (held for your account, refundable)",
    "es": "Depósito de garantía (retenido para su cuenta, reembolsable)",
}


def _receivable_code(session: Session, account_id: int, on: date) -> str:
    """The receivable of the account's first service in force: the deposit is owed beside it."""
    code = session.scalar(
        sa.select(GLAccount.code)
        .join(ServiceKind, ServiceKind.receivable_gl_id == GLAccount.id)
        .join(ServicePoint, ServicePoint.service_kind == ServiceKind.code)
        .where(
            ServicePoint.account_id == account_id,
            ServicePoint.installed_on <= on,
            sa.or_(ServicePoint.removed_on.is_(None), ServicePoint.removed_on >= on),
        )
        .order_by(ServicePoint.id)
        .limit(1)
    )
    if code is None:
        raise DepositError(
            "account_id", "the account has no service in force to bill a deposit with"
        )
    return code


def bill_deposit(
    session: Session,
    actor: Actor,
    *,
    account_id: int,
    amount_cents: int,
    issue_date: date,
    due_date: date,
) -> Deposit:
    """Bill a deposit to an account and hold it: Dr receivable / Cr 2020 Deposits held."""
    _positive_cents(amount_cents, "amount_cents")
    account = session.get(Account, account_id)
    if account is None:
        raise DepositError("account_id", f"no account with id {account_id!r}")
    line = LineDraft(
        description=DEPOSIT_LINE["en"],
        descriptions=DEPOSIT_LINE,
        amount_cents=amount_cents,
        gl_code=chart.DEPOSITS_HELD,
        receivable_gl_code=_receivable_code(session, account_id, issue_date),
        category=LineCategory.FEE,
        source="deposit",
    )
    try:
        invoice = post_invoice(
            session,
            actor,
            account=account,
            kind=InvoiceKind.UTILITY,
            period_start=issue_date,
            period_end=issue_date,
            issue_date=issue_date,
            due_date=due_date,
            lines=[line],
        )
    except InvoiceError as error:
        raise DepositError("due_date", str(error)) from None
    return _register(session, actor, account, invoice, amount_cents)


def _register(
    session: Session, actor: Actor, account: Account, invoice: Invoice, amount_cents: int
) -> Deposit:
    """The billed deposit in the register, held from the invoice's own entry."""
    entry_id = session.scalar(
        sa.select(JournalEntry.id).where(
            JournalEntry.source_type == "invoice", JournalEntry.source_id == invoice.number
        )
    )
    deposit = Deposit(
        account_id=account.id,
        amount_cents=amount_cents,
        held_since=invoice.issue_date,
        source="first_bill",
        reference=invoice.number,
        offset_gl_code=_receivable_gl(session, invoice),
        status=DepositStatus.HELD,
        held_cents=amount_cents,
        interest_cents=0,
    )
    session.add(deposit)
    session.flush()
    session.add(
        DepositMovement(
            deposit_id=deposit.id,
            kind=MovementKind.HELD,
            amount_cents=amount_cents,
            moved_on=invoice.issue_date,
            reference=invoice.number,
            journal_entry_id=entry_id,
            recorded_by=actor.label,
        )
    )
    session.flush()
    record(
        session,
        actor,
        "deposit.bill",
        deposit,
        account_id=account.id,
        amount_cents=amount_cents,
        invoice=invoice.number,
    )
    return deposit


def _receivable_gl(session: Session, invoice: Invoice) -> str:
    """The code of the receivable the deposit's line debited."""
    return session.scalar(
        sa.select(GLAccount.code).where(GLAccount.id == invoice.lines[0].receivable_gl_id)
    )
