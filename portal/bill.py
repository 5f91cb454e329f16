"""What the bill page and the history show, gathered with a handful of queries.

Plain values out, so templates do no lookups: each open bill with its lines and
their arithmetic, its penalty and interest charges, its installments, what it still
owes and whether it is past due; the account's balance from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing.ledger import account_credit, account_receivable
from billing.models import (
    Account,
    Invoice,
    InvoiceCharge,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
)
from notices.document import NoticeKind
from notices.models import Notice
from payments.models import Payment, PaymentStatus, Receipt
from payments.services import OPEN

#: Categories shown as a penalty: marked in red, named as such.
PENALTY_CATEGORIES = (LineCategory.PENALTY, LineCategory.INTEREST)


@dataclass(frozen=True)
class LineView:
    """One line, with its arithmetic when it has a quantity and a rate."""

    description: str
    category: str
    quantity: Decimal | None
    unit: str | None
    unit_rate: Decimal | None
    amount_cents: int

    @property
    def is_penalty(self) -> bool:
        return self.category in PENALTY_CATEGORIES


@dataclass(frozen=True)
class ChargeView:
    """A penalty or interest charge assessed after the bill was posted."""

    description: str
    category: str
    assessed_on: date
    amount_cents: int
    balance_cents: int


@dataclass(frozen=True)
class InstallmentView:
    number: int
    due_date: date
    amount_cents: int
    balance_cents: int
    past_due: bool


@dataclass
class BillView:
    """An invoice as the resident reads it."""

    invoice_id: int
    number: str
    kind: str
    status: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    total_cents: int
    balance_cents: int
    owed_cents: int
    past_due_cents: int
    lines: list[LineView] = field(default_factory=list)
    charges: list[ChargeView] = field(default_factory=list)
    installments: list[InstallmentView] = field(default_factory=list)

    @property
    def past_due(self) -> bool:
        return self.past_due_cents > 0

    @property
    def charges_cents(self) -> int:
        return sum(charge.balance_cents for charge in self.charges)


@dataclass(frozen=True)
class Balance:
    """The account's position: owed on bills (from the ledger), credit, past due."""

    owed_cents: int
    credit_cents: int
    past_due_cents: int

    @property
    def due_cents(self) -> int:
        return max(self.owed_cents - self.credit_cents, 0)


def _line(line: InvoiceLine) -> LineView:
    return LineView(
        line.description,
        line.category.value,
        line.quantity,
        line.unit,
        line.unit_rate,
        line.amount_cents,
    )


def open_bills(session: Session, account: Account, today: date) -> list[BillView]:
    """The account's open invoices, oldest due first, with everything the page shows."""
    invoices = session.scalars(
        sa.select(Invoice)
        .where(Invoice.account_id == account.id, Invoice.status.in_(OPEN))
        .options(selectinload(Invoice.lines), selectinload(Invoice.installments))
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    if not invoices:
        return []
    charges = session.scalars(
        sa.select(InvoiceCharge)
        .where(
            InvoiceCharge.invoice_id.in_([i.id for i in invoices]),
            InvoiceCharge.waived_at.is_(None),
        )
        .order_by(InvoiceCharge.assessed_on, InvoiceCharge.id)
    ).all()
    by_invoice: dict[int, list[InvoiceCharge]] = {}
    for charge in charges:
        by_invoice.setdefault(charge.invoice_id, []).append(charge)
    bills = []
    for invoice in invoices:
        own = by_invoice.get(invoice.id, [])
        charges_owed = sum(c.balance_cents for c in own)
        installments = [
            InstallmentView(
                i.number, i.due_date, i.amount_cents, i.balance_cents, i.due_date < today
            )
            for i in invoice.installments
        ]
        if installments:
            late_principal = sum(i.balance_cents for i in installments if i.past_due)
        else:
            late_principal = invoice.balance_cents if invoice.due_date < today else 0
        bills.append(
            BillView(
                invoice_id=invoice.id,
                number=invoice.number,
                kind=invoice.kind.value,
                status=invoice.status.value,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                total_cents=invoice.total_cents,
                balance_cents=invoice.balance_cents,
                owed_cents=invoice.balance_cents + charges_owed,
                past_due_cents=late_principal + (charges_owed if late_principal else 0),
                lines=[_line(line) for line in invoice.lines],
                charges=[
                    ChargeView(
                        c.description,
                        c.category.value,
                        c.assessed_on,
                        c.amount_cents,
                        c.balance_cents,
                    )
                    for c in own
                ],
                installments=installments,
            )
        )
    return [bill for bill in bills if bill.owed_cents > 0]


def balance(session: Session, account: Account, bills: list[BillView]) -> Balance:
    """The ledger's receivable and credit for the account, and what of it is past due."""
    return Balance(
        owed_cents=account_receivable(session, account.id),
        credit_cents=account_credit(session, account.id),
        past_due_cents=sum(bill.past_due_cents for bill in bills),
    )


@dataclass(frozen=True)
class HistoryItem:
    """One row of the history: a bill, a payment or a notice, with its download."""

    when: date
    kind: str  # bill, payment, notice
    reference: str
    description: str
    amount_cents: int | None
    status: str
    download: tuple[str, dict] | None  # (endpoint, values)


def history(session: Session, account: Account, since: datetime) -> list[HistoryItem]:
    """Bills, payments and notices of the account since a moment, newest first."""
    items: list[HistoryItem] = []
    invoices = session.scalars(
        sa.select(Invoice).where(
            Invoice.account_id == account.id, Invoice.issue_date >= since.date()
        )
    ).all()
    for invoice in invoices:
        items.append(
            HistoryItem(
                invoice.issue_date,
                "bill",
                invoice.number,
                "tax" if invoice.kind == InvoiceKind.TAX else "utility",
                invoice.total_cents,
                invoice.status.value,
                ("portal.bill_pdf", {"number": invoice.number})
                if invoice.status != InvoiceStatus.VOID
                else None,
            )
        )
    payments = session.execute(
        sa.select(Payment, Receipt)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .where(
            Payment.account_id == account.id,
            Payment.created_at >= since,
            Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.VOIDED]),
        )
    ).all()
    for payment, receipt in payments:
        when = payment.succeeded_at or payment.created_at
        items.append(
            HistoryItem(
                when.date(),
                "payment",
                receipt.number if receipt else str(payment.id),
                payment.channel.value,
                payment.amount_cents,
                payment.status.value,
                ("portal.receipt_pdf", {"payment_id": payment.id}) if receipt else None,
            )
        )
    notices = session.scalars(
        sa.select(Notice).where(
            Notice.account_id == account.id,
            Notice.created_at >= since,
            Notice.kind.notin_([NoticeKind.UTILITY_BILL, NoticeKind.TAX_BILL, NoticeKind.RECEIPT]),
        )
    ).all()
    for notice in notices:
        items.append(
            HistoryItem(
                notice.created_at.date(),
                "notice",
                notice.reference,
                notice.kind.value,
                None,
                notice.delivery.value,
                ("portal.notice_pdf", {"notice_id": notice.id}),
            )
        )
    items.sort(key=lambda item: (item.when, item.kind), reverse=True)
    return items


def quantity_text(quantity: Decimal | None) -> str:
    """A quantity without trailing zeros, grouped: Decimal('12000.0000') -> '12,000'."""
    if quantity is None:
        return ""
    text = f"{quantity.normalize():,f}"
    return text


def rate_text(rate: Decimal | None) -> str:
    """A unit rate in dollars with at least two decimals: Decimal('0.00450000') -> '$0.0045'."""
    if rate is None:
        return ""
    exponent = rate.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"${rate:,.{places}f}"
