"""A deposit owed under `collect: first_bill`, billed as a line of the account's next regular
bill: the line credits the deposits-held liability, never revenue.

A billing run's drafts get the line (`add_owed_deposits`), so the preview shows what posting
will bill; posting locks the owed deposits of the batch and drops a line whose deposit was
meanwhile taken or dropped (`claim_owed_deposits`), then records each deposit billed in the
register with the invoice's own journal entry (`register_billed_deposits`).

NOTE: the deposit is held from the day it is billed: the invoice's entry debits the account's
receivable and credits 2020 Deposits held, and the register records the deposit with that same
entry, so the register and the ledger agree from the first day. Until the bill is paid the
deposit is owed like any charge on it (aging, reminders, penalties); a deposit billed and never
paid is applied to the final bill like any other, which leaves the total owed unchanged
(docs/deposits.md).
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.drafts import BillDraft
from billing.invoices import LineDraft
from billing.models import (
    Deposit,
    DepositMovement,
    DepositStatus,
    Invoice,
    InvoiceStatus,
    LineCategory,
    MovementKind,
    OwedDeposit,
    OwedStatus,
)
from core.audit import Actor, record_many
from ledger import chart
from ledger.models import JournalEntry

#: The line's words, by language, as the resident reads them on the bill.
DEPOSIT_LINE = {
    "en": "Security deposit (held for your account, refundable)",
    "es": "Depósito de garantía (retenido para su cuenta, reembolsable)",
}
#: InvoiceLine.source of a deposit line: "deposit:<owed deposit id>".
SOURCE_PREFIX = "deposit:"


def deposit_line(owed_id: int, amount_cents: int, receivable_gl_code: str) -> LineDraft:
    """The bill's deposit line: Dr the account's receivable / Cr 2020 Deposits held."""
    return LineDraft(
        description=DEPOSIT_LINE["en"],
        descriptions=DEPOSIT_LINE,
        amount_cents=amount_cents,
        gl_code=chart.DEPOSITS_HELD,
        receivable_gl_code=receivable_gl_code,
        category=LineCategory.FEE,
        source=f"{SOURCE_PREFIX}{owed_id}",
    )


def _owed_id(line: LineDraft) -> int | None:
    """The owed deposit a draft line bills, or None for any other line."""
    if line.gl_code == chart.DEPOSITS_HELD and (line.source or "").startswith(SOURCE_PREFIX):
        return int(line.source.removeprefix(SOURCE_PREFIX))
    return None


def _open_owed(session: Session, account_ids: list[int], lock: bool = False) -> dict:
    """The deposits owed to bill (collect: first_bill) of these accounts, by account."""
    if not account_ids:
        return {}
    query = sa.select(OwedDeposit).where(
        OwedDeposit.account_id.in_(account_ids),
        OwedDeposit.status == OwedStatus.OWED,
        OwedDeposit.collect == "first_bill",
    )
    if lock:
        query = query.order_by(OwedDeposit.id).with_for_update()
    return {owed.account_id: owed for owed in session.scalars(query)}


def add_owed_deposits(session: Session, drafts: list[BillDraft]) -> None:
    """Add the deposit line to each draft whose account owes a deposit to bill (one query)."""
    owed = _open_owed(session, [d.account_id for d in drafts if d.parcel_id is None])
    for draft in drafts:
        if (row := owed.get(draft.account_id)) is not None and draft.lines:
            receivable = draft.lines[0].receivable_gl_code
            draft.lines.append(deposit_line(row.id, row.amount_cents, receivable))


def claim_owed_deposits(session: Session, drafts: list[BillDraft]) -> None:
    """Lock the batch's owed deposits; a line whose deposit is no longer owed (taken at the
    counter, dropped) is removed, one whose amount changed is billed at what is owed now."""
    billed = {d.account_id for d in drafts if any(_owed_id(line) for line in d.lines)}
    if not billed:
        return
    owed = {row.id: row for row in _open_owed(session, sorted(billed), lock=True).values()}
    for draft in drafts:
        lines = []
        for line in draft.lines:
            owed_id = _owed_id(line)
            if owed_id is None:
                lines.append(line)
            elif (row := owed.get(owed_id)) is not None:
                lines.append(replace(line, amount_cents=row.amount_cents))
        draft.lines = lines


def register_billed_deposits(
    session: Session, actor: Actor, run_id: int, drafts: list[BillDraft]
) -> int:
    """Record in the register each deposit the batch's bills carry, held from the invoice's
    own entry, and close what the accounts owed; returns the deposits recorded."""
    lines = {d.account_id: line for d in drafts for line in d.lines if _owed_id(line) is not None}
    if not lines:
        return 0
    owed = {row.id: row for row in _open_owed(session, sorted(lines)).values()}
    invoices = session.execute(
        sa.select(Invoice.id, Invoice.number, Invoice.account_id, Invoice.issue_date).where(
            Invoice.billing_run_id == run_id,
            Invoice.account_id.in_(sorted(lines)),
            Invoice.status != InvoiceStatus.VOID,
        )
    ).all()
    entries = dict(
        session.execute(
            sa.select(JournalEntry.source_id, JournalEntry.id).where(
                JournalEntry.source_type == "invoice",
                JournalEntry.source_id.in_([i.number for i in invoices]),
            )
        ).all()
    )
    facts = {}
    for invoice in invoices:
        line = lines[invoice.account_id]
        row = owed[_owed_id(line)]
        deposit = _held(session, actor, row, line, invoice, entries[invoice.number])
        facts[deposit.id] = {
            "account_id": invoice.account_id,
            "amount_cents": line.amount_cents,
            "invoice": invoice.number,
            "owed_deposit": row.id,
        }
    session.flush()
    if facts:
        record_many(session, actor, "deposit.bill", "Deposit", facts)
    return len(facts)


def _held(
    session: Session, actor: Actor, owed: OwedDeposit, line: LineDraft, invoice, entry_id: int
) -> Deposit:
    """One deposit billed, in the register from the invoice's entry; the owed deposit closed."""
    deposit = Deposit(
        account_id=invoice.account_id,
        amount_cents=line.amount_cents,
        held_since=invoice.issue_date,
        source="first_bill",
        reference=invoice.number,
        offset_gl_code=line.receivable_gl_code,
        status=DepositStatus.HELD,
        held_cents=line.amount_cents,
        interest_cents=0,
    )
    session.add(deposit)
    session.flush()
    session.add(
        DepositMovement(
            deposit_id=deposit.id,
            kind=MovementKind.HELD,
            amount_cents=line.amount_cents,
            moved_on=invoice.issue_date,
            reference=invoice.number,
            journal_entry_id=entry_id,
            recorded_by=actor.label,
        )
    )
    owed.status, owed.closed_on = OwedStatus.BILLED, invoice.issue_date
    owed.deposit_id, owed.invoice_id = deposit.id, invoice.id
    return deposit
