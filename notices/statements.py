"""The account statement: everything an account owes, every group together, over a period.

The opening and closing balances are the account position (billing.position) the day before
the period and on its last day; the rows between are the ledger's entries on the account's
receivables, each described in words for residents (a bill, a payment with its receipt, a
credit, a refund), never with the staff's memo. The rows add up from the opening balance to
the closing one, which is the amount due, the stub and the scan line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.deposit_checks import held_on
from billing.models import CreditMemo, Invoice, InvoiceCharge
from billing.position import account_position
from core.money import format_cents
from core.text import only_digits
from ledger.models import GLAccount, GLCategory, JournalEntry, JournalLine
from notices import content
from notices.document import ActivityRow, NoticeDocument, NoticeKind, Summary
from notices.texts import TEXTS
from payments.models import Receipt, Refund


def _rows(session: Session, account: Account, start: date, end: date) -> list[tuple]:
    """Each ledger entry of the period on the account's receivables: (day, source, id,
    reversal?, net cents), in the order posted."""
    return session.execute(
        sa.select(
            JournalEntry.entry_date,
            JournalEntry.source_type,
            JournalEntry.source_id,
            JournalEntry.reverses_id.is_not(None),
            sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            JournalLine.account_id == account.id,
            GLAccount.category == GLCategory.RECEIVABLE,
            JournalEntry.entry_date >= start,
            JournalEntry.entry_date <= end,
        )
        .group_by(
            JournalEntry.id,
            JournalEntry.entry_date,
            JournalEntry.source_type,
            JournalEntry.source_id,
            JournalEntry.seq,
        )
        .order_by(JournalEntry.seq)
    ).all()


def _references(session: Session, rows: list[tuple]) -> dict[tuple[str, str], tuple[str, str]]:
    """What a resident knows each source by (a payment by its receipt, a credit by its bill),
    and the words for the resident the adjustment carries, if any."""
    ids = {
        source: [r[2] for r in rows if r[1] == source] for source in ("payment", "refund", "waiver")
    }
    memos = [r[2] for r in rows if r[1] == "credit_memo"]
    voided = [r[2] for r in rows if r[1] == "invoice" and r[3]]
    known: dict[tuple[str, str], tuple[str, str]] = {}
    for payment_id, number in session.execute(
        sa.select(Receipt.payment_id, Receipt.number).where(
            Receipt.payment_id.in_(_numbers(ids["payment"]))
        )
    ):
        known[("payment", str(payment_id))] = (number, "")
    for memo, invoice, words in session.execute(
        sa.select(CreditMemo.number, Invoice.number, CreditMemo.resident_text)
        .join(Invoice, Invoice.id == CreditMemo.invoice_id)
        .where(CreditMemo.number.in_(memos))
    ):
        known[("credit_memo", memo)] = (invoice, words or "")
    for refund_id, words in session.execute(
        sa.select(Refund.id, Refund.resident_text).where(Refund.id.in_(_numbers(ids["refund"])))
    ):
        known[("refund", str(refund_id))] = (str(refund_id), words or "")
    for charge_id, words in session.execute(
        sa.select(InvoiceCharge.id, InvoiceCharge.waiver_text).where(
            InvoiceCharge.id.in_(_numbers(ids["waiver"]))
        )
    ):
        known[("waiver", str(charge_id))] = (str(charge_id), words or "")
    for number, words in session.execute(
        sa.select(Invoice.number, Invoice.void_text).where(Invoice.number.in_(voided))
    ):
        known[("void", number)] = (number, words or "")
    return known


def _numbers(ids: list[str | None]) -> list[int]:
    """The numeric source ids among those given."""
    return [int(i) for i in ids if only_digits(i or "")]


def describe(texts: Mapping, source: str, reference: str, reversal: bool) -> str:
    """A ledger entry in words for residents."""
    if source == "invoice" and reversal:
        return texts["activity.invoice_void"].format(ref=reference)
    if source == "discount" and reversal:
        return texts["activity.discount_reversed"].format(ref=reference)
    key = f"activity.{source}"
    return (texts[key] if key in texts else texts["activity.other"]).format(ref=reference)


def statement(
    session: Session, config: Mapping, account: Account, start: date, end: date
) -> NoticeDocument:
    """An account statement: the opening balance, every bill, payment and credit, the closing
    balance, for all that the account owes."""
    texts = TEXTS[account.language.value]
    opening = account_position(session, account.id, start - timedelta(days=1))
    closing = account_position(session, account.id, end)
    rows = _rows(session, account, start, end)
    known = _references(session, rows)
    balance, activity = opening.owed_cents(), []
    penalties = charges = credits = 0
    for day, source, source_id, reversal, cents in rows:
        cents = int(cents)
        if not cents:
            continue
        balance += cents
        key = ("void" if source == "invoice" and reversal else source, source_id or "")
        reference, words = known.get(key, (source_id or "", ""))
        text = describe(texts, source, reference, reversal)
        activity.append(ActivityRow(day, f"{text}: {words}" if words else text, cents, balance))
        if cents < 0:
            credits -= cents
        elif source == "penalty":
            penalties += cents
        else:
            charges += cents
    total = closing.owed_cents()
    dues = [c.due_date for c in closing.classes if c.owed_cents > 0 and c.due_date]
    due = content.pay_by(config, min(dues), end) if dues else None
    stubs = (content.stub(config, account, total, due),) if total > 0 and due else ()
    return NoticeDocument(
        kind=NoticeKind.STATEMENT,
        language=account.language.value,
        letterhead=content.letterhead(config),
        recipient=content.recipient(account),
        account_number=account.number,
        access_code=content.access_code(config, account),
        issue_date=end,
        reference=f"{start:%Y-%m-%d} – {end:%Y-%m-%d}",
        period_start=start,
        period_end=end,
        due_date=due,
        activity=tuple(activity),
        summary=Summary(
            previous_balance_cents=opening.owed_cents(),
            payments_and_credits_cents=credits,
            penalties_cents=penalties,
            current_charges_cents=charges,
            total_due_cents=total,
        ),
        stubs=stubs,
        balance_after_cents=total,
        messages=deposit_messages(session, account, end),
    )


def deposit_messages(session: Session, account: Account, day: date) -> tuple[str, ...]:
    """ "Deposit held: $X since <date>" for each deposit held at the end of the day; shown
    beside the balance, never as an amount owed or paid."""
    language = account.language.value
    texts = TEXTS[language]
    return tuple(
        texts["deposit.held"].format(
            amount=format_cents(cents), date=content.numeric_date(since, language)
        )
        for since, cents in held_on(session, account.id, day)
    )
