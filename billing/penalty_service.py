"""Assessing penalties and interest on past-due invoices, once per rule and period.

The pure module billing.penalties says what is owed as of a date; this
service stores the charges not stored yet (one InvoiceCharge per invoice,
installment, rule and period, enforced by a unique constraint) and posts
them to the ledger. Running it again for the same date changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing import chart
from billing.ledger import EntrySpec, Posting, post_entries
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceStatus,
    LineCategory,
    Settlement,
    SettlementKind,
)
from billing.penalties import InvoiceFacts, PenaltyCharge, owed_as_of
from billing.rules import current_penalty_rules
from core.audit import Actor, record

BATCH = 500
REVENUE = {"penalty": chart.PENALTY_REVENUE, "interest": chart.INTEREST_REVENUE}


@dataclass
class AssessResult:
    """What an assessment did (or, with dry_run, would do)."""

    as_of: date
    invoices_checked: int = 0
    charges: int = 0
    cents: int = 0
    dry_run: bool = False
    #: (invoice number, description, cents) of each new charge, for the report.
    details: list[tuple[str, str, int]] = field(default_factory=list)


def principal_history(
    start: date, original: int, settlements: list[Settlement]
) -> list[tuple[date, int]]:
    """The principal balance after each day on which it changed, starting at the issue date."""
    history = [(start, original)]
    balance = original
    by_day: dict[date, int] = defaultdict(int)
    for settlement in settlements:
        if settlement.charge_id is None:
            sign = -1 if settlement.kind == SettlementKind.REVERSAL else 1
            by_day[settlement.settled_on] += sign * settlement.amount_cents
    for day in sorted(by_day):
        balance -= by_day[day]
        if day <= start:
            history[0] = (start, balance)
        else:
            history.append((day, balance))
    return history


def _facts(invoice: Invoice, settlements: list[Settlement]) -> Iterator[tuple[int, InvoiceFacts]]:
    """(installment number, facts) for an invoice: one per installment, or one for the whole invoice."""
    by_category: dict[str, int] = defaultdict(int)
    for line in invoice.lines:
        by_category[line.category.value] += line.amount_cents
    if not invoice.installments:
        yield (
            0,
            InvoiceFacts(
                invoice.kind.value,
                invoice.due_date,
                dict(by_category),
                principal_history(invoice.issue_date, invoice.total_cents, settlements),
            ),
        )
        return
    for installment in invoice.installments:
        own = [s for s in settlements if s.installment_number == installment.number]
        yield (
            installment.number,
            InvoiceFacts(
                invoice.kind.value,
                installment.due_date,
                {"tax": installment.amount_cents},
                principal_history(invoice.issue_date, installment.amount_cents, own),
            ),
        )


def _past_due(session: Session, as_of: date) -> Iterator[list[Invoice]]:
    """Open invoices with a due date before as_of, in batches."""
    last = 0
    while True:
        batch = session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.id > last,
                Invoice.due_date < as_of,
                Invoice.status.in_([InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID]),
            )
            .options(
                selectinload(Invoice.lines),
                selectinload(Invoice.installments),
            )
            .order_by(Invoice.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield list(batch)
        last = batch[-1].id


def _stored_keys(session: Session, invoices: list[Invoice]) -> dict[int, set[tuple[int, str, str]]]:
    """The (installment, rule, period) keys already assessed, per invoice, read from the database."""
    keys: dict[int, set[tuple[int, str, str]]] = defaultdict(set)
    rows = session.execute(
        sa.select(
            InvoiceCharge.invoice_id,
            InvoiceCharge.installment_number,
            InvoiceCharge.rule_id,
            InvoiceCharge.period_key,
        ).where(InvoiceCharge.invoice_id.in_([i.id for i in invoices]))
    ).all()
    for invoice_id, *key in rows:
        keys[invoice_id].add(tuple(key))
    return keys


def _new_charges(
    invoice: Invoice, settlements: list[Settlement], stored: set, rules, as_of: date, rounding: str
):
    """The charges owed as of the date that are not stored yet, with their installment number."""
    for number, facts in _facts(invoice, settlements):
        for charge in owed_as_of(rules, facts, as_of, rounding):
            if (number, charge.rule_id, charge.period_key) not in stored:
                yield number, charge


def _store(
    session: Session, invoice: Invoice, new: list[tuple[int, PenaltyCharge]], as_of: date
) -> EntrySpec:
    """Add the invoice's new charges; return the journal entry that books them."""
    revenue: dict[str, int] = defaultdict(int)
    for number, charge in new:
        session.add(
            InvoiceCharge(
                invoice_id=invoice.id,
                installment_number=number,
                rule_id=charge.rule_id,
                period_key=charge.period_key,
                category=LineCategory(charge.category),
                description=charge.description,
                amount_cents=charge.amount_cents,
                balance_cents=charge.amount_cents,
                assessed_on=charge.assessed_on,
            )
        )
        revenue[REVENUE[charge.category]] += charge.amount_cents
    total = sum(revenue.values())
    postings = [Posting(chart.PENALTY_RECEIVABLE, debit_cents=total, account_id=invoice.account_id)]
    postings += [Posting(code, credit_cents=cents) for code, cents in sorted(revenue.items())]
    return EntrySpec(
        postings,
        as_of,
        "penalty",
        invoice.number,
        f"Penalties and interest on invoice {invoice.number}",
    )


def assess_penalties(
    session: Session, actor: Actor, *, as_of: date, rounding: str, dry_run: bool = False
) -> AssessResult:
    """Assess every charge owed as of the date and not yet assessed; flushes, never commits."""
    result = AssessResult(as_of, dry_run=dry_run)
    rules = current_penalty_rules(session)
    if not rules:
        return result
    savepoint = session.begin_nested()
    for invoices in _past_due(session, as_of):
        settlements: dict[int, list[Settlement]] = defaultdict(list)
        for settlement in session.scalars(
            sa.select(Settlement).where(Settlement.invoice_id.in_([i.id for i in invoices]))
        ):
            settlements[settlement.invoice_id].append(settlement)
        stored = _stored_keys(session, invoices)
        specs = []
        for invoice in invoices:
            result.invoices_checked += 1
            new = list(
                _new_charges(
                    invoice, settlements[invoice.id], stored[invoice.id], rules, as_of, rounding
                )
            )
            if not new:
                continue
            specs.append(_store(session, invoice, new, as_of))
            result.charges += len(new)
            result.cents += sum(charge.amount_cents for _n, charge in new)
            result.details += [
                (invoice.number, charge.description, charge.amount_cents) for _n, charge in new
            ]
        session.flush()
        post_entries(session, specs, actor=actor)
    if dry_run:
        savepoint.rollback()
        return result
    savepoint.commit()
    record(
        session,
        actor,
        "penalties.assess",
        object_type="Assessment",
        object_id=as_of.isoformat(),
        invoices=result.invoices_checked,
        charges=result.charges,
        cents=result.cents,
    )
    return result
