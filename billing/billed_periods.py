"""Which days each account's next utility bill covers, and the guard that never bills a day twice.

An account's live (not void) utility invoices cover a run of days without gap or overlap.
A run of a cycle's period S..E bills each of its accounts from the day after the account's
last billed day (or from S, for an account never billed) to E:

- last billed day on or after E: nothing; the account is counted as already billed;
- last billed day inside the period (it moved from another cycle, or was billed part of
  it): the remaining days, a partial period;
- last billed day before S (it moved from a cycle whose runs stopped earlier): from the day
  after it, a catch-up bill, named in the run's exceptions; more than a year behind, the
  account is held for a clerk instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.computed import BilledPeriod
from billing.models import Invoice, InvoiceKind, InvoiceStatus

#: A catch-up bill reaching further back than this is held for a clerk.
CATCH_UP_LIMIT = timedelta(days=366)
#: The first key of the accounts' billing locks (pg_advisory_xact_lock(key, account id)).
LOCK_SPACE = 0x6D62


class OverlapRefused(RuntimeError):
    """A bill would cover a day already billed; nothing of the batch was written."""


@dataclass(frozen=True)
class Decision:
    """What a run does with one account: bill these days, skip it, or hold it."""

    period: BilledPeriod | None
    #: "already_billed", "catch_up" (billed, named), "billing_gap" (held) or "".
    note: str = ""
    text: str = ""


def last_billed(session: Session, account_ids: list[int]) -> dict[int, date]:
    """The last day each account's live utility invoices cover (accounts never billed: absent)."""
    if not account_ids:
        return {}
    return dict(
        session.execute(
            sa.select(Invoice.account_id, sa.func.max(Invoice.period_end))
            .where(
                Invoice.account_id.in_(account_ids),
                Invoice.kind == InvoiceKind.UTILITY,
                Invoice.status != InvoiceStatus.VOID,
            )
            .group_by(Invoice.account_id)
        ).all()
    )


def decide(last: date | None, start: date, end: date, months: int) -> Decision:
    """The days one account is billed in the regular period start..end, given its last billed day."""
    if last is None:
        return Decision(BilledPeriod(start, end, start, end, months))
    if last >= end:
        return Decision(None, "already_billed", f"billed through {last}")
    first = last + timedelta(days=1)
    period = BilledPeriod(first, end, start, end, months)
    if first >= start:
        return Decision(period)
    if start - first > CATCH_UP_LIMIT:
        return Decision(
            None,
            "billing_gap",
            f"last billed through {last}; the days up to {start} need a clerk's decision",
        )
    return Decision(period, "catch_up", f"billed from {first}: last billed through {last}")


def _lock_accounts(session: Session, account_ids: list[int]) -> None:
    """Hold each account's billing lock until the transaction ends.

    NOTE: why a lock and not a constraint: two runs of different cycles can bill one account
    for periods that overlap without being equal, which no unique index sees; an exclusion
    constraint on a date range needs the btree_gist extension, which a town's database may
    not be allowed to install. On PostgreSQL a transaction-scoped advisory lock per account,
    taken in id order (so two runs never wait on each other in a circle), makes the overlap
    check and the insert one step: a second run waits until the first commits, then sees its
    invoices. SQLite has one writer at a time: a write that changes nothing takes that lock
    (waiting up to the busy timeout) before the check, so the check sees every commit made
    before it and none can come between it and the insert.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("UPDATE billing_cycle SET active = active WHERE 1 = 0"))
        return
    session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(:space, CAST(id % 2147483648 AS integer)) "
            "FROM (SELECT DISTINCT unnest(CAST(:ids AS bigint[])) AS id ORDER BY id) AS accounts"
        ),
        {"space": LOCK_SPACE, "ids": sorted(set(account_ids))},
    ).all()


def claim(session: Session, periods: dict[int, tuple[date, date]]) -> set[int]:
    """Lock the accounts and return those whose days overlap a live utility invoice now.

    Called in the transaction that writes their invoices, after the accounts' locks are
    held, so what it answers stays true until that transaction commits.
    """
    if not periods:
        return set()
    _lock_accounts(session, list(periods))
    rows = session.execute(
        sa.select(Invoice.account_id, Invoice.period_start, Invoice.period_end).where(
            Invoice.account_id.in_(list(periods)),
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.period_end >= min(start for start, _end in periods.values()),
        )
    ).all()
    return {
        account_id
        for account_id, start, end in rows
        if start <= periods[account_id][1] and periods[account_id][0] <= end
    }
