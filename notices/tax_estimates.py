"""What a tax bill says about an estimated first installment (billing/estimates.py).

The year's bill of a parcel whose first installment was estimated says, in the resident's
words, the year's tax, the estimate deducted and the second installment; when the estimate
billed more than the tax, where the difference went. The figures are the posted invoices'.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceInstallment, InvoiceKind, InvoiceStatus
from core.money import format_cents
from notices.texts import TEXTS

#: The source of a second bill's deduction line: "estimate:<year>:deducted".
DEDUCTED = "estimate:{year}:deducted"


def _estimate_billed(session: Session, invoice: Invoice) -> int:
    """The estimated first installment billed for the bill's parcel and year (0: none)."""
    # NOTE: PostgreSQL sums a BIGINT as a NUMERIC: int() gives cents back.
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Invoice.total_cents), 0)).where(
                Invoice.parcel_id == invoice.parcel_id,
                Invoice.kind == InvoiceKind.TAX,
                Invoice.status != InvoiceStatus.VOID,
                Invoice.estimated.is_(True),
                Invoice.period_start == invoice.period_start,
            )
        )
    )


def second_installment_messages(session: Session, invoice: Invoice) -> tuple[str, ...]:
    """The year's tax, the estimate deducted and the second installment, for a year's bill that
    follows an estimated first installment; nothing for any other bill."""
    if invoice.kind != InvoiceKind.TAX or invoice.estimated:
        return ()
    year = invoice.period_start.year
    deducted = DEDUCTED.format(year=year)
    estimate = _estimate_billed(session, invoice)
    if not estimate:
        return ()
    texts = TEXTS[invoice.account.language.value]
    tax = sum(line.amount_cents for line in invoice.lines if line.source != deducted)
    messages = [
        str(texts["estimate.second"]).format(
            year=year,
            tax=format_cents(tax),
            estimate=format_cents(estimate),
            due=format_cents(invoice.total_cents),
        )
    ]
    if estimate > tax:
        messages.append(
            str(texts["estimate.excess"]).format(excess=format_cents(estimate - tax), year=year)
        )
    return tuple(messages)


def year_dues(session: Session, invoice: Invoice) -> dict[int, date]:
    """The installments' due dates of the account's other live tax invoices of the bill's year
    (an estimated first installment beside the year's bill), by number."""
    if invoice.kind != InvoiceKind.TAX:
        return {}
    rows = session.execute(
        sa.select(InvoiceInstallment.number, sa.func.min(InvoiceInstallment.due_date))
        .join(Invoice, Invoice.id == InvoiceInstallment.invoice_id)
        .where(
            Invoice.account_id == invoice.account_id,
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.period_start == invoice.period_start,
            Invoice.id != invoice.id,
        )
        .group_by(InvoiceInstallment.number)
    ).all()
    return dict(rows)
