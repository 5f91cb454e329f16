"""The bank reconciliation as of a statement date: the bank's balance against the books'.

    bank balance (the statement's closing ledger balance)
  + deposits in transit (1050: made on or before the date, not at the bank by then)
  + receipts in the books not on a statement (payouts, deposits marked at the bank by hand)
  - outstanding debits (credits to 1000 in the books not on a statement)
  - unmatched statement lines (credited or debited by the bank, not in the books)
  = adjusted bank balance
    book balance = GL 1000 Bank + GL 1050 Deposits in transit as of the date
    difference = adjusted bank balance - book balance (zero when reconciled)

Book items dated before the account's first imported statement are taken as part of that
statement's opening balance (docs/bank-statements.md, "The reconciliation").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import chart
from ledger.balances import gl_balance
from ledger.models import GLAccount, JournalEntry, JournalLine
from payments.models import BankDeposit
from payments.statement_models import BankStatement, BankStatementLine, LineStatus


class NoStatement(LookupError):
    """No statement was imported on or before the date asked for."""


@dataclass(frozen=True)
class ReconItem:
    """One reconciling item: what it is, its date and amount (signed as it moves the bank side)."""

    label: str
    on: date
    cents: int


@dataclass(frozen=True)
class Reconciliation:
    """The reconciliation's figures and the items behind them, as plain values."""

    as_of: date
    bank_account: str
    statement_id: int
    statement_date: date
    bank_cents: int
    in_transit: tuple[ReconItem, ...]
    receipts: tuple[ReconItem, ...]
    outstanding: tuple[ReconItem, ...]
    unmatched: tuple[ReconItem, ...]
    book_bank_cents: int
    book_in_transit_cents: int

    @property
    def in_transit_cents(self) -> int:
        """Deposits in transit, in cents."""
        return sum(item.cents for item in self.in_transit)

    @property
    def receipts_cents(self) -> int:
        """Receipts in the books not yet on a statement."""
        return sum(item.cents for item in self.receipts)

    @property
    def outstanding_cents(self) -> int:
        """Debits in the books not yet on a statement (a positive figure, subtracted)."""
        return sum(item.cents for item in self.outstanding)

    @property
    def unmatched_cents(self) -> int:
        """Statement lines not in the books, signed as the bank moved them (subtracted)."""
        return sum(item.cents for item in self.unmatched)

    @property
    def adjusted_bank_cents(self) -> int:
        """The bank's balance brought to what the books should say."""
        return (
            self.bank_cents
            + self.in_transit_cents
            + self.receipts_cents
            - self.outstanding_cents
            - self.unmatched_cents
        )

    @property
    def book_cents(self) -> int:
        """The books' balance: 1000 Bank and 1050 Deposits in transit."""
        return self.book_bank_cents + self.book_in_transit_cents

    @property
    def difference_cents(self) -> int:
        """Adjusted bank less books: zero when the bank is reconciled."""
        return self.adjusted_bank_cents - self.book_cents


def reconcile(session: Session, as_of: date, bank_account: str | None = None) -> Reconciliation:
    """The reconciliation of the newest statement on or before as_of (of the account)."""
    query = sa.select(BankStatement).where(BankStatement.statement_date <= as_of)
    if bank_account:
        query = query.where(BankStatement.bank_account == bank_account)
    statement = session.scalar(
        query.order_by(BankStatement.statement_date.desc(), BankStatement.id.desc()).limit(1)
    )
    if statement is None:
        raise NoStatement(f"no bank statement was imported for {as_of} or before")
    account = statement.bank_account
    statements = sa.select(BankStatement.id).where(
        BankStatement.bank_account == account, BankStatement.statement_date <= as_of
    )
    first = session.scalar(
        sa.select(sa.func.min(BankStatement.statement_date)).where(
            BankStatement.bank_account == account
        )
    )
    lines = session.execute(
        sa.select(BankStatementLine).where(BankStatementLine.statement_id.in_(statements))
    ).scalars()
    seen, unmatched = set(), []
    for line in lines:
        if line.status == LineStatus.QUEUED:
            unmatched.append(
                ReconItem(
                    f"Statement line {line.statement_id}-{line.number} {line.type_code} "
                    f"{line.text or line.bank_reference}".strip(),
                    line.value_date,
                    line.amount_cents,
                )
            )
        else:
            seen.add((line.matched_kind.value, line.matched_ref))
    receipts, outstanding = _book_items_not_seen(session, as_of, first, seen)
    return Reconciliation(
        as_of=as_of,
        bank_account=account,
        statement_id=statement.id,
        statement_date=statement.statement_date,
        bank_cents=statement.closing_ledger_cents,
        in_transit=_in_transit(session, as_of),
        receipts=tuple(receipts),
        outstanding=tuple(outstanding),
        unmatched=tuple(sorted(unmatched, key=lambda item: (item.on, item.label))),
        book_bank_cents=gl_balance(session, chart.BANK, as_of),
        book_in_transit_cents=gl_balance(session, chart.DEPOSITS_IN_TRANSIT, as_of),
    )


def _in_transit(session: Session, as_of: date) -> tuple[ReconItem, ...]:
    """Deposits made on or before the date that had not reached the bank by then."""
    rows = session.execute(
        sa.select(BankDeposit.number, BankDeposit.made_on, BankDeposit.amount_cents)
        .where(
            BankDeposit.made_on <= as_of,
            sa.or_(BankDeposit.reached_bank_on.is_(None), BankDeposit.reached_bank_on > as_of),
        )
        .order_by(BankDeposit.made_on, BankDeposit.number)
    ).all()
    return tuple(ReconItem(f"Deposit {n}", on, cents) for n, on, cents in rows)


def _book_items_not_seen(session, as_of: date, first: date, seen: set) -> tuple[list, list]:
    """Movements of 1000 in the books (by source document) that no statement line matched."""
    rows = session.execute(
        sa.select(
            JournalEntry.source_type,
            JournalEntry.source_id,
            sa.func.min(JournalEntry.entry_date),
            sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            GLAccount.code == chart.BANK,
            JournalEntry.entry_date <= as_of,
            JournalEntry.entry_date >= first,
        )
        .group_by(JournalEntry.source_type, JournalEntry.source_id)
    ).all()
    net: dict[tuple[str, str], tuple[date, int]] = defaultdict(lambda: (as_of, 0))
    for source_type, source_id, on, cents in rows:
        net[(source_type, source_id)] = (on, int(cents))
    receipts, outstanding = [], []
    for (source_type, source_id), (on, cents) in sorted(net.items(), key=lambda kv: kv[1][0]):
        if (source_type, source_id) in seen or cents == 0:
            continue
        label = f"{source_type.replace('_', ' ').capitalize()} {source_id}"
        if cents > 0:
            receipts.append(ReconItem(label, on, cents))
        else:
            outstanding.append(ReconItem(label, on, -cents))
    return receipts, outstanding


@dataclass(frozen=True)
class ReportLine:
    """One printed line: words on the left, an amount on the right (None for a heading)."""

    words: str
    cents: int | None = None
    bold: bool = False
    indent: bool = False


def _items(title: str, items: tuple[ReconItem, ...], total: int, sign: str) -> list[ReportLine]:
    lines = [ReportLine(f"{sign} {title} ({len(items)})", total, bold=True)]
    lines += [
        ReportLine(f"{item.on:%Y-%m-%d}  {item.label}", item.cents, indent=True) for item in items
    ]
    return lines


def reconciliation_lines(rec: Reconciliation) -> list[ReportLine]:
    """The reconciliation, line by line: the bank side, the book side, the difference."""
    return [
        ReportLine(
            f"Bank balance per statement of {rec.statement_date:%Y-%m-%d}", rec.bank_cents, True
        ),
        *_items("Deposits in transit", rec.in_transit, rec.in_transit_cents, "+"),
        *_items("Receipts in the books not on a statement", rec.receipts, rec.receipts_cents, "+"),
        *_items("Outstanding debits", rec.outstanding, rec.outstanding_cents, "-"),
        *_items("Unmatched statement lines", rec.unmatched, rec.unmatched_cents, "-"),
        ReportLine("Adjusted bank balance", rec.adjusted_bank_cents, True),
        ReportLine("GL 1000 Bank", rec.book_bank_cents, indent=True),
        ReportLine("GL 1050 Deposits in transit", rec.book_in_transit_cents, indent=True),
        ReportLine("Book balance", rec.book_cents, True),
        ReportLine("Difference", rec.difference_cents, True),
    ]
