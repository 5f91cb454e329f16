"""Everything a clerk needs on one account's page, read with one query per section.

The account's contact details and state, what it owes and the credit held (from the
ledger), its invoices, payments with their receipts, notices sent, reminders and
pauses, residents' questions, autopay and online access, its ledger lines and its
audit trail: the newest of each, so a long-lived account's page stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.ledger import account_position
from billing.models import (
    Account,
    GLAccount,
    Invoice,
    InvoiceCharge,
    JournalEntry,
    JournalLine,
)
from console.models import ApprovalRequest
from core.models import AuditEvent
from notices.models import Notice, Reminder, ReminderPause
from payments.models import Payment, Receipt
from portal.models import Autopay, Question, Resident, ResidentAccount

#: How many rows of each section the page shows (the newest).
SHOWN = 50


@dataclass
class AccountRecord:
    """The sections of the account page."""

    account: Account
    owed_cents: int
    credit_cents: int
    invoices: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    reminders: list = field(default_factory=list)
    pauses: list = field(default_factory=list)
    questions: list = field(default_factory=list)
    autopay: Autopay | None = None
    residents: list[str] = field(default_factory=list)
    ledger: list = field(default_factory=list)
    audit: list = field(default_factory=list)
    charges: list = field(default_factory=list)
    approvals: list = field(default_factory=list)


def _newest(session: Session, query) -> list:
    return list(session.execute(query.limit(SHOWN)).all())


def account_record(session: Session, account: Account) -> AccountRecord:
    """The account page's sections, newest first in each."""
    owed, credit = account_position(session, account.id)
    record = AccountRecord(account, owed, credit)
    record.invoices = list(
        session.scalars(
            sa.select(Invoice)
            .where(Invoice.account_id == account.id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(SHOWN)
        )
    )
    record.payments = _newest(
        session,
        sa.select(Payment, Receipt.number)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .where(Payment.account_id == account.id)
        .order_by(Payment.id.desc()),
    )
    record.notices = list(
        session.scalars(
            sa.select(Notice)
            .where(Notice.account_id == account.id)
            .order_by(Notice.id.desc())
            .limit(SHOWN)
        )
    )
    record.reminders = _newest(
        session,
        sa.select(Reminder, Invoice.number)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .where(Reminder.account_id == account.id)
        .order_by(Reminder.id.desc()),
    )
    record.pauses = list(
        session.scalars(
            sa.select(ReminderPause)
            .where(
                sa.or_(
                    ReminderPause.account_id == account.id,
                    ReminderPause.invoice_id.in_(
                        sa.select(Invoice.id).where(Invoice.account_id == account.id)
                    ),
                )
            )
            .order_by(ReminderPause.id.desc())
            .limit(SHOWN)
        )
    )
    record.questions = list(
        session.scalars(
            sa.select(Question)
            .where(Question.account_id == account.id)
            .order_by(Question.id.desc())
            .limit(SHOWN)
        )
    )
    record.autopay = session.scalar(
        sa.select(Autopay).where(Autopay.account_id == account.id, Autopay.active.is_(True))
    )
    record.residents = list(
        session.scalars(
            sa.select(Resident.email)
            .join(ResidentAccount, ResidentAccount.resident_id == Resident.id)
            .where(ResidentAccount.account_id == account.id)
            .order_by(Resident.email)
        )
    )
    record.ledger = _newest(
        session,
        sa.select(
            JournalEntry.seq,
            JournalEntry.entry_date,
            JournalEntry.source_type,
            JournalEntry.source_id,
            JournalEntry.memo,
            JournalEntry.actor_label,
            GLAccount.code,
            GLAccount.name,
            JournalLine.debit_cents,
            JournalLine.credit_cents,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalLine.account_id == account.id)
        .order_by(JournalEntry.seq.desc(), JournalLine.position),
    )
    record.charges = _newest(
        session,
        sa.select(InvoiceCharge, Invoice.number)
        .join(Invoice, Invoice.id == InvoiceCharge.invoice_id)
        .where(
            Invoice.account_id == account.id,
            InvoiceCharge.waived_at.is_(None),
            InvoiceCharge.balance_cents > 0,
        )
        .order_by(InvoiceCharge.id.desc()),
    )
    record.approvals = list(
        session.scalars(
            sa.select(ApprovalRequest)
            .where(ApprovalRequest.account_id == account.id)
            .order_by(ApprovalRequest.id.desc())
            .limit(SHOWN)
        )
    )
    record.audit = list(
        session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == "Account", AuditEvent.object_id == str(account.id))
            .order_by(AuditEvent.id.desc())
            .limit(SHOWN)
        )
    )
    return record
