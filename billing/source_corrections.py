"""Correcting credit memo entries that were posted under the wrong name (docs/ledger.md).

Until the fix, issue_credit_memo posted its entry as credit memo "0" (or, on a tax
bill, as an installment number): the settlement loop had reused the name of the
memo's number. Journal rows are append-only and hash-chained, so such an entry is
never edited: it is reversed (ledger.posting.reverse_entry) and its same lines are
posted again under the credit memo's number. The memo is found from the entry
itself: its date, the invoice its memo text names, and its amount.

This lives in billing, not ledger, because it reads CreditMemo and Invoice rows;
the ledger imports only core.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from billing.models import CreditMemo, Invoice
from core.audit import Actor, record
from core.money import format_cents
from ledger.chart import gl_codes
from ledger.models import JournalEntry
from ledger.posting import Posting, post_entry, reverse_entry

#: The memo text issue_credit_memo writes: "Credit memo N on invoice I: reason".
MEMO_TEXT = re.compile(r"Credit memo .*? on invoice (?P<invoice>\S+): .*", re.S)


@dataclass(frozen=True)
class SourceCorrection:
    """One credit memo entry posted under the wrong name, and what it is (or was) corrected to."""

    entry_seq: int
    entry_date: date
    named: str | None
    amount_cents: int
    #: The credit memo it belongs to; None when no memo matches (it is then left as it is).
    memo_number: str | None
    invoice_number: str | None
    reversal_seq: int | None = None
    repost_seq: int | None = None

    def describe(self, dry_run: bool) -> str:
        """One line for the operator: the entry, and what was (or would be) done about it."""
        entry = (
            f"entry {self.entry_seq} ({self.entry_date.isoformat()}, credit memo {self.named}, "
            f"{format_cents(self.amount_cents)})"
        )
        if self.memo_number is None:
            return f"{entry}: no credit memo matches its date, invoice and amount; left as it is"
        if dry_run:
            return f"{entry}: would be reversed and posted again as {self.memo_number}"
        return (
            f"{entry}: reversed by entry {self.reversal_seq}, posted again as "
            f"{self.memo_number} in entry {self.repost_seq}"
        )


def _live_credit_memo_entries(session: Session) -> list[JournalEntry]:
    """Credit memo entries that are neither reversals nor reversed, in chain order."""
    reversal = aliased(JournalEntry)
    return list(
        session.scalars(
            sa.select(JournalEntry)
            .where(
                JournalEntry.source_type == "credit_memo",
                JournalEntry.reverses_id.is_(None),
                ~sa.exists().where(reversal.reverses_id == JournalEntry.id),
            )
            .order_by(JournalEntry.seq)
        )
    )


def _names_its_memo(entry: JournalEntry, numbers: set[str]) -> bool:
    """The entry's source id is a credit memo's number and its memo text says so."""
    return entry.source_id in numbers and entry.memo.startswith(
        f"Credit memo {entry.source_id} on invoice "
    )


def _find(session: Session) -> list[tuple[JournalEntry, CreditMemo | None, str | None]]:
    """Each misnamed entry with the credit memo it belongs to (or None) and that memo's invoice."""
    memos = session.execute(
        sa.select(CreditMemo, Invoice.number)
        .join(Invoice, Invoice.id == CreditMemo.invoice_id)
        .order_by(CreditMemo.id)
    ).all()
    numbers = {memo.number for memo, _invoice in memos}
    entries = _live_credit_memo_entries(session)
    named = {entry.source_id for entry in entries if _names_its_memo(entry, numbers)}
    free = [(memo, invoice) for memo, invoice in memos if memo.number not in named]
    found = []
    for entry in entries:
        if _names_its_memo(entry, numbers):
            continue
        text = MEMO_TEXT.fullmatch(entry.memo or "")
        amount = sum(line.credit_cents for line in entry.lines)
        match = next(
            (
                (memo, invoice)
                for memo, invoice in free
                if text is not None
                and invoice == text["invoice"]
                and memo.issued_on == entry.entry_date
                and memo.amount_cents == amount
            ),
            None,
        )
        if match is not None:
            free.remove(match)
        found.append((entry, *(match or (None, None))))
    return found


def _plan(entry: JournalEntry, memo: CreditMemo | None, invoice: str | None) -> SourceCorrection:
    """What is known of one misnamed entry before it is corrected."""
    return SourceCorrection(
        entry_seq=entry.seq,
        entry_date=entry.entry_date,
        named=entry.source_id,
        amount_cents=sum(line.credit_cents for line in entry.lines),
        memo_number=memo.number if memo else None,
        invoice_number=invoice,
    )


def correct_credit_memo_sources(
    session: Session, actor: Actor, *, on: date, dry_run: bool = False
) -> list[SourceCorrection]:
    """Reverse each misnamed credit memo entry and post its lines again under the memo's number.

    Returns every misnamed entry found; with dry_run nothing is posted. Entries
    already corrected are reversed, so a second run finds nothing. Flushes, never commits.
    """
    codes = gl_codes(session)
    done = []
    for entry, memo, invoice in _find(session):
        plan = _plan(entry, memo, invoice)
        if dry_run or memo is None:
            done.append(plan)
            continue
        reversal = reverse_entry(
            session,
            entry,
            actor=actor,
            entry_date=on,
            memo=f"Correction of entry {entry.seq}: it named credit memo {entry.source_id}, "
            f"not {memo.number}; posted again under that number",
        )
        repost = post_entry(
            session,
            [
                Posting(
                    codes[line.gl_account_id], line.debit_cents, line.credit_cents, line.account_id
                )
                for line in entry.lines
            ],
            entry_date=on,
            source_type="credit_memo",
            source_id=memo.number,
            actor=actor,
            memo=f"Credit memo {memo.number} on invoice {invoice} (posted again under its "
            f"number; corrects entry {entry.seq}): {memo.reason}"[:500],
        )
        record(
            session,
            actor,
            "credit_memo.correct_entry",
            memo,
            entry_seq=entry.seq,
            named=entry.source_id,
            reversal_seq=reversal.seq,
            repost_seq=repost.seq,
        )
        done.append(replace(plan, reversal_seq=reversal.seq, repost_seq=repost.seq))
    return done
