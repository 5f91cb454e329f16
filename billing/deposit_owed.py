"""Deposits the rules ask for and the town does not hold yet (docs/deposits.md).

- At a start of service (billing/service_orders.py), the rules in force on the start date are
  evaluated for the account that starts: an occupant who is not the owner is flagged renter.
- The daily job asks a deposit of every account that reached the late-payment trigger and
  holds or owes none (set-based: one query finds them, one reads their last bills).
- A deposit owed is settled by the bill that carries it (collect: first_bill,
  billing/deposit_billing.py), by a clerk who takes it (`hold_deposit`, any collect), or
  dropped when the account's service stops before either.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.locations import ServiceLocation, ServiceOrder
from accounts.models import Account, AccountStatus
from billing.deposit_checks import (
    bills_averaged,
    deposit_requirement,
    deposit_rule_on,
    last_bills,
    late_counts,
)
from billing.deposit_rules import RENTER_FLAG, deposit_amount
from billing.models import Deposit, DepositStatus, OwedDeposit, OwedStatus
from core.audit import Actor, record, record_many


def open_owed(session: Session, account_id: int) -> OwedDeposit | None:
    """The deposit an account owes now (collected neither by a bill nor at the counter)."""
    return session.scalar(
        sa.select(OwedDeposit).where(
            OwedDeposit.account_id == account_id, OwedDeposit.status == OwedStatus.OWED
        )
    )


def owed_for_order(session: Session, order_id: int) -> OwedDeposit | None:
    """The deposit a start (or transfer) asked for, whatever became of it."""
    return session.scalar(
        sa.select(OwedDeposit)
        .where(OwedDeposit.service_order_id == order_id)
        .order_by(OwedDeposit.id.desc())
        .limit(1)
    )


def owed_by_order(session: Session, order_ids: list[int]) -> dict[int, OwedDeposit]:
    """The deposits a page of orders asked for, by order (one query)."""
    if not order_ids:
        return {}
    rows = session.scalars(
        sa.select(OwedDeposit)
        .where(OwedDeposit.service_order_id.in_(order_ids))
        .order_by(OwedDeposit.id)
    )
    return {row.service_order_id: row for row in rows}


def ask_at_start(
    session: Session,
    actor: Actor,
    order: ServiceOrder,
    account: Account,
    location: ServiceLocation,
    rounding: str,
) -> OwedDeposit | None:
    """What the rules in force on the start date ask of the account that starts service.

    An occupant who is not the location's owner is flagged renter first (docs/accounts.md).
    Returns the deposit owed, or None when the rules ask for none (or none are loaded).
    """
    on = order.effective_on
    if account.id != location.owner_account_id and RENTER_FLAG not in (account.flags or []):
        account.flags = sorted({*(account.flags or []), RENTER_FLAG})
        record(session, actor, "account.flagged", account, flag=RENTER_FLAG, order=order.id)
        session.flush()
    requirement = deposit_requirement(session, account.id, on, rounding)
    if requirement is None or not requirement.required:
        return None
    if (owed := open_owed(session, account.id)) is not None:
        return owed  # NOTE: one deposit owed at a time: a second start asks nothing more.
    owed = OwedDeposit(
        account_id=account.id,
        amount_cents=requirement.amount_cents,
        reasons=",".join(requirement.reasons),
        collect=requirement.collect,
        owed_since=on,
        service_order_id=order.id,
        status=OwedStatus.OWED,
        recorded_by=actor.label,
    )
    session.add(owed)
    session.flush()
    record(
        session,
        actor,
        "deposit.owed",
        owed,
        account_id=account.id,
        amount_cents=owed.amount_cents,
        reasons=owed.reasons,
        collect=owed.collect,
        order=order.id,
    )
    return owed


def take_owed(session: Session, actor: Actor, deposit: Deposit) -> OwedDeposit | None:
    """A deposit a clerk took settles what the account owes (all of it, or that much of it)."""
    owed = open_owed(session, deposit.account_id)
    if owed is None:
        return None
    before = owed.amount_cents
    if deposit.amount_cents >= owed.amount_cents:
        owed.status, owed.closed_on = OwedStatus.TAKEN, deposit.held_since
        owed.deposit_id = deposit.id
    else:
        owed.amount_cents -= deposit.amount_cents
    session.flush()
    record(
        session,
        actor,
        "deposit.owed_taken",
        owed,
        deposit=deposit.id,
        before_cents=before,
        still_owed_cents=0 if owed.status == OwedStatus.TAKEN else owed.amount_cents,
    )
    return owed


def drop_owed(session: Session, actor: Actor, account_id: int, on: date, reason: str) -> int:
    """Drop what a finaled account still owes in deposits; returns the cents dropped."""
    owed = open_owed(session, account_id)
    if owed is None:
        return 0
    owed.status, owed.closed_on = OwedStatus.DROPPED, on
    session.flush()
    record(session, actor, "deposit.owed_dropped", owed, cents=owed.amount_cents, reason=reason)
    return owed.amount_cents


def ask_after_late_payments(session: Session, actor: Actor, as_of: date, rounding: str) -> dict:
    """Ask a deposit of every active account that reached the rules' late-payment trigger and
    holds or owes none; once (an account owing one is not asked again). Returns the counts."""
    rule = deposit_rule_on(session, as_of)
    if rule is None or rule.late is None:
        return {"accounts": 0, "cents": 0}
    late = late_counts(as_of, rule.late.months).having(sa.func.count() >= rule.late.count)
    late = late.subquery()
    found = (
        sa.select(late.c.account_id, late.c.late)
        .join(Account, Account.id == late.c.account_id)
        .where(
            Account.status == AccountStatus.ACTIVE,
            ~sa.exists().where(
                Deposit.account_id == late.c.account_id, Deposit.status == DepositStatus.HELD
            ),
            ~sa.exists().where(
                OwedDeposit.account_id == late.c.account_id,
                OwedDeposit.status == OwedStatus.OWED,
            ),
        )
        .order_by(late.c.account_id)
    )
    accounts = dict(session.execute(found).all())
    if not accounts:
        return {"accounts": 0, "cents": 0}
    ids = found.with_only_columns(late.c.account_id)
    bills = last_bills(session, ids, as_of, bills_averaged(rule))
    rows = [
        OwedDeposit(
            account_id=account_id,
            amount_cents=deposit_amount(rule, bills.get(account_id, []), rounding),
            reasons="late_payments",
            collect=rule.collect,
            owed_since=as_of,
            status=OwedStatus.OWED,
            recorded_by=actor.label,
        )
        for account_id in accounts
    ]
    rows = [row for row in rows if row.amount_cents > 0]
    if not rows:
        return {"accounts": 0, "cents": 0}
    session.add_all(rows)
    session.flush()
    record_many(
        session,
        actor,
        "deposit.owed",
        "OwedDeposit",
        {
            row.id: {
                "account_id": row.account_id,
                "amount_cents": row.amount_cents,
                "reasons": row.reasons,
                "collect": row.collect,
                "late_payments": accounts[row.account_id],
            }
            for row in rows
        },
    )
    return {"accounts": len(rows), "cents": sum(row.amount_cents for row in rows)}
