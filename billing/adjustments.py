"""Supervisor corrections of posted invoices: void and reissue, credit memos.

A posted invoice's lines never change. A void reverses its journal entries
(and those of its penalties) and lets a corrected invoice be issued for the
same period, referencing the old one; a credit memo lowers what is owed, with
a reason, and posts its own entry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Parcel
from billing.drafts import tax_batch, tax_context, utility_batch, utility_context
from billing.invoices import LineDraft, post_invoice, refresh_status
from billing.models import (
    CreditMemo,
    Invoice,
    InvoiceCharge,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceStatus,
    LineCategory,
    Settlement,
    SettlementKind,
)
from billing.receivables import fill, outstanding_by_receivable
from billing.reconnection import reconnect_cleared
from billing.rules import levy_spec
from billing.writer import add_discounts
from core.audit import Actor, record
from core.db import utcnow
from core.money import split_cents
from core.numbering import next_number
from ledger import chart
from ledger.chart import gl_codes
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.posting import Posting, post_entry, reverse_entry

#: The longest words for the resident an adjustment carries.
RESIDENT_TEXT_LENGTH = 200


class AdjustmentError(ValueError):
    """A correction that cannot be made; nothing was changed."""


def _require_reason(reason: str) -> str:
    """Every correction states why."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise AdjustmentError("reason: say why (at least 5 characters)")
    return reason


def resident_words(text: str | None) -> str | None:
    """The words for the resident an adjustment may carry: trimmed, at most 200 characters,
    None when there are none (the documents then use their own default wording)."""
    text = " ".join((text or "").split())
    if len(text) > RESIDENT_TEXT_LENGTH:
        raise AdjustmentError(
            f"resident_text: at most {RESIDENT_TEXT_LENGTH} characters, not {len(text)}"
        )
    return text or None


def void_invoice(
    session: Session,
    actor: Actor,
    invoice: Invoice,
    *,
    reason: str,
    on: date,
    resident_text: str | None = None,
) -> Invoice:
    """Void an invoice that nothing was paid or credited on; reverse its ledger entries."""
    reason = _require_reason(reason)
    words = resident_words(resident_text)
    if invoice.status == InvoiceStatus.VOID:
        raise AdjustmentError(f"invoice {invoice.number} is already void")
    if invoice.converted:
        # NOTE: a converted bill has no entry of its own to reverse: its balance is in the
        # account's opening entry (docs/conversion.md).
        raise AdjustmentError(
            f"invoice {invoice.number} was converted from the old system; lower it with a "
            "credit memo instead of voiding it"
        )
    blocking = session.scalar(
        sa.select(sa.func.count())
        .select_from(Settlement)
        .where(
            Settlement.invoice_id == invoice.id,
            Settlement.kind.in_(
                [
                    SettlementKind.PAYMENT,
                    SettlementKind.CREDIT_MEMO,
                    SettlementKind.WRITE_OFF,
                    SettlementKind.DISCOUNT,
                ]
            ),
        )
    )
    if blocking:
        raise AdjustmentError(
            f"invoice {invoice.number} has payments or credits applied; refund or reverse them first"
        )
    reversed_ids = set(
        session.scalars(
            sa.select(JournalEntry.reverses_id).where(JournalEntry.reverses_id.is_not(None))
        )
    )
    entries = session.scalars(
        sa.select(JournalEntry)
        .where(
            JournalEntry.source_type.in_(["invoice", "penalty"]),
            JournalEntry.source_id == invoice.number,
            JournalEntry.reverses_id.is_(None),
        )
        .order_by(JournalEntry.seq)
    ).all()
    for entry in entries:
        if entry.id not in reversed_ids:
            reverse_entry(
                session,
                entry,
                actor=actor,
                entry_date=on,
                memo=f"Void of invoice {invoice.number}: {reason}",
            )
    now = utcnow()
    for charge in session.scalars(
        sa.select(InvoiceCharge).where(InvoiceCharge.invoice_id == invoice.id)
    ):
        charge.balance_cents, charge.waived_at = 0, charge.waived_at or now
    for installment in invoice.installments:
        installment.balance_cents = 0
    before = {"status": invoice.status, "balance_cents": invoice.balance_cents}
    invoice.status, invoice.balance_cents, invoice.voided_at, invoice.void_reason = (
        InvoiceStatus.VOID,
        0,
        now,
        reason,
    )
    invoice.void_text = words
    session.flush()
    record(
        session,
        actor,
        "invoice.void",
        invoice,
        before=before,
        after={"status": "void"},
        reason=reason,
    )
    reconnect_cleared(session, actor, [invoice.account_id], how="void")
    return invoice


#: The revenue account of each fee charged as an invoice charge, by its rule (the charge's
#: source); a rule not named here is looked up in the entry that booked the charge.
FEE_REVENUE = {
    "reconnection_fee": chart.RECONNECTION_FEES,
    "returned_payment": chart.RETURNED_PAYMENT_FEES,
    "convenience_fee": chart.CONVENIENCE_FEE_REVENUE,
}
#: The journal sources that book a fee charge (source_id: the charge's id).
FEE_SOURCES = ("reconnection_fee", "ach_return_fee", "convenience_fee")


def charge_revenue_code(session: Session, charge: InvoiceCharge) -> str:
    """The revenue account a charge was booked to, which its waiver takes back: interest and
    penalties by category; a fee by the entry that charged it (a returned-payment rule may name
    its own account), else by its rule."""
    if charge.category == LineCategory.INTEREST:
        return chart.INTEREST_REVENUE
    if charge.category != LineCategory.FEE:
        return chart.PENALTY_REVENUE
    booked = session.scalar(
        sa.select(GLAccount.code)
        .join(JournalLine, JournalLine.gl_account_id == GLAccount.id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalEntry.source_type.in_(FEE_SOURCES),
            JournalEntry.source_id == str(charge.id),
            JournalEntry.reverses_id.is_(None),
            JournalLine.credit_cents > 0,
            GLAccount.code != chart.PENALTY_RECEIVABLE,
        )
        .order_by(JournalEntry.seq)
        .limit(1)
    )
    if booked is not None:
        return booked
    if charge.rule_id not in FEE_REVENUE:
        raise AdjustmentError(
            f"charge {charge.id}: no revenue account is known for fee rule {charge.rule_id!r}"
        )
    return FEE_REVENUE[charge.rule_id]


def waive_charge(
    session: Session,
    actor: Actor,
    charge: InvoiceCharge,
    *,
    reason: str,
    on: date,
    resident_text: str | None = None,
) -> InvoiceCharge:
    """Waive what is still owed on a penalty, interest or fee charge (supervisor), with a
    reason.

    The unpaid part goes back out of the penalty receivable and the revenue it was booked
    to (charge_revenue_code: a reconnection fee to 4540, a returned-payment fee to its rule's
    account); what was already paid on it stays paid.
    """
    reason = _require_reason(reason)
    words = resident_words(resident_text)
    if charge.waived_at is not None:
        raise AdjustmentError(f"charge {charge.id} was already waived")
    invoice = session.get(Invoice, charge.invoice_id)
    if invoice.status == InvoiceStatus.VOID:
        raise AdjustmentError(f"invoice {invoice.number} is void")
    left = charge.balance_cents
    if left <= 0:
        raise AdjustmentError(f"charge {charge.id} is paid; refund the payment instead")
    revenue = charge_revenue_code(session, charge)
    post_entry(
        session,
        [
            Posting(revenue, debit_cents=left),
            Posting(chart.PENALTY_RECEIVABLE, credit_cents=left, account_id=invoice.account_id),
        ],
        entry_date=on,
        source_type="waiver",
        source_id=str(charge.id),
        actor=actor,
        memo=f"Waiver of charge {charge.id} ({charge.description}) on invoice {invoice.number}: "
        f"{reason}",
    )
    charge.balance_cents, charge.waived_at, charge.waiver_text = 0, utcnow(), words
    refresh_status(session, invoice)
    session.flush()
    reconnect_cleared(session, actor, [invoice.account_id], how="waiver")
    record(
        session,
        actor,
        "charge.waive",
        charge,
        invoice=invoice.number,
        waived_cents=left,
        reason=reason,
    )
    return charge


def reissue_invoice(
    session: Session,
    actor: Actor,
    old: Invoice,
    *,
    lines: list[LineDraft],
    issue_date: date,
    due_date: date,
) -> Invoice:
    """Issue the corrected invoice for a voided one's period, referencing it."""
    if old.status != InvoiceStatus.VOID:
        raise AdjustmentError(f"invoice {old.number} must be voided before it is reissued")
    new = post_invoice(
        session,
        actor,
        account=old.account,
        kind=old.kind,
        period_start=old.period_start,
        period_end=old.period_end,
        issue_date=issue_date,
        due_date=due_date,
        lines=lines,
        replaces=old,
        parcel_id=old.parcel_id,
    )
    record(session, actor, "invoice.reissue", new, replaces=old.number)
    return new


def _memo_postings(
    invoice: Invoice, by_receivable: dict[int, int], codes: dict[int, str]
) -> list[Posting]:
    """Credit the receivables filled; debit the revenue or liability of their lines in proportion."""
    debits: dict[str, int] = defaultdict(int)
    for gl_id, cents in by_receivable.items():
        lines = [
            line
            for line in invoice.lines
            if line.receivable_gl_id == gl_id and line.amount_cents > 0
        ]
        for line, part in zip(
            lines, split_cents(cents, [line.amount_cents for line in lines]), strict=True
        ):
            debits[codes[line.gl_account_id]] += part
    postings = [Posting(code, debit_cents=c) for code, c in sorted(debits.items()) if c]
    postings += [
        Posting(codes[gl_id], credit_cents=c, account_id=invoice.account_id)
        for gl_id, c in by_receivable.items()
        if c
    ]
    return postings


def _settlement_pieces(
    invoice: Invoice, by_receivable: dict[int, int], amount: int
) -> list[tuple[int, int, int]]:
    """(installment, receivable, cents): installments earliest first (tax), else per receivable."""
    if not invoice.installments:
        return [(0, gl_id, cents) for gl_id, cents in by_receivable.items()]
    (gl_id,) = by_receivable  # a tax invoice owes on the property tax receivable only
    pieces, remaining = [], amount
    for installment in invoice.installments:
        take = min(remaining, installment.balance_cents)
        if take:
            installment.balance_cents -= take
            remaining -= take
            pieces.append((installment.number, gl_id, take))
    return pieces


def issue_credit_memo(
    session: Session,
    actor: Actor,
    invoice: Invoice,
    *,
    amount_cents: int,
    reason: str,
    on: date,
    resident_text: str | None = None,
) -> CreditMemo:
    """Lower what an invoice owes by amount_cents, with a reason (the staff's) and words for the
    resident (the statement's); posts its ledger entry."""
    reason = _require_reason(reason)
    words = resident_words(resident_text)
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise AdjustmentError("amount_cents: must be a positive whole number of cents")
    if invoice.status == InvoiceStatus.VOID:
        raise AdjustmentError(f"invoice {invoice.number} is void")
    if amount_cents > invoice.balance_cents:
        raise AdjustmentError(
            f"amount_cents: {amount_cents} is more than the {invoice.balance_cents} still owed"
        )
    number = f"CM-{on.year}-{next_number(session, 'credit_memo', on.year):06d}"
    memo = CreditMemo(
        number=number,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        reason=reason,
        resident_text=words,
        issued_on=on,
        issued_by=actor.label,
    )
    session.add(memo)
    by_receivable = fill(outstanding_by_receivable(session, invoice), amount_cents)
    for installment, gl_id, cents in _settlement_pieces(invoice, by_receivable, amount_cents):
        session.add(
            Settlement(
                invoice_id=invoice.id,
                installment_number=installment,
                receivable_gl_id=gl_id,
                kind=SettlementKind.CREDIT_MEMO,
                source_id=memo.number,
                amount_cents=cents,
                settled_on=on,
            )
        )
    invoice.balance_cents -= amount_cents
    refresh_status(session, invoice)
    codes = gl_codes(session)
    post_entry(
        session,
        _memo_postings(invoice, by_receivable, codes),
        entry_date=on,
        source_type="credit_memo",
        source_id=memo.number,
        actor=actor,
        memo=f"Credit memo {memo.number} on invoice {invoice.number}: {reason}",
    )
    record(
        session,
        actor,
        "credit_memo.issue",
        memo,
        invoice=invoice.number,
        amount_cents=amount_cents,
        reason=reason,
    )
    # A memo that clears what was past due at a shutoff turns the service back on.
    reconnect_cleared(session, actor, [invoice.account_id], how="credit_memo")
    return memo


def recompute_and_reissue(
    session: Session,
    actor: Actor,
    old: Invoice,
    *,
    issue_date: date,
    due_date: date,
    rounding: str,
    spike_multiple,
) -> Invoice:
    """Reissue a voided invoice from the data as it is now (corrected reads, values or plans)."""
    if old.estimated:
        # NOTE: an estimate is a percent of last year's bill, not a computation of this year's.
        raise AdjustmentError(
            f"invoice {old.number} is an estimated first installment; it is not recomputed"
        )
    if old.kind == InvoiceKind.TAX:
        spec = levy_spec(session, old.period_start.year)
        if spec is None:
            raise AdjustmentError(f"no levy is loaded for tax year {old.period_start.year}")
        batch = tax_batch(
            session,
            [session.get(Parcel, old.parcel_id)],
            tax_context(session, spec, rounding, chart.TAX_RECEIVABLE),
        )
    else:
        ctx = utility_context(
            session,
            period_start=old.period_start,
            period_end=old.period_end,
            rounding=rounding,
            spike_multiple=spike_multiple,
        )
        batch = utility_batch(session, [old.account], ctx)
    if not batch.drafts:
        notes = "; ".join(e["note"] for e in batch.exceptions) or "nothing to bill"
        raise AdjustmentError(f"invoice {old.number} cannot be recomputed: {notes}")
    draft = batch.drafts[0]
    new = reissue_invoice(
        session, actor, old, lines=draft.lines, issue_date=issue_date, due_date=due_date
    )
    for number, due, cents in draft.installments:
        new.installments.append(
            InvoiceInstallment(number=number, due_date=due, amount_cents=cents, balance_cents=cents)
        )
    session.flush()
    add_discounts(session, new.id, draft)
    return new
