"""The facts of a posted invoice that billing.penalties reads: principal and charge payment
histories, waived charges, the account's other bills. Read from the database in batches by
the assessment (billing.penalty_service)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceCharge, InvoiceStatus, Settlement
from billing.penalties import InvoiceFacts
from ledger.models import JournalEntry


def principal_history(
    start: date, original: int, settlements: list[Settlement]
) -> list[tuple[date, int]]:
    """The principal balance after each day on which it changed, starting at the issue date."""
    history = [(start, original)]
    balance = original
    by_day: dict[date, int] = defaultdict(int)
    for settlement in settlements:
        if settlement.charge_id is None:
            sign = -1 if settlement.kind.reopens else 1
            by_day[settlement.settled_on] += sign * settlement.amount_cents
    for day in sorted(by_day):
        balance -= by_day[day]
        # NOTE: what was settled by the issue date (a deposit applied to a final bill, credit
        # applied by the run) lowers the balance from the start; the first entry stays the
        # original principal, which the rules' bases and minimums read.
        history.append((max(day, start), balance))
    return history


#: (waiver date, installment number, cents waived) of one waived penalty or interest charge.
Waiver = tuple[date, int, int]


def charges_paid_history(
    settlements: list[Settlement], waivers: Sequence[Waiver] = ()
) -> list[tuple[date, int]]:
    """(date, penalties and interest paid or waived in all after that day), for the base
    that includes earlier charges."""
    by_day: dict[date, int] = defaultdict(int)
    for settlement in settlements:
        if settlement.charge_id is not None:
            sign = -1 if settlement.kind.reopens else 1
            by_day[settlement.settled_on] += sign * settlement.amount_cents
    for day, _number, cents in waivers:
        # NOTE: a waived charge is no longer owed from the waiver's date: it stops bearing
        # the percentage as a paid one does.
        by_day[day] += cents
    history, paid = [], 0
    for day in sorted(by_day):
        paid += by_day[day]
        history.append((day, max(paid, 0)))
    return history


def waived_charges(
    session: Session, invoices: list[Invoice], settlements: dict[int, list[Settlement]]
) -> dict[int, list[Waiver]]:
    """The waivers of the invoices' charges, by invoice: the day (its journal entry's) and
    the part of the charge that was waived."""
    charges = session.scalars(
        sa.select(InvoiceCharge).where(
            InvoiceCharge.invoice_id.in_([i.id for i in invoices]),
            InvoiceCharge.waived_at.is_not(None),
        )
    ).all()
    if not charges:
        return {}
    days = dict(
        session.execute(
            sa.select(JournalEntry.source_id, JournalEntry.entry_date).where(
                JournalEntry.source_type == "waiver",
                JournalEntry.source_id.in_([str(charge.id) for charge in charges]),
            )
        ).all()
    )
    waivers: dict[int, list[Waiver]] = defaultdict(list)
    for charge in charges:
        if str(charge.id) not in days:
            continue  # a void invoice's charges: it is not assessed
        settled = sum(
            (-1 if s.kind.reopens else 1) * s.amount_cents
            for s in settlements[charge.invoice_id]
            if s.charge_id == charge.id
        )
        waived = (days[str(charge.id)], charge.installment_number, charge.amount_cents - settled)
        waivers[charge.invoice_id].append(waived)
    return waivers


#: (invoice id, kind, due date, principal balance history) of one of an account's bills.
OtherBill = tuple[int, str, date, list[tuple[date, int]]]


def account_bills(session: Session, invoices: list[Invoice]) -> dict[int, list[OtherBill]]:
    """Every bill (void ones aside) of the accounts of these invoices, by account: what the
    `account_past_due` base reads."""
    rows = session.scalars(
        sa.select(Invoice).where(
            Invoice.account_id.in_({i.account_id for i in invoices}),
            Invoice.status != InvoiceStatus.VOID,
        )
    ).all()
    paid: dict[int, list[Settlement]] = defaultdict(list)
    for settlement in session.scalars(
        sa.select(Settlement).where(Settlement.invoice_id.in_([row.id for row in rows]))
    ):
        paid[settlement.invoice_id].append(settlement)
    bills: dict[int, list[OtherBill]] = defaultdict(list)
    for row in rows:
        history = principal_history(row.issue_date, row.total_cents, paid[row.id])
        bills[row.account_id].append((row.id, row.kind.value, row.due_date, history))
    return bills


def _others(invoice: Invoice, bills: list[OtherBill]) -> list[tuple[date, list]]:
    """The account's other bills of the invoice's kind: (due date, principal history)."""
    kind = invoice.kind.value
    return [(due, history) for id_, k, due, history in bills if id_ != invoice.id and k == kind]


def invoice_facts(
    invoice: Invoice,
    settlements: list[Settlement],
    bills: Sequence[OtherBill] = (),
    waivers: Sequence[Waiver] = (),
) -> Iterator[tuple[int, InvoiceFacts]]:
    """(installment number, facts) for an invoice: one per installment, or one for the whole invoice."""
    others = _others(invoice, list(bills))
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
                charges_paid_history(settlements, waivers),
                others,
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
                charges_paid_history(own, [w for w in waivers if w[1] == installment.number]),
                others,
            ),
        )
