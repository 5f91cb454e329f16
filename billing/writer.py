"""Writing a batch of drafted invoices with a few bulk statements.

Invoices, lines, installments, credit applied, estimated reads and one
journal entry per invoice go in with executemany (SQLAlchemy Core), all in the
caller's transaction: a batch is written completely or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import MeterReading, ReadingKind
from billing.drafts import BillDraft
from billing.invoices import invoice_postings
from billing.models import (
    Invoice,
    InvoiceDiscount,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Settlement,
    SettlementKind,
)
from billing.winter import store_winter_usage
from core.audit import Actor
from core.db import bulk_insert, utcnow
from core.numbering import reserve_ids, reserve_numbers
from ledger import chart
from ledger.models import GLAccount, GLCategory, JournalLine
from ledger.posting import EntrySpec, Posting, post_entries


def unapplied_credit(session: Session, account_ids: list[int]) -> dict[int, int]:
    """Credit the municipality holds per billing account (cents), from the ledger."""
    rows = session.execute(
        sa.select(
            JournalLine.account_id,
            sa.func.sum(JournalLine.credit_cents) - sa.func.sum(JournalLine.debit_cents),
        )
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            GLAccount.category == GLCategory.UNAPPLIED_CREDIT,
            JournalLine.account_id.in_(account_ids),
        )
        .group_by(JournalLine.account_id)
    ).all()
    return {account_id: int(cents) for account_id, cents in rows if cents and cents > 0}


def credit_by_receivable(lines, applied: int) -> dict[str, int]:
    """Split credit applied to an invoice over its receivables, filling them in line order."""
    by_receivable: dict[str, int] = defaultdict(int)
    remaining = applied
    for line in lines:
        take = min(remaining, max(line.amount_cents, 0))
        if take:
            by_receivable[line.receivable_gl_code] += take
            remaining -= take
    return dict(by_receivable)


def _credit_postings(draft: BillDraft, applied: int) -> list[Posting]:
    """Move credit onto the invoice: debit unapplied credits, credit its receivables in line order."""
    postings = [Posting(chart.UNAPPLIED_CREDITS, debit_cents=applied, account_id=draft.account_id)]
    postings += [
        Posting(code, credit_cents=cents, account_id=draft.account_id)
        for code, cents in credit_by_receivable(draft.lines, applied).items()
    ]
    return postings


def _credit_settlements(
    invoice_id: int, draft: BillDraft, applied: int, taken: dict[int, int], on: date
) -> list[dict]:
    """Settlement rows for credit applied: per installment (tax) or per receivable (utility)."""
    if not applied:
        return []
    if taken:  # a tax invoice: every line is on the property tax receivable
        pieces = [
            (number, draft.lines[0].receivable_gl_code, cents) for number, cents in taken.items()
        ]
    else:
        pieces = [
            (0, code, cents) for code, cents in credit_by_receivable(draft.lines, applied).items()
        ]
    return [
        {
            "invoice_id": invoice_id,
            "installment_number": number,
            "charge_id": None,
            "receivable_code": code,
            "kind": SettlementKind.CREDIT_APPLIED,
            "source_id": None,
            "amount_cents": cents,
            "settled_on": on,
            "created_at": utcnow(),
        }
        for number, code, cents in pieces
    ]


def _installment_rows(
    invoice_id: int, draft: BillDraft, applied: int
) -> tuple[list[dict], dict[int, int]]:
    """Installment rows with credit applied to the earliest first, and the credit per installment."""
    rows, taken = [], {}
    for number, due, cents in draft.installments:
        take = min(applied, cents)
        applied -= take
        if take:
            taken[number] = take
        rows.append(
            {
                "invoice_id": invoice_id,
                "number": number,
                "due_date": due,
                "amount_cents": cents,
                "balance_cents": cents - take,
            }
        )
    return rows, taken


def write_batch(
    session: Session,
    drafts: list[BillDraft],
    *,
    kind: InvoiceKind,
    period: tuple[date, date],
    issue_date: date,
    due_date: date,
    run_id: int,
    actor: Actor,
) -> int:
    """Write the batch's invoices and their ledger entries; returns the number written."""
    if not drafts:
        return 0
    numbers = reserve_numbers(session, "invoice", issue_date.year, len(drafts))
    credits = unapplied_credit(session, [d.account_id for d in drafts])
    now = utcnow()
    invoice_rows, applied_by_draft = [], []
    for number, draft in zip(numbers, drafts, strict=True):
        total = sum(line.amount_cents for line in draft.lines)
        applied = min(credits.get(draft.account_id, 0), total)
        credits[draft.account_id] = credits.get(draft.account_id, 0) - applied
        applied_by_draft.append(applied)
        balance = total - applied
        status = (
            InvoiceStatus.PAID
            if balance == 0
            else (InvoiceStatus.PARTIALLY_PAID if applied else InvoiceStatus.OPEN)
        )
        first_due = draft.installments[0][1] if draft.installments else due_date
        invoice_rows.append(
            {
                "number": f"{issue_date.year}-{number:06d}",
                "account_id": draft.account_id,
                "kind": kind,
                "period_start": (draft.period or period)[0],
                "period_end": (draft.period or period)[1],
                "issue_date": issue_date,
                "due_date": first_due,
                "status": status,
                "total_cents": total,
                "balance_cents": balance,
                "billing_run_id": run_id,
                "parcel_id": draft.parcel_id,
                "estimated": draft.estimated,
                "created_at": now,
            }
        )
    table = Invoice.__table__
    ids = reserve_ids(session, table, len(invoice_rows))
    for invoice_id, row in zip(ids, invoice_rows, strict=True):
        row["id"] = invoice_id
    bulk_insert(session, table, invoice_rows)
    _write_details(session, ids, drafts, applied_by_draft, issue_date)
    specs = []
    for row, draft, applied in zip(invoice_rows, drafts, applied_by_draft, strict=True):
        postings = invoice_postings(draft.account_id, draft.lines)
        if applied:
            postings += _credit_postings(draft, applied)
        specs.append(
            EntrySpec(
                postings,
                issue_date,
                "invoice",
                row["number"],
                f"Invoice {row['number']} for account {draft.account_number}",
            )
        )
    post_entries(
        session,
        specs,
        actor=actor,
        account_numbers={d.account_id: d.account_number for d in drafts},
    )
    return len(drafts)


def _write_details(
    session: Session, ids: list[int], drafts: list[BillDraft], applied: list[int], on: date
) -> None:
    """Lines, installments, credit settlements and estimated reads of the batch."""
    lines, installments, settlements, reads, discounts = [], [], [], [], []
    for invoice_id, draft, credit in zip(ids, drafts, applied, strict=True):
        discounts += discount_rows(invoice_id, draft)
        lines += [
            {
                "invoice_id": invoice_id,
                "position": position,
                "description": line.description,
                "category": line.category,
                "quantity": line.quantity,
                "unit": line.unit,
                "unit_rate": line.unit_rate,
                "amount_cents": line.amount_cents,
                "gl_account_id": None,
                "receivable_gl_id": None,
                "receivable_code": line.receivable_gl_code,
                "gl_code": line.gl_code,
                "service_point_id": line.service_point_id,
                "parcel_id": line.parcel_id,
                "source": line.source,
                **line.worded(),
            }
            for position, line in enumerate(draft.lines, start=1)
        ]
        rows, taken = _installment_rows(invoice_id, draft, credit)
        installments += rows
        settlements += _credit_settlements(invoice_id, draft, credit, taken, on)
        reads += [
            {
                "service_point_id": point_id,
                "meter_installed_on": installed,
                "read_on": read_on,
                "reading": reading,
                "kind": ReadingKind.ESTIMATED,
                "recorded_by": "billing run estimate",
                "note": None,
            }
            for point_id, installed, read_on, reading in draft.estimated_reads
        ]
    gl_ids = dict(session.execute(sa.select(GLAccount.code, GLAccount.id)).all())
    for line in lines:
        line["gl_account_id"] = gl_ids[line.pop("gl_code")]
        line["receivable_gl_id"] = gl_ids[line.pop("receivable_code")]
    for settlement in settlements:
        settlement["receivable_gl_id"] = gl_ids[settlement.pop("receivable_code")]
    for discount in discounts:
        discount["gl_account_id"] = gl_ids[discount.pop("gl_code")]
    bulk_insert(session, InvoiceLine.__table__, lines)
    for table, rows in (
        (InvoiceInstallment.__table__, installments),
        (Settlement.__table__, settlements),
        (MeterReading.__table__, reads),
        (InvoiceDiscount.__table__, discounts),
    ):
        bulk_insert(session, table, rows)
    store_winter_usage(session, [row for draft in drafts for row in draft.winter_usages])


def discount_rows(invoice_id: int, draft: BillDraft) -> list[dict]:
    """The early-payment discounts of a tax bill: for the whole bill (installment 0) or one
    installment."""
    return [
        {
            "invoice_id": invoice_id,
            "installment_number": installment,
            "pay_by": pay_by,
            "percent": percent,
            "discount_cents": cents,
            "amount_due_cents": due,
            "gl_code": draft.discount_gl_code,
        }
        for pay_by, percent, cents, due, installment in draft.discounts
    ]


def add_discounts(session: Session, invoice_id: int, draft: BillDraft) -> None:
    """Store a reissued tax bill's early-payment discounts (write_batch does it in bulk)."""
    rows = discount_rows(invoice_id, draft)
    if rows:
        gl_ids = dict(session.execute(sa.select(GLAccount.code, GLAccount.id)).all())
        for row in rows:
            row["gl_account_id"] = gl_ids[row.pop("gl_code")]
        bulk_insert(session, InvoiceDiscount.__table__, rows)
