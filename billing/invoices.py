"""Posting invoices: the invoice, its lines and its journal entry in one transaction.

An invoice's total is the sum of its lines, and its journal entry debits the
receivable of each line's service (or property tax) for the billing account
and credits each line's revenue or tax-collected account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
)
from billing.words import DEFAULT_LANGUAGE
from core.audit import Actor, record
from core.numbering import next_number
from ledger import chart
from ledger.models import GLAccount
from ledger.posting import Posting, post_entry


class InvoiceError(ValueError):
    """An invoice that cannot be posted; nothing was written."""


@dataclass(frozen=True)
class LineDraft:
    """A computed invoice line, ready to post."""

    description: str
    amount_cents: int
    #: The account credited: revenue of the service, or tax collected for a jurisdiction.
    gl_code: str
    #: The receivable debited for the billing account.
    receivable_gl_code: str
    category: LineCategory = LineCategory.CHARGE
    quantity: Decimal | None = None
    unit: str | None = None
    unit_rate: Decimal | None = None
    service_point_id: int | None = None
    parcel_id: int | None = None
    #: What produced it, e.g. "plan:water-res@2026-01-01:blocks" (InvoiceLine.source).
    source: str | None = None
    #: The description and the unit by language (InvoiceLine.descriptions, .units).
    descriptions: Mapping[str, str] | None = None
    units: Mapping[str, str] | None = None

    def worded(self) -> dict:
        """The line's columns that keep its words: texts by language, the rate's places."""
        units = self.units or ({DEFAULT_LANGUAGE: self.unit} if self.unit else None)
        return {
            "descriptions": dict(self.descriptions or {DEFAULT_LANGUAGE: self.description}),
            "units": dict(units) if units else None,
            "rate_places": rate_places(self.unit_rate),
        }


def rate_places(rate: Decimal | None) -> int | None:
    """The decimal places a rate was written with: Decimal("4.4400") -> 4, Decimal("21") -> 0."""
    if rate is None:
        return None
    exponent = rate.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else None


def _check(
    lines: list[LineDraft], issue_date: date, due_date: date, period: tuple[date, date]
) -> int:
    """Validate the drafts; return the total."""
    if not lines:
        raise InvoiceError("an invoice needs at least one line")
    for number, line in enumerate(lines, start=1):
        if not isinstance(line.amount_cents, int) or isinstance(line.amount_cents, bool):
            raise InvoiceError(f"line {number}: amount must be whole cents")
        if not line.description.strip():
            raise InvoiceError(f"line {number}: description is empty")
    if due_date < issue_date:
        raise InvoiceError("due date is before the issue date")
    if period[1] < period[0]:
        raise InvoiceError("the period ends before it starts")
    total = sum(line.amount_cents for line in lines)
    if total < 0:
        raise InvoiceError("an invoice total cannot be negative; issue a credit memo instead")
    return total


def invoice_postings(account_id: int, lines: list[LineDraft]) -> list[Posting]:
    """Debit receivables, credit revenue or liabilities, netted per GL account."""
    net: dict[tuple[str, int | None], int] = defaultdict(int)
    for line in lines:
        net[(line.receivable_gl_code, account_id)] += line.amount_cents
        # NOTE: a deposit billed is held for the account, like one taken at the counter.
        held_for = account_id if line.gl_code == chart.DEPOSITS_HELD else None
        net[(line.gl_code, held_for)] -= line.amount_cents
    postings = []
    for (code, acct), cents in sorted(net.items(), key=lambda item: (item[1] <= 0, item[0][0])):
        if cents > 0:
            postings.append(Posting(code, debit_cents=cents, account_id=acct))
        elif cents < 0:
            postings.append(Posting(code, credit_cents=-cents, account_id=acct))
    return postings


def post_invoice(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    kind: InvoiceKind,
    period_start: date,
    period_end: date,
    issue_date: date,
    due_date: date,
    lines: list[LineDraft],
    replaces: Invoice | None = None,
    parcel_id: int | None = None,
) -> Invoice:
    """Number, store and post an invoice; flushes, never commits."""
    total = _check(lines, issue_date, due_date, (period_start, period_end))
    codes = {line.gl_code for line in lines} | {line.receivable_gl_code for line in lines}
    gl_ids = dict(
        session.execute(
            sa.select(GLAccount.code, GLAccount.id).where(GLAccount.code.in_(codes))
        ).all()
    )
    missing = codes - gl_ids.keys()
    if missing:
        raise InvoiceError(f"GL account {sorted(missing)[0]} does not exist")
    number = f"{issue_date.year}-{next_number(session, 'invoice', issue_date.year):06d}"
    invoice = Invoice(
        number=number,
        account=account,
        kind=kind,
        period_start=period_start,
        period_end=period_end,
        issue_date=issue_date,
        due_date=due_date,
        status=InvoiceStatus.OPEN if total else InvoiceStatus.PAID,
        total_cents=total,
        balance_cents=total,
        replaces_id=replaces.id if replaces else None,
        parcel_id=parcel_id,
    )
    invoice.lines = [
        InvoiceLine(
            position=i,
            description=draft.description,
            category=draft.category,
            quantity=draft.quantity,
            unit=draft.unit,
            unit_rate=draft.unit_rate,
            **draft.worded(),
            amount_cents=draft.amount_cents,
            gl_account_id=gl_ids[draft.gl_code],
            receivable_gl_id=gl_ids[draft.receivable_gl_code],
            service_point_id=draft.service_point_id,
            parcel_id=draft.parcel_id,
            source=draft.source,
        )
        for i, draft in enumerate(lines, start=1)
    ]
    session.add(invoice)
    session.flush()
    postings = invoice_postings(account.id, lines)
    if postings:
        post_entry(
            session,
            postings,
            entry_date=issue_date,
            source_type="invoice",
            source_id=number,
            actor=actor,
            memo=f"Invoice {number} for account {account.number}",
        )
    record(session, actor, "invoice.post", invoice, after={"number": number, "total_cents": total})
    return invoice


def refresh_status(session: Session, invoice: Invoice) -> InvoiceStatus:
    """Set open, partially paid or paid from what is still owed (principal and unwaived charges)."""
    if invoice.status in (InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF):
        return invoice.status
    charges_owed = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(InvoiceCharge.balance_cents), 0)).where(
            InvoiceCharge.invoice_id == invoice.id, InvoiceCharge.waived_at.is_(None)
        )
    )
    if invoice.balance_cents == 0 and charges_owed == 0:
        invoice.status = InvoiceStatus.PAID
    elif invoice.balance_cents < invoice.total_cents:
        invoice.status = InvoiceStatus.PARTIALLY_PAID
    else:
        invoice.status = InvoiceStatus.OPEN
    return invoice.status


def invoices_not_matching_lines(session: Session) -> list[str]:
    """Numbers of stored invoices whose total is not the sum of their lines (should be none)."""
    line_sums = (
        sa.select(InvoiceLine.invoice_id, sa.func.sum(InvoiceLine.amount_cents).label("cents"))
        .group_by(InvoiceLine.invoice_id)
        .subquery()
    )
    query = (
        sa.select(Invoice.number)
        .outerjoin(line_sums, line_sums.c.invoice_id == Invoice.id)
        .where(sa.func.coalesce(line_sums.c.cents, 0) != Invoice.total_cents)
        .order_by(Invoice.number)
    )
    return list(session.scalars(query))
