"""What the bill page and the history show, gathered with a handful of queries.

Plain values out, so templates do no lookups: each open bill with its lines and
their arithmetic, its penalty and interest charges, its installments, what it still
owes and whether it is past due; the account's balance from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.figures import Figures, line_figures
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
)
from billing.position import account_position
from billing.words import text_in
from core.calendar import town_date
from notices.document import NoticeKind
from notices.models import Notice
from payments.models import Payment, PaymentStatus, Receipt, Tender
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
    #: The description and the unit by language, as posted.
    descriptions: dict | None = None
    units: dict | None = None
    rate_places: int | None = None

    @property
    def is_penalty(self) -> bool:
        """Whether the line is a penalty or interest."""
        return self.category in PENALTY_CATEGORIES

    def text(self, language: str) -> str:
        """The description in a language (the default one's where the line has none in it)."""
        return text_in(self.descriptions, language, self.description)

    def figures(self, language: str) -> Figures | None:
        """The line's arithmetic in a language, or None for a line without it."""
        return line_figures(
            self.quantity,
            self.unit_rate,
            unit=self.unit,
            unit_words=text_in(self.units, language, self.unit or ""),
            rate_places=self.rate_places,
            language=language,
        )


@dataclass(frozen=True)
class ChargeView:
    """A penalty or interest charge assessed after the bill was posted."""

    description: str
    category: str
    assessed_on: date
    amount_cents: int
    balance_cents: int
    descriptions: dict | None = None

    def text(self, language: str) -> str:
        """The description in a language (the default one's where the charge has none in it)."""
        return text_in(self.descriptions, language, self.description)


@dataclass(frozen=True)
class ChargeMonth:
    """The penalty and interest charges added in one month: one line, opened on each charge."""

    month: date
    charges: tuple[ChargeView, ...]

    @property
    def amount_cents(self) -> int:
        """What the month's charges came to."""
        return sum(charge.amount_cents for charge in self.charges)

    @property
    def balance_cents(self) -> int:
        """What of them is still owed."""
        return sum(charge.balance_cents for charge in self.charges)


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

    @property
    def charge_months(self) -> list[ChargeMonth]:
        """The charges by the month they were added, oldest first (they are read in that order)."""
        months: dict[date, list[ChargeView]] = {}
        for charge in self.charges:
            months.setdefault(charge.assessed_on.replace(day=1), []).append(charge)
        return [ChargeMonth(month, tuple(charges)) for month, charges in months.items()]


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
        InvoiceLine.descriptions,
        InvoiceLine.units,
        InvoiceLine.rate_places,
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
        InvoiceCharge.descriptions,
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
                    row.descriptions,
                    row.units,
                    row.rate_places,
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
                row.descriptions,
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


@dataclass(frozen=True)
class NextDue:
    """The next day a part of the amount due falls due, and how much of it falls due then."""

    day: date
    cents: int
    #: The whole amount due (nothing is past due and nothing falls due later).
    whole: bool


def next_due(bills: list[BillView], balance: Balance, today: date) -> NextDue | None:
    """When the next part of the amount due falls due, and how much; None if all is past due."""
    # NOTE: a tax bill falls due installment by installment; charges are past due when added.
    parts: list[tuple[date, int]] = []
    for bill in bills:
        if bill.installments:
            parts += [(part.due_date, part.balance_cents) for part in bill.installments]
        else:
            parts.append((bill.due_date, bill.balance_cents))
    coming = [(day, cents) for day, cents in parts if day >= today and cents > 0]
    if not coming or balance.due_cents <= 0:
        return None
    day = min(day for day, _cents in coming)
    cents = min(sum(cents for when, cents in coming if when == day), balance.due_cents)
    return NextDue(day, cents, whole=cents >= balance.due_cents)


def balance(session: Session, account: Account, today: date) -> Balance:
    """What the account owes today, the credit held for it and what of it is past due: the
    account position (billing.position)."""
    position = account_position(session, account.id, today)
    return Balance(
        owed_cents=position.owed_cents(),
        credit_cents=position.credit_cents,
        past_due_cents=position.past_due_cents(),
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


def history(
    session: Session, account: Account, since: datetime, zone: ZoneInfo
) -> list[HistoryItem]:
    """Bills, payments and notices of the account since a moment, newest first, each on the
    town's date: a payment on its ledger date, a notice on the day it was made."""
    items: list[HistoryItem] = []
    invoices = session.scalars(
        sa.select(Invoice).where(
            Invoice.account_id == account.id, Invoice.issue_date >= town_date(since, zone)
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
            # NOTE: a bank debit in flight (processing) and one its bank returned (before or
            # after it settled) are shown too.
            sa.or_(
                Payment.status.in_(
                    [
                        PaymentStatus.SUCCEEDED,
                        PaymentStatus.VOIDED,
                        PaymentStatus.PROCESSING,
                        PaymentStatus.RETURNED,
                    ]
                ),
                sa.and_(
                    Payment.tender == Tender.BANK_DEBIT, Payment.status == PaymentStatus.FAILED
                ),
            ),
        )
    ).all()
    for payment, receipt in payments:
        items.append(
            HistoryItem(
                receipt.paid_on if receipt else town_date(payment.created_at, zone),
                "payment",
                receipt.number if receipt else str(payment.id),
                payment.channel.value,
                payment.amount_cents,
                "returned" if payment.status == PaymentStatus.FAILED else payment.status.value,
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
                town_date(notice.created_at, zone),
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
