"""Everything a clerk needs on one account's page, read with one query per section.

The account's contact details and state, what it owes and the credit held (from the
ledger), its invoices, payments with their receipts, notices sent, reminders and
pauses, residents' questions, autopay and online access, its ledger lines and its
audit trail: the newest of each, so a long-lived account's page stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.arrangements import open_plan, plan_standing
from billing.arrangements_terms import Standing
from billing.deposit_owed import open_owed
from billing.figures import line_figures
from billing.models import Deposit, Invoice, InvoiceCharge, InvoiceLine, OwedDeposit, PaymentPlan
from billing.position import Position, account_position
from console.models import ApprovalRequest
from core.models import AuditEvent
from ledger.models import GLAccount, JournalEntry, JournalLine
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
    #: The account position (billing.position) the page shows, by class.
    position: Position
    invoices: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    reminders: list = field(default_factory=list)
    pauses: list = field(default_factory=list)
    questions: list = field(default_factory=list)
    autopay: Autopay | None = None
    residents: list[Resident] = field(default_factory=list)
    #: Each linked resident and when they linked the account.
    resident_links: list = field(default_factory=list)
    ledger: list = field(default_factory=list)
    audit: list = field(default_factory=list)
    charges: list = field(default_factory=list)
    approvals: list = field(default_factory=list)
    #: Each shown invoice's lines: (description, arithmetic or "", amount in cents).
    lines: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)
    #: The account's deposits (held first, then closed), newest first within each.
    deposits: list[Deposit] = field(default_factory=list)
    #: The deposit the rules ask of the account and the town does not hold yet (or None).
    owed_deposit: OwedDeposit | None = None
    #: The account's plan proposed or current, and where it stands today.
    plan: PaymentPlan | None = None
    plan_now: Standing | None = None


def _newest(session: Session, query) -> list:
    return list(session.execute(query.limit(SHOWN)).all())


def _line(line: InvoiceLine) -> tuple[str, str, int]:
    """A line as the staff read it: its description and arithmetic in the default language."""
    figures = line_figures(
        line.quantity, line.unit_rate, unit=line.unit, rate_places=line.rate_places
    )
    return line.description, figures.text if figures else "", line.amount_cents


def account_record(session: Session, account: Account, today: date) -> AccountRecord:
    """The account page's sections, newest first in each; balances as of the town's today."""
    position = account_position(session, account.id, today)
    record = AccountRecord(account, position.owed_cents(), position.credit_cents, position)
    record.invoices = list(
        session.scalars(
            sa.select(Invoice)
            .options(selectinload(Invoice.lines))
            .where(Invoice.account_id == account.id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(SHOWN)
        )
    )
    record.lines = {
        invoice.id: [_line(line) for line in invoice.lines] for invoice in record.invoices
    }
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
    record.resident_links = list(
        session.execute(
            sa.select(Resident, ResidentAccount.created_at)
            .join(ResidentAccount, ResidentAccount.resident_id == Resident.id)
            .where(ResidentAccount.account_id == account.id)
            .order_by(Resident.email)
        ).all()
    )
    record.residents = [resident for resident, _linked_at in record.resident_links]
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
    record.deposits = list(
        session.scalars(
            sa.select(Deposit)
            .where(Deposit.account_id == account.id)
            .order_by(Deposit.closed_on.is_not(None), Deposit.held_since.desc(), Deposit.id.desc())
            .limit(SHOWN)
        )
    )
    record.owed_deposit = open_owed(session, account.id)
    record.plan = open_plan(session, account.id)
    if record.plan is not None:
        record.plan_now = plan_standing(session, record.plan, today)
    return record
