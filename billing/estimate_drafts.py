"""The year's tax bill of a parcel whose first installment was estimated: the estimate
billed, and the bill made the second installment (billing/estimates.py bills the estimate).

billing.drafts calls these while it computes a tax run's drafts, so what the clerk previews is
what is posted.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Parcel
from billing.invoices import LineDraft
from billing.levy_estimate import deduction_words, second_installment
from billing.models import Invoice, InvoiceKind, InvoiceStatus, LineCategory
from billing.words import DEFAULT_LANGUAGE
from ledger import chart

if TYPE_CHECKING:
    from billing.drafts import BillDraft, TaxContext


def year_estimates(
    session: Session, parcels: list[Parcel], ctx: TaxContext
) -> dict[int, tuple[int, int, date]]:
    """The live estimated first installments of the batch's parcels for the year: parcel id ->
    (invoice id, cents billed, issue date)."""
    rows = session.execute(
        sa.select(Invoice.parcel_id, Invoice.id, Invoice.total_cents, Invoice.issue_date).where(
            Invoice.parcel_id.in_([p.id for p in parcels]),
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.estimated.is_(True),
            Invoice.period_start == date(ctx.tax_year, 1, 1),
        )
    ).all()
    return {parcel_id: (invoice_id, cents, day) for parcel_id, invoice_id, cents, day in rows}


def second_installment_of(
    draft: BillDraft, ctx: TaxContext, estimate: tuple[int, int, date | None]
) -> None:
    """Make a year's bill the second installment: the actual tax less the estimate billed,
    never below zero; the excess is marked to come off the first bill (billing/estimates.py)."""
    invoice_id, billed, issued = estimate
    second = second_installment(sum(line.amount_cents for line in draft.lines), billed)
    if second.deducted_cents:
        words = deduction_words(ctx.tax_year, issued)
        draft.lines.append(
            LineDraft(
                words[DEFAULT_LANGUAGE],
                -second.deducted_cents,
                chart.ESTIMATED_TAX,
                ctx.receivable,
                category=LineCategory.TAX,
                parcel_id=draft.parcel_id,
                source=f"estimate:{ctx.tax_year}:deducted",
                descriptions=words,
            )
        )
    # NOTE: one installment, numbered 2: the estimate was the year's first (35 ILCS 200/21-30).
    draft.installments = [(2, ctx.spec.installments[0].due_date, second.due_cents)]
    if second.excess_cents:
        draft.estimate_excess = (invoice_id, second.excess_cents)
