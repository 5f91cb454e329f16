"""What Maple Falls' residents did after the conversion: most pay their utility bills by
card before the due date, some at the counter in cash or by check, the late payers pay
late (their converted bill with the new one), the delinquent households pay nothing;
penalties are assessed as the nightly job would. Property tax is left owing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.penalty_service import assess_penalties
from core.audit import Actor
from core.models import StaffUser
from demo.old_system import DELINQUENT, LATE, former_number
from ledger import chart
from payments.bank_deposits import deposit_drawers
from payments.counter import close_drawer, open_drawer, take_counter_payment
from payments.models import Channel, Tender
from payments.services import record_payment, settle_payment

OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


def _card(
    session: Session,
    account: Account,
    numbers: list[str],
    cents: int,
    day: date,
    rng: random.Random,
) -> None:
    """A card payment online, settled as Stripe's webhook would settle it."""
    payment = record_payment(
        session,
        Actor("resident", None, f"quickpay:{account.number}", "demo"),
        account=account,
        amount_cents=cents,
        invoice_numbers=numbers,
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    payment.card_brand, payment.card_last4 = rng.choice([("visa", "4242"), ("mastercard", "4444")])
    at = datetime.combine(day, time(15, rng.randint(0, 59)), UTC)
    settle_payment(
        session, Actor.job("stripe_webhook"), payment, on=day, cash_gl=chart.STRIPE_CLEARING, at=at
    )


def _counter(
    session: Session, clerk: Actor, day: date, payers: list[tuple], rng: random.Random
) -> None:
    """A day at the counter: a drawer opened, cash and checks taken, the drawer closed and counted,
    and its money taken to the bank (in transit until a clerk marks it at the bank)."""
    drawer = open_drawer(session, clerk)
    counted = {"cash": 0, "check": 0}
    for account, numbers, cents in payers:
        tender = rng.choice([Tender.CASH, Tender.CHECK])
        take_counter_payment(
            session,
            clerk,
            drawer=drawer,
            account=account,
            amount_cents=cents,
            tender=tender,
            reference=None if tender == Tender.CASH else str(rng.randint(1000, 9999)),
            invoice_numbers=numbers,
            on=day,
        )
        counted[tender.value] += cents
    close_drawer(session, clerk, drawer, counted_cents=counted, on=day, approval_limit_cents=0)
    if drawer.deposit_cents:
        deposit_drawers(session, clerk, [drawer], on=day)


def _open_utility_bills(session: Session, account: Account) -> tuple[list[str], int]:
    """The account's open utility bills (converted ones too) and what they still owe."""
    rows = session.execute(
        sa.select(Invoice.number, Invoice.balance_cents).where(
            Invoice.account_id == account.id,
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status.in_(OWING),
        )
    ).all()
    return [number for number, _cents in rows], sum(cents for _number, cents in rows)


class Residents:
    """The town's payers, month after month."""

    def __init__(self, session: Session) -> None:
        """The accounts, the clerk at the counter and a fixed random sequence."""
        self.session = session
        self.rng = random.Random(920)
        user = session.scalar(sa.select(StaffUser).where(StaffUser.email == "clerk@example.org"))
        self.clerk = Actor("user", str(user.id), user.email, "demo")
        self.accounts = list(session.scalars(sa.select(Account).order_by(Account.id)))
        self.late = {former_number(i) for i in LATE}
        self.delinquent = {former_number(i) for i in DELINQUENT}

    def _day(self, account: Account, due: date) -> date:
        """When the account pays the bill due on due."""
        if account.former_number in self.late:
            return due + timedelta(days=12)
        return due - timedelta(days=self.rng.randint(1, 12))

    def pay(self, due: date, as_of: date) -> None:
        """Each household pays its open utility bills by card or at the counter, or does not."""
        counter: dict[date, list[tuple[Account, list[str], int]]] = defaultdict(list)
        for account in self.accounts:
            if account.former_number in self.delinquent:
                continue
            day = self._day(account, due)
            numbers, owed = _open_utility_bills(self.session, account)
            if day > as_of or owed == 0 or self.rng.random() < 0.08:
                continue
            if account.former_number in self.late or self.rng.random() < 0.3:
                counter[day].append((account, numbers, owed))
            else:
                _card(self.session, account, numbers, owed, day, self.rng)
        for day in sorted(counter):
            _counter(self.session, self.clerk, day, counter[day], self.rng)

    def pay_tax(self, as_of: date) -> None:
        """Most households pay each property tax installment in its last week; some never do."""
        bills = self.session.scalars(
            sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX).order_by(Invoice.id)
        ).all()
        for bill in bills:
            account = bill.account
            if account.former_number in self.delinquent or self.rng.random() < 0.1:
                continue
            for installment in bill.installments:
                day = installment.due_date - timedelta(days=self.rng.randint(1, 7))
                if day > as_of or installment.balance_cents == 0:
                    continue
                if self.rng.random() < 0.5:
                    _card(
                        self.session,
                        account,
                        [bill.number],
                        installment.balance_cents,
                        day,
                        self.rng,
                    )
                else:
                    payer = (account, [bill.number], installment.balance_cents)
                    _counter(self.session, self.clerk, day, [payer], self.rng)


def assess(session: Session, as_of: date) -> None:
    """Penalties and interest owed as of the day, as the nightly job assesses them."""
    assess_penalties(session, Actor.job("assess_late_fees"), as_of=as_of, rounding="half_up")
