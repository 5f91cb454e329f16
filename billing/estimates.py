"""Estimated first installments of property tax (Cook County, 35 ILCS 200/21-30).

A year whose levy document has `estimated_first_installment` is billed twice per parcel:

* the estimate run (tax cycle "YYYY-estimate") bills each parcel that had prior-year tax a
  percent of it, due on the document's date. The split of an estimate among the taxing
  bodies is not known until their levies are, so its entry credits one liability,
  2030 "Property tax estimated installments billed", not the jurisdictions;
* the year's own run (cycle "YYYY") bills the actual tax, levy by levy as any tax bill, less
  the estimate billed (billing.drafts): that line debits 2030 back, so each jurisdiction's
  liability ends at its actual tax and 2030 at zero for the parcel. When the estimate billed
  more than the tax, the second installment is zero and the excess is taken off the first
  bill: what it still owes by a credit memo, what was paid of it as account credit.

docs/tax.md, "An estimated first installment".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, Parcel
from billing.adjustments import issue_credit_memo
from billing.drafts import BillDraft, DraftBatch
from billing.invoices import LineDraft
from billing.levy_estimate import estimate_cents, estimate_words
from billing.levy_spec import TaxYearSpec
from billing.models import (
    BillingRun,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
    RunStatus,
)
from billing.words import DEFAULT_LANGUAGE
from core.audit import Actor, record
from core.money import format_cents
from ledger import chart
from ledger.posting import Posting, post_entry

#: The tax cycle of a year's estimate run: "2024-estimate".
ESTIMATE_SUFFIX = "-estimate"


class EstimateError(ValueError):
    """An estimate run that cannot start; nothing was posted."""


def estimate_cycle(tax_year: int) -> str:
    """The cycle name of a year's estimate run."""
    return f"{tax_year}{ESTIMATE_SUFFIX}"


def is_estimate_cycle(cycle: str) -> bool:
    """Whether a tax cycle names an estimate run."""
    return cycle.endswith(ESTIMATE_SUFFIX)


def _live_tax(*where) -> sa.Select:
    """Live tax invoices' lines, joined, filtered."""
    return (
        sa.select(InvoiceLine.amount_cents)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.kind == InvoiceKind.TAX, Invoice.status != InvoiceStatus.VOID, *where)
    )


def prior_year_tax(session: Session, parcel_ids: list[int], tax_year: int) -> dict[int, int]:
    """Each parcel's tax of `tax_year` as billed: the lines of its levies, ceilings, charges,
    assessments and credits on its live tax invoices (a voided bill counts by its reissue)."""
    rows = session.execute(
        sa.select(Invoice.parcel_id, sa.func.sum(InvoiceLine.amount_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.parcel_id.in_(parcel_ids),
            InvoiceLine.source.like(f"levy:{tax_year}:%"),
        )
        .group_by(Invoice.parcel_id)
    ).all()
    return {parcel_id: int(cents) for parcel_id, cents in rows}


def year_was_billed(session: Session, tax_year: int) -> bool:
    """Whether any parcel has a live tax bill of the year's levies."""
    query = _live_tax(InvoiceLine.source.like(f"levy:{tax_year}:%")).limit(1)
    return session.execute(query).first() is not None


def _year_invoices(session: Session, tax_year: int, estimated: bool) -> int:
    """How many live tax invoices of the year (estimated first installments or not) exist."""
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.period_start == date(tax_year, 1, 1),
            Invoice.estimated.is_(estimated),
        )
    )


def check_estimate_run(session: Session, tax_year: int, spec: TaxYearSpec | None) -> None:
    """Refuse an estimate run the year cannot have, naming why."""
    if spec is None:
        raise EstimateError(f"cycle: no levy is loaded for tax year {tax_year}")
    if spec.estimated_first is None:
        raise EstimateError(f"cycle: the {tax_year} levy has no estimated first installment")
    if not year_was_billed(session, tax_year - 1):
        raise EstimateError(
            f"cycle: tax year {tax_year - 1} was never billed; an estimated first installment "
            "is a percent of each parcel's prior-year tax"
        )
    if posted := _year_invoices(session, tax_year, estimated=False):
        raise EstimateError(
            f"cycle: {posted} tax bills of {tax_year} are posted; the estimate comes before them"
        )


def check_year_run(session: Session, tax_year: int, spec: TaxYearSpec) -> None:
    """Refuse the year's own run while its estimate run is open but not posted: a parcel it
    has not reached yet would be billed in full and then estimated again."""
    if spec.estimated_first is None:
        return
    run = session.scalar(
        sa.select(BillingRun).where(
            BillingRun.kind == InvoiceKind.TAX, BillingRun.cycle == estimate_cycle(tax_year)
        )
    )
    if run is not None and run.status != RunStatus.POSTED:
        raise EstimateError(
            f"cycle: the {tax_year} estimate run is {run.status.value}; post it first"
        )


@dataclass(frozen=True)
class EstimateContext:
    """What every batch of an estimate run shares."""

    tax_year: int
    spec: TaxYearSpec
    rounding: str


def estimate_batch(session: Session, parcels: list[Parcel], ctx: EstimateContext) -> DraftBatch:
    """The estimated first-installment drafts of a batch of parcels.

    A parcel with no prior-year tax (new, or exempt last year) gets no estimate: the year's
    own bill is its whole tax (as Cook County bills it); the run lists it, not held.
    """
    estimate = ctx.spec.estimated_first
    prior = prior_year_tax(session, [p.id for p in parcels], ctx.tax_year - 1)
    numbers = dict(
        session.execute(
            sa.select(Account.id, Account.number).where(
                Account.id.in_({p.owner_account_id for p in parcels})
            )
        ).all()
    )
    batch = DraftBatch()
    for parcel in parcels:
        number = numbers[parcel.owner_account_id]
        tax = prior.get(parcel.id, 0)
        cents = estimate_cents(tax, estimate.percent, ctx.rounding)
        if cents <= 0:
            note = (
                f"parcel {parcel.parcel_number} had no {ctx.tax_year - 1} tax: no estimate; "
                f"its {ctx.tax_year} bill is its whole tax"
            )
            batch.exceptions.append(_note(number, "no_prior_tax", note))
            continue
        words = estimate_words(estimate.percent, ctx.tax_year - 1, format_cents(tax))
        line = LineDraft(
            words[DEFAULT_LANGUAGE],
            cents,
            chart.ESTIMATED_TAX,
            chart.TAX_RECEIVABLE,
            category=LineCategory.TAX,
            parcel_id=parcel.id,
            source=f"estimate:{ctx.tax_year}:first",
            descriptions=words,
        )
        draft = BillDraft(parcel.owner_account_id, number, [line], parcel.id)
        draft.installments = [(1, estimate.due_date, cents)]
        draft.estimated = True
        batch.drafts.append(draft)
    return batch


def _note(number: str, code: str, note: str) -> dict:
    """An exception of the run that holds nothing back."""
    return {
        "account": number,
        "service_point": None,
        "meter": None,
        "code": code,
        "note": note,
        "held": False,
    }


def settle_excess(
    session: Session, actor: Actor, first_id: int, excess: int, on: date, tax_year: int
) -> None:
    """Take an estimate's excess over the year's tax off the first bill: a credit memo for
    what it still owes, account credit for what was paid of it (refundable as any credit)."""
    first = session.get(Invoice, first_id)
    reason = f"The {tax_year} tax is less than the estimated first installment billed"
    cancelled = min(first.balance_cents, excess)
    if cancelled:
        issue_credit_memo(
            session,
            actor,
            first,
            amount_cents=cancelled,
            reason=reason,
            on=on,
            resident_text=f"Your {tax_year} tax is less than the estimated first installment.",
        )
    if paid := excess - cancelled:
        entry = post_entry(
            session,
            [
                Posting(chart.ESTIMATED_TAX, debit_cents=paid),
                Posting(chart.UNAPPLIED_CREDITS, credit_cents=paid, account_id=first.account_id),
            ],
            entry_date=on,
            source_type="estimate_excess",
            source_id=first.number,
            actor=actor,
            memo=f"Estimated first installment {first.number}: {format_cents(paid)} paid "
            f"above the {tax_year} tax, credited to the account",
        )
        record(
            session,
            actor,
            "invoice.estimate_excess_credited",
            first,
            amount_cents=paid,
            entry=entry.id,
        )
