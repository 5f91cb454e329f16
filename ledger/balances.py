"""Balances read from the journal: GL accounts and the trial balance from its period balances
(ledger/day_balances.py), each billing account's receivable and credit from its lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import among
from ledger.day_balances import sums_as_of
from ledger.models import GLAccount, GLCategory, GLDayBalance, GLType, JournalEntry, JournalLine
from ledger.posting import LedgerError


def _signed(gl_type: GLType, debits: int, credits: int) -> int:
    """A balance in the account's normal direction."""
    return debits - credits if gl_type.debit_normal else credits - debits


def _sums(as_of: date | None):
    """SUM(debit), SUM(credit) over journal lines up to as_of."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(JournalLine.debit_cents), 0),
        sa.func.coalesce(sa.func.sum(JournalLine.credit_cents), 0),
    ).join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
    if as_of is not None:
        query = query.where(JournalEntry.entry_date <= as_of)
    return query


def gl_balance(session: Session, code: str, as_of: date | None = None) -> int:
    """The balance of one GL account in its normal direction, in cents (its day rows summed)."""
    gl = session.scalar(sa.select(GLAccount).where(GLAccount.code == code))
    if gl is None:
        raise LedgerError(f"GL account {code} does not exist")
    days = GLDayBalance.__table__
    row = session.execute(sums_as_of(as_of).where(days.c.gl_account_id == gl.id)).one_or_none()
    return _signed(gl.type, int(row.debits), int(row.credits)) if row else 0


def _account_balance(
    session: Session, account_id: int, category: GLCategory, as_of: date | None
) -> int:
    """Net debits minus credits on one billing account's lines of one GL category."""
    query = (
        _sums(as_of)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalLine.account_id == account_id, GLAccount.category == category)
    )
    debits, credits = session.execute(query).one()
    return int(debits) - int(credits)


def account_receivable(session: Session, account_id: int, as_of: date | None = None) -> int:
    """What a billing account owes according to the ledger, in cents."""
    return _account_balance(session, account_id, GLCategory.RECEIVABLE, as_of)


def accounts_receivable(session: Session, account_ids: Iterable[int]) -> dict[int, int]:
    """What each of several billing accounts owes according to the ledger (one query)."""
    wanted = set(account_ids)
    owed = dict.fromkeys(wanted, 0)
    if not wanted:
        return owed
    rows = session.execute(
        sa.select(
            sa.func.sum(JournalLine.debit_cents),
            sa.func.sum(JournalLine.credit_cents),
            JournalLine.account_id,
        )
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            among(session, JournalLine.account_id, wanted),
            GLAccount.category == GLCategory.RECEIVABLE,
        )
        .group_by(JournalLine.account_id)
    ).all()
    for debits, credits, account_id in rows:
        owed[account_id] = int(debits) - int(credits)
    return owed


_POSITION = (
    sa.select(
        GLAccount.category,
        sa.func.coalesce(sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents), 0),
    )
    .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
    .where(
        JournalLine.account_id == sa.bindparam("account_id"),
        GLAccount.category.in_([GLCategory.RECEIVABLE, GLCategory.UNAPPLIED_CREDIT]),
    )
    .group_by(GLAccount.category)
)


def account_position(session: Session, account_id: int) -> tuple[int, int]:
    """What a billing account owes and the credit held for it, now, in one query (cents)."""
    net = dict(session.execute(_POSITION, {"account_id": account_id}).all())
    return (
        int(net.get(GLCategory.RECEIVABLE, 0)),
        -int(net.get(GLCategory.UNAPPLIED_CREDIT, 0)),
    )


def account_credit(session: Session, account_id: int, as_of: date | None = None) -> int:
    """Unapplied credit the municipality holds for a billing account, in cents."""
    return -_account_balance(session, account_id, GLCategory.UNAPPLIED_CREDIT, as_of)


def _by_account_and_gl(
    session: Session, account_ids: Iterable[int], category: GLCategory, as_of: date | None
) -> dict[int, dict[str, int]]:
    """Net debits less credits of billing accounts' lines of one category, by GL code."""
    wanted = set(account_ids)
    found: dict[int, dict[str, int]] = {account_id: {} for account_id in wanted}
    if not wanted:
        return found
    query = (
        sa.select(
            JournalLine.account_id,
            GLAccount.code,
            sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalLine.account_id.in_(wanted), GLAccount.category == category)
        .group_by(JournalLine.account_id, GLAccount.code)
    )
    if as_of is not None:
        query = query.where(JournalEntry.entry_date <= as_of)
    for account_id, code, cents in session.execute(query):
        found[account_id][code] = int(cents)
    return found


def receivables_by_gl(
    session: Session, account_ids: Iterable[int], as_of: date | None = None
) -> dict[int, dict[str, int]]:
    """What billing accounts owe according to the ledger, by receivable GL code, as of a date."""
    return _by_account_and_gl(session, account_ids, GLCategory.RECEIVABLE, as_of)


def accounts_credit(
    session: Session, account_ids: Iterable[int], as_of: date | None = None
) -> dict[int, int]:
    """Unapplied credit the town holds for each of several billing accounts, as of a date."""
    return {
        account_id: -sum(by_gl.values())
        for account_id, by_gl in _by_account_and_gl(
            session, account_ids, GLCategory.UNAPPLIED_CREDIT, as_of
        ).items()
    }


@dataclass
class TrialBalanceRow:
    """One GL account's debit and credit totals and its net balance."""

    code: str
    name: str
    type: GLType
    debit_cents: int
    credit_cents: int

    @property
    def balance_cents(self) -> int:
        """Net balance in the account's normal direction."""
        return _signed(self.type, self.debit_cents, self.credit_cents)


@dataclass
class TrialBalance:
    """All GL accounts as of a date; total debits always equal total credits."""

    as_of: date | None
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit_cents(self) -> int:
        """Sum of debit totals."""
        return sum(r.debit_cents for r in self.rows)

    @property
    def total_credit_cents(self) -> int:
        """Sum of credit totals."""
        return sum(r.credit_cents for r in self.rows)


def trial_balance(session: Session, as_of: date | None = None) -> TrialBalance:
    """Debit and credit totals of every GL account with activity up to as_of.

    Read from the period balances (ledger/day_balances.py): one row per GL account and
    entry date, not every journal line.
    """
    sums = sums_as_of(as_of).subquery()
    rows = session.execute(
        sa.select(GLAccount.code, GLAccount.name, GLAccount.type, sums.c.debits, sums.c.credits)
        .join(sums, sums.c.gl_account_id == GLAccount.id)
        .order_by(GLAccount.code)
    ).all()
    return TrialBalance(
        as_of,
        [TrialBalanceRow(r.code, r.name, r.type, int(r.debits), int(r.credits)) for r in rows],
    )
