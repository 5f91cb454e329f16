"""Deposits: held in the register as a liability, credited with interest, applied to a final
bill, refunded as account credit or by check request (card refunds: payments/deposit_refunds.py).

Every change of a deposit posts one balanced journal entry in the caller's transaction and
appends one DepositMovement, so the register's total always equals the balance of the
deposits-held GL account (billing/deposit_checks.py states it; docs/deposits.md).

    held       Dr offset (cash drawer, conversion clearing, ...)   Cr 2020 Deposits held
    interest   Dr 5200 Interest on deposits                        Cr 2020 Deposits held
    applied    Dr 2020 Deposits held                                Cr the invoice's receivables
    refunded   Dr 2020 Deposits held                                Cr 2000 (credit) / 2010 (check)

NOTE: a deposit is never revenue and never a payment: the account's position (billing/
position.py) counts only what was applied to a bill, as credit on that bill.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.deposit_checks import deposit_rule_on
from billing.deposit_owed import take_owed
from billing.deposit_rules import DepositRule, interest_cents
from billing.invoices import refresh_status
from billing.models import (
    Deposit,
    DepositMovement,
    DepositStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    MovementKind,
    Settlement,
    SettlementKind,
)
from billing.receivables import fill, outstanding_by_receivable
from core.audit import Actor, record
from core.money import DEFAULT_ROUNDING
from ledger import chart
from ledger.chart import gl_codes
from ledger.models import GLAccount
from ledger.posting import Posting, post_entry

#: Where a deposit may come from (Deposit.source).
SOURCES = ("counter", "card", "conversion", "first_bill", "transfer")
#: How a refund leaves the register: the GL account credited, by method.
REFUND_GL = {
    "credit": chart.UNAPPLIED_CREDITS,
    "check": chart.REFUNDS_PAYABLE,
    "card": chart.STRIPE_CLEARING,
}
#: What each method is called in the ledger's memo.
REFUND_WORDS = {"credit": "account credit", "check": "check request", "card": "card refund"}


class DepositError(ValueError):
    """A deposit change that cannot be made; `field` names what is wrong, nothing was changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _positive_cents(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise DepositError(field, f"must be a positive whole number of cents, not {value!r}")
    return value


def _move(
    session: Session,
    actor: Actor,
    deposit: Deposit,
    kind: MovementKind,
    cents: int,
    on: date,
    postings: list[Posting],
    *,
    reference: str | None,
    memo: str,
) -> DepositMovement:
    """Post the entry of one movement, append the movement and move the deposit's balance."""
    entry = post_entry(
        session,
        postings,
        entry_date=on,
        source_type="deposit",
        source_id=deposit.id,
        actor=actor,
        memo=memo,
    )
    movement = DepositMovement(
        deposit_id=deposit.id,
        kind=kind,
        amount_cents=cents,
        moved_on=on,
        reference=reference,
        journal_entry_id=entry.id,
        recorded_by=actor.label,
    )
    session.add(movement)
    deposit.held_cents += kind.sign * cents
    if kind == MovementKind.INTEREST:
        deposit.interest_cents += cents
    session.flush()
    return movement


def hold_deposit(
    session: Session,
    actor: Actor,
    *,
    account_id: int,
    amount_cents: int,
    held_since: date,
    offset_gl_code: str,
    source: str,
    reference: str | None = None,
    payment_id: int | None = None,
    on: date | None = None,
    interest_through: date | None = None,
) -> Deposit:
    """Record a deposit held for an account: Dr offset_gl_code / Cr deposits held.

    The entry is dated `on` (default: held_since). A conversion passes the day it posts as
    `on` and, when the old system already credited interest, `interest_through`, so a deposit
    held for years is neither booked in a closed period nor paid its old interest twice.
    """
    _positive_cents(amount_cents, "amount_cents")
    if not isinstance(held_since, date):
        raise DepositError("held_since", f"must be a date, not {held_since!r}")
    if session.get(Account, account_id) is None:
        raise DepositError("account_id", f"no account with id {account_id!r}")
    offset = session.scalar(sa.select(GLAccount).where(GLAccount.code == offset_gl_code))
    if offset is None or not offset.active:
        raise DepositError("offset_gl_code", f"no active GL account {offset_gl_code!r}")
    if offset_gl_code in (chart.DEPOSITS_HELD, chart.INTEREST_ON_DEPOSITS):
        raise DepositError("offset_gl_code", "a deposit cannot be taken from the deposit accounts")
    day = on or held_since
    if not isinstance(day, date) or day < held_since:
        raise DepositError("on", "the entry's day must be a date on or after held_since")
    if interest_through is not None and not held_since <= interest_through <= day:
        raise DepositError("interest_through", "must fall between held_since and the entry's day")
    if source not in SOURCES:
        raise DepositError("source", f"must be one of {', '.join(SOURCES)}, not {source!r}")
    deposit = Deposit(
        account_id=account_id,
        amount_cents=amount_cents,
        held_since=held_since,
        source=source,
        reference=(reference or "").strip()[:64] or None,
        offset_gl_code=offset_gl_code,
        payment_id=payment_id,
        status=DepositStatus.HELD,
        held_cents=0,
        interest_cents=0,
        interest_through=interest_through,
    )
    session.add(deposit)
    session.flush()
    _move(
        session,
        actor,
        deposit,
        MovementKind.HELD,
        amount_cents,
        day,
        [
            Posting(offset_gl_code, debit_cents=amount_cents),
            Posting(chart.DEPOSITS_HELD, credit_cents=amount_cents, account_id=account_id),
        ],
        reference=deposit.reference,
        memo=f"Deposit {deposit.id} held for the account ({source})",
    )
    record(
        session,
        actor,
        "deposit.hold",
        deposit,
        account_id=account_id,
        amount_cents=amount_cents,
        held_since=held_since.isoformat(),
        source=source,
        offset=offset_gl_code,
    )
    # NOTE: a deposit taken settles what the rules asked of the account (shown until then).
    take_owed(session, actor, deposit)
    return deposit


def credit_interest(
    session: Session,
    actor: Actor,
    deposit: Deposit,
    rule: DepositRule | None,
    *,
    through: date,
    reference: str,
    rounding: str,
) -> int:
    """Credit the interest the rule's ordinance rate owes from the last day credited through
    `through`, once per reference (a year, or the day the deposit leaves); returns cents."""
    if rule is None or rule.interest_percent is None or deposit.status != DepositStatus.HELD:
        return 0
    start = deposit.interest_through or deposit.held_since
    # NOTE: simple interest on the deposit as taken, not on interest already credited.
    cents = interest_cents(
        deposit.amount_cents, rule.interest_percent, (through - start).days, rounding
    )
    if through > start:
        deposit.interest_through = through
    if not cents:
        return 0
    _move(
        session,
        actor,
        deposit,
        MovementKind.INTEREST,
        cents,
        through,
        [
            Posting(chart.INTEREST_ON_DEPOSITS, debit_cents=cents),
            Posting(chart.DEPOSITS_HELD, credit_cents=cents, account_id=deposit.account_id),
        ],
        reference=reference,
        memo=f"Interest on deposit {deposit.id} through {through.isoformat()} "
        f"at {rule.interest_percent}% ({rule.ordinance})",
    )
    return cents


def held_deposits(session: Session, account_id: int) -> list[Deposit]:
    """The account's deposits still held, oldest first, locked for the change to come."""
    return list(
        session.scalars(
            sa.select(Deposit)
            .where(Deposit.account_id == account_id, Deposit.status == DepositStatus.HELD)
            .order_by(Deposit.held_since, Deposit.id)
            .with_for_update()
        )
    )


def _close(deposit: Deposit, status: DepositStatus, on: date) -> None:
    if deposit.held_cents == 0:
        deposit.status, deposit.closed_on = status, on


def refund_deposit(
    session: Session,
    actor: Actor,
    deposit: Deposit,
    *,
    method: str,
    on: date,
    reason: str,
    cents: int | None = None,
    card_refund: str | None = None,
) -> int:
    """Give back what a deposit holds (or `cents` of it) as account credit, by check request, or
    (`card_refund`: the Stripe refund payments/deposit_refunds.py made) to the card."""
    if method not in REFUND_GL:
        raise DepositError("method", f"must be one of {', '.join(REFUND_GL)}, not {method!r}")
    if (method == "card") != (card_refund is not None):
        raise DepositError("method", "a card refund is made through payments (the card's refund)")
    if deposit.status != DepositStatus.HELD:
        raise DepositError("deposit", f"deposit {deposit.id} is {deposit.status.value}, not held")
    if len((reason or "").strip()) < 5:
        raise DepositError("reason", "say why (at least 5 characters)")
    amount = deposit.held_cents if cents is None else _positive_cents(cents, "cents")
    if amount > deposit.held_cents:
        raise DepositError("cents", f"{amount} is more than the {deposit.held_cents} held")
    account_id = deposit.account_id
    _move(
        session,
        actor,
        deposit,
        MovementKind.REFUNDED,
        amount,
        on,
        [
            Posting(chart.DEPOSITS_HELD, debit_cents=amount, account_id=account_id),
            Posting(
                REFUND_GL[method],
                credit_cents=amount,
                account_id=account_id if method == "credit" else None,
            ),
        ],
        reference=card_refund or method,
        memo=f"Refund of deposit {deposit.id} ({REFUND_WORDS[method]}): {reason.strip()}",
    )
    _close(deposit, DepositStatus.REFUNDED, on)
    record(
        session,
        actor,
        "deposit.refund",
        deposit,
        method=method,
        cents=amount,
        reason=reason.strip(),
    )
    return amount


def _apply_one(session: Session, actor: Actor, deposit: Deposit, invoice: Invoice, on: date) -> int:
    """Apply as much of one deposit as the invoice still owes; returns cents applied."""
    amount = min(deposit.held_cents, invoice.balance_cents)
    if not amount:
        return 0
    by_receivable = fill(outstanding_by_receivable(session, invoice), amount)
    codes = gl_codes(session)
    for gl_id, cents in by_receivable.items():
        session.add(
            Settlement(
                invoice_id=invoice.id,
                receivable_gl_id=gl_id,
                kind=SettlementKind.CREDIT_APPLIED,
                source_id=f"deposit:{deposit.id}",
                amount_cents=cents,
                settled_on=on,
            )
        )
    invoice.balance_cents -= amount
    refresh_status(session, invoice)
    _move(
        session,
        actor,
        deposit,
        MovementKind.APPLIED,
        amount,
        on,
        [
            Posting(chart.DEPOSITS_HELD, debit_cents=amount, account_id=invoice.account_id),
            *(
                Posting(codes[gl_id], credit_cents=cents, account_id=invoice.account_id)
                for gl_id, cents in by_receivable.items()
            ),
        ],
        reference=invoice.number,
        memo=f"Deposit {deposit.id} applied to final bill {invoice.number}",
    )
    _close(deposit, DepositStatus.APPLIED, on)
    return amount


def apply_to_final_bill(
    session: Session,
    actor: Actor,
    invoice_id: int,
    *,
    on: date | None = None,
    rounding: str = DEFAULT_ROUNDING,
) -> int:
    """Apply the account's deposits held (with interest to date) to its final bill; returns cents.

    Dr deposits held / Cr the invoice's receivables, as credit applied on the bill. What is
    left once the bill is settled is refunded by the rule's method (credit or check request),
    or left on the account as credit when the rule refunds to the card (a clerk refunds it
    there) or when no rules are loaded. `on` defaults to the final bill's issue date.
    """
    invoice = session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise DepositError("invoice_id", f"no invoice with id {invoice_id!r}")
    if invoice.kind != InvoiceKind.UTILITY:
        raise DepositError("invoice_id", f"invoice {invoice.number} is not a utility bill")
    if invoice.status in (InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF):
        raise DepositError("invoice_id", f"invoice {invoice.number} is {invoice.status.value}")
    day = on or invoice.issue_date
    rule = deposit_rule_on(session, day)
    applied = 0
    for deposit in held_deposits(session, invoice.account_id):
        credit_interest(
            session, actor, deposit, rule, through=day, reference=f"to {day}", rounding=rounding
        )
        took = _apply_one(session, actor, deposit, invoice, day)
        applied += took
        if deposit.held_cents:
            method = rule.refund_method if rule and rule.refund_method != "card" else "credit"
            refund_deposit(
                session,
                actor,
                deposit,
                method=method,
                on=day,
                reason=f"what the final bill {invoice.number} left of the deposit",
            )
            if took:
                deposit.status = DepositStatus.APPLIED
    if applied:
        record(session, actor, "deposit.apply", invoice, cents=applied)
    return applied
