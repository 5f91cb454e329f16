"""What the deposit rules say about an account, and the deposits it holds.

Loading the rules (a versioned document, docs/deposits.md), counting an account's late
payments, the deposit an account must pay, the deposits whose good payment history has
earned their refund; the tie-out (register total = deposits-held GL balance) is the ledger's
(ledger/deposit_register.py), re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.deposit_rules import (
    DepositRule,
    DepositRules,
    deposit_amount,
    parse_deposit_rules,
    reasons_required,
    rules_to_document,
)
from billing.models import (
    Deposit,
    DepositMovement,
    DepositRuleSet,
    DepositStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    MovementKind,
    Settlement,
)
from billing.receivables import signed_amount
from core.audit import Actor, record


def load_deposit_rules(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> DepositRuleSet:
    """Store a new version of the deposit rules (validated in full); the newest applies.

    `warnings` is taken for the loaders' common signature: deposit rules hold no resident texts.
    """
    canonical = rules_to_document(parse_deposit_rules(document))
    row = DepositRuleSet(document=canonical, loaded_by=actor.label)
    session.add(row)
    session.flush()
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:16]
    record(
        session,
        actor,
        "deposit_rules.load",
        object_type="DepositRuleSet",
        object_id=row.version,
        after={"document": digest, "versions": len(canonical["versions"])},
    )
    return row


def current_deposit_rules(session: Session) -> DepositRules | None:
    """The newest deposit rules loaded, or None."""
    row = session.scalar(sa.select(DepositRuleSet).order_by(DepositRuleSet.version.desc()).limit(1))
    return None if row is None else parse_deposit_rules(row.document)


def deposit_rule_on(session: Session, day: date) -> DepositRule | None:
    """The version of the newest rules in force on a day, or None."""
    rules = current_deposit_rules(session)
    return None if rules is None else rules.on(day)


def months_before(day: date, months: int) -> date:
    """The same day `months` months earlier (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _late_conditions(as_of: date, months: int) -> list:
    """A utility bill due within the last `months` months (before as_of) and not settled in
    full by its due date: one late payment."""
    since = months_before(as_of, months)
    settled_by_due = (
        sa.select(sa.func.coalesce(sa.func.sum(signed_amount()), 0))
        .where(
            Settlement.invoice_id == Invoice.id,
            Settlement.charge_id.is_(None),
            Settlement.settled_on <= Invoice.due_date,
        )
        .scalar_subquery()
    )
    return [
        Invoice.kind == InvoiceKind.UTILITY,
        Invoice.status != InvoiceStatus.VOID,
        Invoice.due_date > since,
        Invoice.due_date < as_of,
        Invoice.total_cents > settled_by_due,
    ]


def late_payments(session: Session, account_id: int, as_of: date, months: int) -> int:
    """Bills due within the last `months` months (before as_of) not settled in full by their
    due date: each is one late payment."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Invoice)
            .where(Invoice.account_id == account_id, *_late_conditions(as_of, months))
        )
    )


def late_counts(as_of: date, months: int) -> sa.Select:
    """Every account's late payments within the last `months` months: (account_id, late)."""
    return (
        sa.select(Invoice.account_id, sa.func.count().label("late"))
        .where(*_late_conditions(as_of, months))
        .group_by(Invoice.account_id)
    )


def service_cents() -> sa.ColumnElement:
    """A bill's total less the deposits it billed: what it charged for service."""
    deposits = (
        sa.select(sa.func.coalesce(sa.func.sum(InvoiceLine.amount_cents), 0))
        .where(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.source.like("deposit%"))
        .scalar_subquery()
    )
    return Invoice.total_cents - deposits


def bills_averaged(rule: DepositRule) -> int:
    """How many last bills the rule's amount reads (a fixed amount reads none)."""
    return rule.average.bills if rule.average else 0


def last_bills(
    session: Session, account_ids: sa.Select, as_of: date, count: int
) -> dict[int, list[int]]:
    """The service cents of the last `count` utility bills (newest first) of the accounts
    selected (one query)."""
    if count <= 0:
        return {}
    cents = service_cents().label("cents")
    ranked = (
        sa.select(
            Invoice.account_id,
            cents,
            sa.func.row_number()
            .over(
                partition_by=Invoice.account_id,
                order_by=(Invoice.issue_date.desc(), Invoice.id.desc()),
            )
            .label("place"),
        )
        .where(
            Invoice.account_id.in_(account_ids.scalar_subquery()),
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.issue_date <= as_of,
            # NOTE: a bill of a deposit alone is not a bill for service: it sizes no deposit.
            service_cents() > 0,
        )
        .subquery()
    )
    bills: dict[int, list[int]] = {}
    rows = session.execute(
        sa.select(ranked.c.account_id, ranked.c.cents)
        .where(ranked.c.place <= count)
        .order_by(ranked.c.account_id, ranked.c.place)
    )
    for account_id, amount in rows:
        bills.setdefault(account_id, []).append(int(amount))
    return bills


@dataclass(frozen=True)
class Requirement:
    """What the rules ask of an account: why a deposit is due, how much, and when collected."""

    reasons: tuple[str, ...]
    amount_cents: int
    collect: str

    @property
    def required(self) -> bool:
        """True when the account must pay a deposit."""
        return bool(self.reasons)


def deposit_requirement(
    session: Session, account_id: int, as_of: date, rounding: str
) -> Requirement | None:
    """The deposit the rules in force ask of an account (less what it already holds), or None
    when no rules are loaded."""
    rule = deposit_rule_on(session, as_of)
    account = session.get(Account, account_id)
    if rule is None or account is None:
        return None
    late = late_payments(session, account_id, as_of, rule.late.months) if rule.late else 0
    reasons = reasons_required(rule, flags=account.flags or [], late_payments=late)
    one = sa.select(sa.literal(account_id))
    bills = last_bills(session, one, as_of, bills_averaged(rule)).get(account_id, [])
    held = held_cents(session, account_id)
    amount = max(deposit_amount(rule, bills, rounding) - held, 0) if reasons else 0
    return Requirement(reasons if amount else (), amount, rule.collect)


def held_cents(session: Session, account_id: int) -> int:
    """What the town holds in deposits for an account."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Deposit.held_cents), 0)).where(
                Deposit.account_id == account_id, Deposit.status == DepositStatus.HELD
            )
        )
    )


def due_for_refund(session: Session, as_of: date) -> list[Deposit]:
    """Held deposits whose rule's months of good payment history have passed with no late
    payment in them (the rule in force on as_of decides), oldest first."""
    rule = deposit_rule_on(session, as_of)
    if rule is None:
        return []
    months = rule.refund_after_months
    deposits = session.scalars(
        sa.select(Deposit)
        .where(
            Deposit.status == DepositStatus.HELD,
            Deposit.held_since <= months_before(as_of, months),
        )
        .order_by(Deposit.held_since, Deposit.id)
    ).all()
    return [d for d in deposits if late_payments(session, d.account_id, as_of, months) == 0]


def held_on(session: Session, account_id: int, day: date) -> list[tuple[date, int]]:
    """An account's deposits held at the end of a day: (held since, cents with interest),
    from the register's movements up to that day, oldest first."""
    signed = sa.case(
        (
            DepositMovement.kind.in_([MovementKind.HELD, MovementKind.INTEREST]),
            DepositMovement.amount_cents,
        ),
        else_=-DepositMovement.amount_cents,
    )
    rows = session.execute(
        sa.select(Deposit.held_since, sa.func.sum(signed))
        .join(DepositMovement, DepositMovement.deposit_id == Deposit.id)
        .where(Deposit.account_id == account_id, DepositMovement.moved_on <= day)
        .group_by(Deposit.id, Deposit.held_since)
        .order_by(Deposit.held_since, Deposit.id)
    ).all()
    return [(since, int(cents)) for since, cents in rows if cents]
