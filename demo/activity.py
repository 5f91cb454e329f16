"""What Maple Falls' residents did after the conversion: most pay their utility bills by
card before the due date (settled a day at a time, as Stripe's webhooks arrive in a batch),
some at the counter in cash or by check, the late payers after their late payment charge
(their converted bill with the new ones, and the charge), the delinquent households pay
nothing; penalties are assessed as the nightly job would. Property tax is mostly paid.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, AccountStatus
from billing.models import Invoice, InvoiceCharge, InvoiceKind, InvoiceStatus
from billing.penalty_service import assess_penalties
from core.audit import Actor
from core.models import StaffUser
from demo.old_system import DELINQUENT, LATE, former_number
from demo.timeline import Timeline
from ledger import chart
from payments.bank_deposits import deposit_drawers
from payments.counter import close_drawer, open_drawer, take_counter_payment
from payments.models import Channel, Tender
from payments.services import record_payment, settle_payments

OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
#: Days after the due date the late payers pay: after the late payment charge (20 days' grace).
LATE_DAYS = 25


def _cards(session: Session, day: date, payers: list[tuple], rng: random.Random) -> None:
    """A day's card payments online, settled together as a batch of Stripe's webhooks settles them."""
    settle, moments = [], {}
    for account, numbers, cents in payers:
        payment = record_payment(
            session,
            Actor("resident", None, f"quickpay:{account.number}", "demo"),
            account=account,
            amount_cents=cents,
            invoice_numbers=numbers,
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        brand = rng.choice([("visa", "4242"), ("mastercard", "4444")])
        payment.card_brand, payment.card_last4 = brand
        settle.append((payment, day))
        moments[payment.id] = datetime.combine(day, time(15, rng.randint(0, 59)), UTC)
    settle_payments(
        session, Actor.job("stripe_webhook"), settle, cash_gl=chart.STRIPE_CLEARING, at=moments
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


def _owed_utility_bills(
    session: Session, accounts: list[Account], due: date
) -> dict[int, tuple[list[str], int]]:
    """Each account's open utility bills due by `due` (converted ones too) and what they still
    owe, their late charges included (unwaived), as allocation counts it."""
    bills = session.execute(
        sa.select(Invoice.id, Invoice.account_id, Invoice.number, Invoice.balance_cents)
        .where(
            Invoice.account_id.in_([a.id for a in accounts]),
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status.in_(OWING),
            Invoice.due_date <= due,
        )
        .order_by(Invoice.id)
    ).all()
    charged = dict(
        session.execute(
            sa.select(InvoiceCharge.invoice_id, sa.func.sum(InvoiceCharge.balance_cents))
            .where(
                InvoiceCharge.invoice_id.in_([b.id for b in bills]),
                InvoiceCharge.balance_cents > 0,
                InvoiceCharge.waived_at.is_(None),
            )
            .group_by(InvoiceCharge.invoice_id)
        ).all()
    )
    owed: dict[int, tuple[list[str], int]] = defaultdict(lambda: ([], 0))
    for bill in bills:
        numbers, cents = owed[bill.account_id]
        owed[bill.account_id] = (
            [*numbers, bill.number],
            cents + max(bill.balance_cents, 0) + int(charged.get(bill.id) or 0),
        )
    return owed


class Residents:
    """The town's payers, month after month."""

    def __init__(self, session: Session) -> None:
        """The clerk at the counter and a fixed random sequence."""
        self.session = session
        self.rng = random.Random(920)
        user = session.scalar(sa.select(StaffUser).where(StaffUser.email == "clerk@example.org"))
        self.clerk = Actor("user", str(user.id), user.email, "demo")
        self.late = {former_number(i) for i in LATE}
        self.delinquent = {former_number(i) for i in DELINQUENT}

    def _day(self, account: Account, due: date) -> date:
        """When the account pays the bill due on due: the late payers after its late charge."""
        if account.former_number in self.late:
            return due + timedelta(days=LATE_DAYS)
        return due - timedelta(days=self.rng.randint(1, 12))

    def plan(self, timeline: Timeline, due: date) -> None:
        """Who pays the bills due on `due`, when and how: by card, at the counter, or not at all."""
        card: dict[date, list[Account]] = defaultdict(list)
        counter: dict[date, list[Account]] = defaultdict(list)
        active = sa.select(Account).where(Account.status == AccountStatus.ACTIVE)
        for account in self.session.scalars(active.order_by(Account.id)):
            if account.former_number in self.delinquent or self.rng.random() < 0.08:
                continue
            day = self._day(account, due)
            if account.former_number in self.late or self.rng.random() < 0.25:
                counter[day].append(account)
            else:
                card[day].append(account)
        for day in sorted(set(card) | set(counter)):
            timeline.at(day, partial(self._pay_day, due, card[day], counter[day]))

    def _pay_day(self, due: date, card: list, counter: list, day: date) -> None:
        """The day's payers pay what their bills due by `due` still owe, if anything."""

        def owing(accounts: list[Account]) -> list[tuple[Account, list[str], int]]:
            owed = _owed_utility_bills(self.session, accounts, due) if accounts else {}
            payers = [(a, *owed.get(a.id, ([], 0))) for a in accounts]
            return [payer for payer in payers if payer[2] > 0]

        self._settle({day: owing(card)}, {day: owing(counter)})

    def _settle(self, card: dict, counter: dict) -> None:
        """The days' card batches and counter drawers, in date order."""
        for day in sorted(set(card) | set(counter)):
            if card.get(day):
                _cards(self.session, day, card[day], self.rng)
            if counter.get(day):
                _counter(self.session, self.clerk, day, counter[day], self.rng)

    def pay_tax(self, as_of: date) -> None:
        """Most households pay each property tax installment in its last week; some never do."""
        bills = self.session.scalars(
            sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX).order_by(Invoice.id)
        ).all()
        card: dict[date, list[tuple[Account, list[str], int]]] = defaultdict(list)
        counter: dict[date, list[tuple[Account, list[str], int]]] = defaultdict(list)
        for bill in bills:
            account = bill.account
            if account.former_number in self.delinquent or self.rng.random() < 0.1:
                continue
            for installment in bill.installments:
                day = installment.due_date - timedelta(days=self.rng.randint(1, 7))
                if day > as_of or installment.balance_cents == 0:
                    continue
                payer = (account, [bill.number], installment.balance_cents)
                (card if self.rng.random() < 0.7 else counter)[day].append(payer)
        self._settle(card, counter)


def assess(session: Session, as_of: date) -> None:
    """Penalties and interest owed as of the day, as the nightly job assesses them."""
    assess_penalties(session, Actor.job("assess_late_fees"), as_of=as_of, rounding="half_up")
