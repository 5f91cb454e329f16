"""The one account position: by class, as of any date, equal to the ledger's receivables."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from billing.adjustments import AdjustmentError, issue_credit_memo, void_invoice, waive_charge
from billing.models import Invoice, InvoiceCharge, InvoiceKind
from billing.penalty_service import assess_penalties
from billing.position import TAX, UTILITY, Receivable, account_position
from billing.runs import RunOptions, open_run, post_run
from console import reports
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import receivables_by_gl
from payments.counter import open_drawer, take_counter_payment
from payments.models import Payment, Tender
from payments.refunds import refund_payment, refundable_cents, void_counter_payment
from payments.services import PaymentRefused
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel
from tests.conftest import reset_database

CLERK = Actor.system("test clerk")
ISSUED, DUE = date(2026, 11, 2), date(2026, 11, 23)


def _town(session) -> Account:
    """One household billed for October 2026 utilities and 2025 property tax (two installments)."""
    plans = load_rules(session)
    account = household(session, plans, "Pat", [1000, 5000, 9000, 13000, 18400])
    load_demo_levy(session, 2025)
    parcel(session, account, "P-1", 240_000)
    for kind, cycle, issued, due in (
        (InvoiceKind.TAX, "2025", date(2025, 12, 10), date(2026, 1, 31)),
        (InvoiceKind.UTILITY, "2026-10", ISSUED, DUE),
    ):
        run = open_run(session, CLERK, kind=kind, cycle=cycle, issue_date=issued, due_date=due)
        post_run(session, run, CLERK, RunOptions())
    session.flush()
    return account


def _position_by_gl(session, position) -> dict[str, int]:
    """The position's owed cents summed by the receivable GL code each class is booked to."""
    gl_of_service = {
        code: gl_code
        for code, gl_code in session.execute(
            sa.text(
                "SELECT s.code, g.code FROM service_kind s JOIN gl_account g"
                " ON g.id = s.receivable_gl_id"
            )
        )
    }
    owed: dict[str, int] = {}
    for c in position.classes:
        r = c.receivable
        if r.charges:
            gl = chart.PENALTY_RECEIVABLE
        elif r.group == TAX:
            gl = chart.TAX_RECEIVABLE
        else:
            gl = gl_of_service[r.service]
        owed[gl] = owed.get(gl, 0) + c.owed_cents
    return owed


def _agrees_with_the_ledger(session, account_id: int, as_of: date) -> None:
    """The position and the ledger say the same, GL account by GL account; the dashboard's
    aging (the town's pieces, one account here) says the same in total and past due."""
    position = account_position(session, account_id, as_of)
    town = reports.aging(session, as_of)
    assert town.total_cents == position.owed_cents()
    assert sum(town.bucket_totals[1:]) == position.past_due_cents()
    ledger = {
        gl: cents
        for gl, cents in receivables_by_gl(session, [account_id], as_of)[account_id].items()
        if cents
    }
    mine = {gl: cents for gl, cents in _position_by_gl(session, position).items() if cents}
    assert mine == ledger, f"as of {as_of}: position {mine} != ledger {ledger}"
    assert position.owed_cents() == sum(ledger.values())


def test_a_bill_is_owed_from_its_issue_date_and_past_due_after_its_due_date(session):
    account = _town(session)
    utility = session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.UTILITY))
    before = account_position(session, account.id, ISSUED - timedelta(days=1))
    assert before.owed_cents(UTILITY) == 0
    issued = account_position(session, account.id, ISSUED)
    assert issued.owed_cents(UTILITY) == utility.total_cents
    assert issued.past_due_cents(UTILITY) == 0
    assert {c.receivable.service for c in issued.of(UTILITY)} == {"water", "sewer", "trash"}
    assert all(c.due_date == DUE for c in issued.of(UTILITY))
    on_due = account_position(session, account.id, DUE)
    assert on_due.past_due_cents(UTILITY) == 0  # due on the day: not yet late
    later = account_position(session, account.id, DUE + timedelta(days=10))
    assert later.past_due_cents(UTILITY) == utility.total_cents
    assert later.days_past_due(UTILITY) == 10
    tax = later.of(TAX, 2025)
    assert [c.receivable for c in tax] == [Receivable(TAX, 2025, 1), Receivable(TAX, 2025, 2)]
    assert [c.due_date for c in tax] == [date(2026, 1, 31), date(2026, 7, 31)]
    assert later.days_past_due(TAX) == (later.as_of - date(2026, 1, 31)).days
    for day in (ISSUED - timedelta(days=1), ISSUED, DUE, DUE + timedelta(days=10)):
        _agrees_with_the_ledger(session, account.id, day)


def test_a_voided_bill_is_owed_until_the_day_it_was_voided(session):
    account = _town(session)
    utility = session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.UTILITY))
    tax_owed = account_position(session, account.id, ISSUED).owed_cents(TAX)
    voided_on = ISSUED + timedelta(days=5)
    void_invoice(session, CLERK, utility, reason="misread meter", on=voided_on)
    session.flush()
    for day, utility_owed in (
        (ISSUED, utility.total_cents),
        (voided_on - timedelta(days=1), utility.total_cents),
        (voided_on, 0),
        (DUE + timedelta(days=10), 0),
    ):
        position = account_position(session, account.id, day)
        assert position.owed_cents(UTILITY) == utility_owed, day
        assert position.owed_cents(TAX) == tax_owed
        assert (utility.id in position.by_invoice) == bool(utility_owed)
        _agrees_with_the_ledger(session, account.id, day)


def test_payments_credits_and_refunds_are_counted_on_their_own_dates(session):
    account = _town(session)
    utility = session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.UTILITY))
    drawer = open_drawer(session, CLERK)
    pay_day = ISSUED + timedelta(days=3)
    receipt = take_counter_payment(
        session,
        CLERK,
        drawer=drawer,
        account=account,
        amount_cents=5000,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[utility.number],
        on=pay_day,
    )
    issue_credit_memo(
        session, CLERK, utility, amount_cents=700, reason="meter misread", on=pay_day + timedelta(1)
    )
    payment = session.get(Payment, receipt.payment_id)
    refund_payment(
        session, CLERK, payment, amount_cents=1200, reason="paid twice", on=pay_day + timedelta(2)
    )
    owed = [
        account_position(session, account.id, pay_day + timedelta(days=n)).owed_cents(UTILITY)
        for n in range(-1, 3)
    ]
    total = utility.total_cents
    assert owed == [total, total - 5000, total - 5700, total - 4500]
    last = account_position(session, account.id, pay_day + timedelta(days=2)).of(UTILITY)
    assert sum(c.paid_cents for c in last) == 3800 and sum(c.credited_cents for c in last) == 700
    for n in range(-1, 3):
        _agrees_with_the_ledger(session, account.id, pay_day + timedelta(days=n))


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "pay_tax", "memo", "refund", "void", "assess", "waive"]),
        st.integers(0, 400),  # days after the utility bill's issue date
        st.integers(1, 60_000),  # cents
    ),
    min_size=1,
    max_size=8,
)


def _apply(session, account, drawer, operation) -> None:
    """One thing that happens to the account, through the services that do it."""
    name, days, cents = operation
    on = ISSUED + timedelta(days=days)
    invoices = {
        i.kind: i
        for i in session.scalars(sa.select(Invoice).where(Invoice.account_id == account.id))
    }
    if name in ("pay", "pay_tax"):
        invoice = invoices[InvoiceKind.UTILITY if name == "pay" else InvoiceKind.TAX]
        take_counter_payment(
            session,
            CLERK,
            drawer=drawer,
            account=account,
            amount_cents=cents,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[invoice.number] if days % 2 else [],
            on=on,
        )
    elif name == "memo":
        invoice = invoices[InvoiceKind.UTILITY]
        if invoice.balance_cents:
            amount = min(cents, invoice.balance_cents)
            issue_credit_memo(
                session, CLERK, invoice, amount_cents=amount, reason="adjusted", on=on
            )
    elif name in ("refund", "void"):
        payments = session.scalars(
            sa.select(Payment).where(Payment.account_id == account.id).order_by(Payment.id)
        ).all()
        for payment in payments:
            left = refundable_cents(session, payment)
            if left and name == "refund":
                refund_payment(
                    session, CLERK, payment, amount_cents=min(cents, left), reason="asked", on=on
                )
                return
            if left and name == "void" and left == payment.amount_cents:
                void_counter_payment(session, CLERK, payment, reason="keyed wrong", on=on)
                return
    elif name == "assess":
        assess_penalties(session, CLERK, as_of=on, rounding="half_up")
    elif name == "waive":
        charge = session.scalar(
            sa.select(InvoiceCharge)
            .where(InvoiceCharge.waived_at.is_(None), InvoiceCharge.balance_cents > 0)
            .order_by(InvoiceCharge.id)
        )
        if charge is not None:
            waive_charge(session, CLERK, charge, reason="first time", on=on)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPERATIONS, st.lists(st.integers(-30, 420), min_size=1, max_size=4))
def test_the_position_equals_the_ledger_whatever_happened_and_whenever_it_is_read(
    app, reference_rows, operations, reads
):
    with app.app_context():
        reset_database(db.engine, reference_rows)  # each history starts from an empty town
        session = db.session
        account = _town(session)
        drawer = open_drawer(session, CLERK)
        for operation in sorted(operations, key=lambda o: o[1]):
            step = session.begin_nested()
            try:
                _apply(session, account, drawer, operation)
                step.commit()
            except (AdjustmentError, PaymentRefused, ValueError):
                step.rollback()  # refused as a clerk would be; nothing changed
        days = {o[1] for o in operations} | set(reads)
        for n in sorted(days):
            for day in (ISSUED + timedelta(days=n - 1), ISSUED + timedelta(days=n)):
                _agrees_with_the_ledger(session, account.id, day)
        now = account_position(session, account.id, ISSUED + timedelta(days=500))
        invoices = session.scalars(sa.select(Invoice).where(Invoice.account_id == account.id))
        for invoice in invoices:  # today's balances are the position of a day to come
            charges = sum(c.balance_cents for c in invoice.charges)
            assert now.by_invoice.get(invoice.id, 0) == invoice.balance_cents + charges
        assert sum(now.by_invoice.values()) == now.owed_cents()
        session.rollback()
        db.session.remove()
