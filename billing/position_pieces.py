"""What an account's position is made of, as one SQL query: every piece of every invoice in
force on a date, with what was billed, paid, credited and adjusted on it by then.

A piece is one thing an invoice bills: a utility bill's principal on one receivable (one
service), a tax bill's installment (or the whole bill when it has none), or one penalty or
interest charge. Each piece carries its class (billing.position.Receivable's columns), its due
date (a charge's is the due date of the part it was assessed on) and its account.

The rules, each fact on its business date:
- invoices in force: issued by the date and not voided by then (a void's date is the date of
  the entries that reverse the invoice);
- charges booked by the date (booked_on, their ledger entry's date), less what a waiver entry
  dated by then took off them;
- settlements settled by the date: payments and their reversals are paid, credit memos,
  credit applied and early-payment discounts honoured are credited (less the discounts taken
  back since), write-offs are adjusted.

billing.position reads it for a few accounts; the clerks' dashboard aggregates it for the town
(console/reports.py). Both therefore say the same, and both equal the ledger's receivables
(tests/billing/test_position.py).
"""

from __future__ import annotations

import functools
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Settlement,
    SettlementKind,
)
from ledger import chart
from ledger.models import GLAccount, JournalEntry, JournalLine, ServiceKind

#: The part of an invoice a piece is: a receivable (utility), an installment (tax), a charge.
GL, INSTALLMENT, CHARGE = "gl", "inst", "charge"


def _live(as_of: date | sa.BindParameter, accounts: sa.BindParameter | None):
    """The invoices in force on the date (issued by then, not voided by then).

    A void's date is the first reversing entry of the invoice. For the whole town it comes from
    one grouped pass over the voids, joined; for some accounts (`accounts`, a bound list of
    ids) it is looked up for their void invoices only, through the journal's source index, and
    the invoices in force are a common table expression that every branch of the pieces' union
    reads once instead of planning and running it again."""
    query = sa.select(
        Invoice.id.label("invoice_id"),
        Invoice.account_id,
        Invoice.kind,
        Invoice.period_start,
        Invoice.due_date,
    ).where(Invoice.issue_date <= as_of)
    voids = (JournalEntry.source_type == "invoice", JournalEntry.reverses_id.is_not(None))
    if accounts is None:
        void_day = (
            sa.select(
                JournalEntry.source_id.label("number"),
                sa.func.min(JournalEntry.entry_date).label("day"),
            )
            .where(*voids)
            .group_by(JournalEntry.source_id)
            .subquery("void_day")
        )
        return (
            query.outerjoin(void_day, void_day.c.number == Invoice.number)
            .where(sa.or_(Invoice.status != InvoiceStatus.VOID, void_day.c.day > as_of))
            .subquery("live")
        )
    void_day = (
        sa.select(sa.func.min(JournalEntry.entry_date))
        .where(*voids, JournalEntry.source_id == Invoice.number)
        .correlate(Invoice)
        .scalar_subquery()
    )
    return query.where(
        sa.or_(Invoice.status != InvoiceStatus.VOID, void_day > as_of),
        Invoice.account_id.in_(accounts),
    ).cte("live")


def _amounts(billed=0, paid=0, credited=0, adjusted=0) -> list:
    """The four measures of a row, labelled."""
    return [
        sa.cast(billed, sa.BigInteger).label("billed"),
        sa.cast(paid, sa.BigInteger).label("paid"),
        sa.cast(credited, sa.BigInteger).label("credited"),
        sa.cast(adjusted, sa.BigInteger).label("adjusted"),
    ]


def _rows(as_of: date, live):
    """Every billed, settled and waived amount, keyed by its piece (invoice, part, part id)."""
    is_tax = live.c.kind == InvoiceKind.TAX
    has_installments = (
        sa.select(InvoiceInstallment.id)
        .where(InvoiceInstallment.invoice_id == live.c.invoice_id)
        .exists()
    )
    lines = (
        sa.select(
            live.c.invoice_id,
            sa.case((is_tax, INSTALLMENT), else_=GL).label("part"),
            sa.case((is_tax, 0), else_=InvoiceLine.receivable_gl_id).label("part_id"),
            *_amounts(billed=InvoiceLine.amount_cents),
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == live.c.invoice_id)
        .where(~(is_tax & has_installments))
    )
    installments = sa.select(
        live.c.invoice_id,
        sa.literal(INSTALLMENT).label("part"),
        InvoiceInstallment.number,
        *_amounts(billed=InvoiceInstallment.amount_cents),
    ).join(InvoiceInstallment, InvoiceInstallment.invoice_id == live.c.invoice_id)
    charges = (
        sa.select(
            live.c.invoice_id,
            sa.literal(CHARGE).label("part"),
            InvoiceCharge.id,
            *_amounts(billed=InvoiceCharge.amount_cents),
        )
        .join(InvoiceCharge, InvoiceCharge.invoice_id == live.c.invoice_id)
        .where(InvoiceCharge.booked_on <= as_of)
    )
    waivers = (
        sa.select(
            live.c.invoice_id,
            sa.literal(CHARGE).label("part"),
            InvoiceCharge.id,
            *_amounts(adjusted=JournalLine.credit_cents),
        )
        .join(InvoiceCharge, InvoiceCharge.invoice_id == live.c.invoice_id)
        .join(
            JournalEntry,
            sa.and_(
                JournalEntry.source_type == "waiver",
                JournalEntry.source_id == sa.cast(InvoiceCharge.id, sa.String),
            ),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            InvoiceCharge.booked_on <= as_of,
            JournalEntry.entry_date <= as_of,
            GLAccount.code == chart.PENALTY_RECEIVABLE,
        )
    )
    return sa.union_all(lines, installments, charges, waivers, _settled(as_of, live, is_tax))


def _settled(as_of: date, live, is_tax):
    """Each settlement by the date, as what it paid, credited or adjusted on its piece."""
    cents, kind = Settlement.amount_cents, Settlement.kind
    credit = (SettlementKind.CREDIT_MEMO, SettlementKind.CREDIT_APPLIED, SettlementKind.DISCOUNT)
    return (
        sa.select(
            live.c.invoice_id,
            sa.case(
                (Settlement.charge_id.is_not(None), CHARGE), (is_tax, INSTALLMENT), else_=GL
            ).label("part"),
            sa.case(
                (Settlement.charge_id.is_not(None), Settlement.charge_id),
                (is_tax, Settlement.installment_number),
                else_=Settlement.receivable_gl_id,
            ).label("part_id"),
            *_amounts(
                paid=sa.case(
                    (kind == SettlementKind.PAYMENT, cents),
                    (kind == SettlementKind.REVERSAL, -cents),
                    else_=0,
                ),
                credited=sa.case(
                    (kind.in_(credit), cents),
                    (kind == SettlementKind.DISCOUNT_REVERSED, -cents),
                    else_=0,
                ),
                adjusted=sa.case((kind == SettlementKind.WRITE_OFF, cents), else_=0),
            ),
        )
        .join(Settlement, Settlement.invoice_id == live.c.invoice_id)
        .where(Settlement.settled_on <= as_of)
    )


def pieces(as_of: date | sa.BindParameter, accounts: sa.BindParameter | None = None):
    """One row per piece in force on the date (for the accounts bound to `accounts`, or the
    whole town): account, invoice, class columns, due date, and billed, paid, credited,
    adjusted cents. billing.position reads some accounts through of_accounts()."""
    live = _live(as_of, accounts)
    rows = _rows(as_of, live).subquery("rows")
    totals = (
        sa.select(
            rows.c.invoice_id,
            rows.c.part,
            rows.c.part_id,
            *(
                sa.func.sum(rows.c[name]).label(name)
                for name in ("billed", "paid", "credited", "adjusted")
            ),
        )
        .group_by(rows.c.invoice_id, rows.c.part, rows.c.part_id)
        .subquery("totals")
    )
    return _classed(totals, live).subquery("pieces")


def _classed(totals, live):
    """The piece totals with their account, class and due date."""
    is_tax = live.c.kind == InvoiceKind.TAX
    # NOTE: one service per receivable account, should two kinds ever share one.
    services = (
        sa.select(ServiceKind.receivable_gl_id, sa.func.min(ServiceKind.code).label("code"))
        .group_by(ServiceKind.receivable_gl_id)
        .subquery("services")
    )
    part_of = aliased(InvoiceInstallment, name="part_of")
    charged = aliased(InvoiceInstallment, name="charged")
    is_charge = totals.c.part == CHARGE
    installment = sa.case(
        (is_tax & (totals.c.part == INSTALLMENT), totals.c.part_id),
        (is_tax & is_charge, InvoiceCharge.installment_number),
        else_=0,
    )
    return (
        sa.select(
            live.c.account_id,
            totals.c.invoice_id,
            sa.case(
                (is_tax, "tax"),
                (is_charge | services.c.code.is_not(None), "utility"),
                else_="other",
            ).label("grp"),
            sa.case((is_tax, sa.extract("year", live.c.period_start)), else_=0).label("tax_year"),
            installment.label("installment"),
            sa.case((totals.c.part == GL, sa.func.coalesce(services.c.code, "")), else_="").label(
                "service"
            ),
            is_charge.label("charges"),
            sa.func.coalesce(part_of.due_date, charged.due_date, live.c.due_date).label("due"),
            totals.c.billed,
            totals.c.paid,
            totals.c.credited,
            totals.c.adjusted,
        )
        .join(live, live.c.invoice_id == totals.c.invoice_id)
        .outerjoin(
            services,
            (totals.c.part == GL) & (services.c.receivable_gl_id == totals.c.part_id),
        )
        .outerjoin(
            part_of,
            (totals.c.part == INSTALLMENT)
            & (part_of.invoice_id == totals.c.invoice_id)
            & (part_of.number == totals.c.part_id),
        )
        .outerjoin(InvoiceCharge, is_charge & (InvoiceCharge.id == totals.c.part_id))
        .outerjoin(
            charged,
            (charged.invoice_id == totals.c.invoice_id)
            & (charged.number == InvoiceCharge.installment_number),
        )
    )


@functools.cache
def of_accounts() -> sa.Select:
    """The pieces of some accounts as a statement built once, with the bound parameters
    `as_of` (a date) and `accounts` (a list of account ids).

    An account's position is read on every page a resident opens; building this expression
    anew each time cost more than running it (docs/billing.md, "The account position")."""
    return sa.select(
        pieces(
            sa.bindparam("as_of", type_=sa.Date),
            sa.bindparam("accounts", expanding=True),
        )
    )
