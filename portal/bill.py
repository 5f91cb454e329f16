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
from sqlalchemy.orm import Session

from billing.ledger import account_position
from billing.models import (
    Account,
    Invoice,
    InvoiceCharge,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
)
from notices.document import NoticeKind
from notices.models import Notice
from payments.models import Payment, PaymentStatus, Receipt
from payments.services import OPEN
from portal.models import Question

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
    #: Whether a question or dispute was sent about this bill (they are read only then).
    has_questions: bool = False
    #: Whether penalty or interest charges were assessed (they are read only then).
    has_charges: bool = False

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


#: The open invoices of an account with their lines, oldest due first (one round trip), and
#: how many questions each has. Column queries built once: the bill page is read far more
#: often than anything else, and ORM objects are not needed to show it.
_OPEN_WITH_LINES = (
    sa.select(
        Invoice.id,
        Invoice.number,
        Invoice.kind,
        Invoice.status,
        Invoice.period_start,
        Invoice.period_end,
        Invoice.issue_date,
        Invoice.due_date,
        Invoice.total_cents,
        Invoice.balance_cents,
        InvoiceLine.description,
        InvoiceLine.category,
        InvoiceLine.quantity,
        InvoiceLine.unit,
        InvoiceLine.unit_rate,
        InvoiceLine.amount_cents,
        sa.exists().where(Question.invoice_id == Invoice.id).label("has_questions"),
        sa.exists()
        .where(InvoiceCharge.invoice_id == Invoice.id, InvoiceCharge.waived_at.is_(None))
        .label("has_charges"),
    )
    .outerjoin(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
    .where(Invoice.account_id == sa.bindparam("account_id"), Invoice.status.in_(OPEN))
    .order_by(Invoice.due_date, Invoice.id, InvoiceLine.position)
)
_CHARGES = (
    sa.select(
        InvoiceCharge.invoice_id,
        InvoiceCharge.description,
        InvoiceCharge.category,
        InvoiceCharge.assessed_on,
        InvoiceCharge.amount_cents,
        InvoiceCharge.balance_cents,
    )
    .where(
        InvoiceCharge.invoice_id.in_(sa.bindparam("ids", expanding=True)),
        InvoiceCharge.waived_at.is_(None),
    )
    .order_by(InvoiceCharge.assessed_on, InvoiceCharge.id)
)
_INSTALLMENTS = (
    sa.select(
        InvoiceInstallment.invoice_id,
        InvoiceInstallment.number,
        InvoiceInstallment.due_date,
        InvoiceInstallment.amount_cents,
        InvoiceInstallment.balance_cents,
    )
    .where(InvoiceInstallment.invoice_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(InvoiceInstallment.invoice_id, InvoiceInstallment.number)
)


def _bills_with_lines(session: Session, account_id: int) -> list[BillView]:
    """The open invoices and their lines, from one query."""
    bills: dict[int, BillView] = {}
    for row in session.execute(_OPEN_WITH_LINES, {"account_id": account_id}):
        bill = bills.get(row.id)
        if bill is None:
            bill = bills[row.id] = BillView(
                invoice_id=row.id,
                number=row.number,
                kind=row.kind.value,
                status=row.status.value,
                period_start=row.period_start,
                period_end=row.period_end,
                issue_date=row.issue_date,
                due_date=row.due_date,
                total_cents=row.total_cents,
                balance_cents=row.balance_cents,
                owed_cents=row.balance_cents,
                past_due_cents=0,
                has_questions=bool(row.has_questions),
                has_charges=bool(row.has_charges),
            )
        if row.description is not None:
            bill.lines.append(
                LineView(
                    row.description,
                    row.category.value,
                    row.quantity,
                    row.unit,
                    row.unit_rate,
                    row.amount_cents,
                )
            )
    return list(bills.values())


def open_bills(session: Session, account: Account, today: date) -> list[BillView]:
    """The account's open invoices, oldest due first, with everything the page shows."""
    bills = _bills_with_lines(session, account.id)
    if not bills:
        return []
    by_id = {bill.invoice_id: bill for bill in bills}
    ids = list(by_id)
    charged = [bill.invoice_id for bill in bills if bill.has_charges]
    for row in session.execute(_CHARGES, {"ids": charged}) if charged else ():
        by_id[row.invoice_id].charges.append(
            ChargeView(
                row.description,
                row.category.value,
                row.assessed_on,
                row.amount_cents,
                row.balance_cents,
            )
        )
    if any(bill.kind == InvoiceKind.TAX.value for bill in bills):  # utility bills have none
        for row in session.execute(_INSTALLMENTS, {"ids": ids}):
            by_id[row.invoice_id].installments.append(
                InstallmentView(
                    row.number,
                    row.due_date,
                    row.amount_cents,
                    row.balance_cents,
                    row.due_date < today,
                )
            )
    for bill in bills:
        if bill.installments:
            late_principal = sum(i.balance_cents for i in bill.installments if i.past_due)
        else:
            late_principal = bill.balance_cents if bill.due_date < today else 0
        # NOTE: a penalty or interest charge is only ever assessed on what was late.
        bill.owed_cents = bill.balance_cents + bill.charges_cents
        bill.past_due_cents = late_principal + bill.charges_cents
    return [bill for bill in bills if bill.owed_cents > 0]


def balance(session: Session, account: Account, bills: list[BillView]) -> Balance:
    """The ledger's receivable and credit for the account, and what of it is past due."""
    owed, credit = account_position(session, account.id)
    return Balance(
        owed_cents=owed,
        credit_cents=credit,
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
