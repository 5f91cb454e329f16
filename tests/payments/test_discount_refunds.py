"""An early-payment discount is taken back when the money that paid the bill in time goes back.

The bill: the demo levy for 2025 in two installments (due January 31 and July 31, 2026), 4% off
for paying the whole bill by December 31, 2025 (tests/billing/test_tax_bills_posted.py). A
refund, a voided counter payment or a lost dispute that re-opens any of it loses the whole
discount, once; a later payment still within the discount period earns it again.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from billing.models import InvoiceDiscount, InvoiceStatus, Settlement, SettlementKind
from billing.position import account_position
from core.audit import Actor
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance
from ledger.models import JournalEntry
from payments.counter import open_drawer, take_counter_payment
from payments.disputes import close_dispute, open_dispute
from payments.models import CashDrawer, Tender
from payments.refunds import refund_payment, void_counter_payment
from tests.billing.test_tax_bills_posted import (
    PAY_BY,
    bill_tax,
    discounted_bill,
    invoice_of,
    levy_document,
    owner_with_parcel,
)
from tests.faults.ledger_checks import books_whole

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
PAID_ON = date(2025, 12, 15)
REFUNDED_ON = date(2025, 12, 20)


def pay_at_counter(session, account, cents: int, on: date, tender=Tender.CASH):
    """A payment taken at the counter into the clerk's drawer on the town's date `on`."""
    drawer = session.scalar(sa.select(CashDrawer).where(CashDrawer.closed_at.is_(None)))
    receipt = take_counter_payment(
        session,
        CLERK,
        drawer=drawer or open_drawer(session, CLERK),
        account=account,
        amount_cents=cents,
        tender=tender,
        reference="1042" if tender == Tender.CHECK else None,
        invoice_numbers=[],
        on=on,
    )
    return receipt.payment


def refund(session, payment, cents: int, on: date = REFUNDED_ON):
    """A supervisor's refund at the counter (refunds payable)."""
    return refund_payment(
        session, SUPERVISOR, payment, amount_cents=cents, reason="paid twice by mistake", on=on
    )


def discount_entries(session) -> list[JournalEntry]:
    """The journal entries of discounts honoured and taken back, in the order posted."""
    return session.scalars(
        sa.select(JournalEntry)
        .where(JournalEntry.source_type == "discount")
        .order_by(JournalEntry.seq)
    ).all()


def entry_lines(entry: JournalEntry) -> dict[tuple[str, bool], int]:
    """An entry's lines as {(GL code, for the billing account): debit - credit}."""
    found: dict[tuple[str, bool], int] = {}
    for line in entry.lines:
        key = (line.gl_account.code, line.account_id is not None)
        found[key] = found.get(key, 0) + line.debit_cents - line.credit_cents
    return found


def taken_back(session, invoice) -> int:
    """The cents of discount settlements taken back on the invoice."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Settlement.amount_cents), 0)).where(
                Settlement.invoice_id == invoice.id,
                Settlement.kind == SettlementKind.DISCOUNT_REVERSED,
            )
        )
    )


def owed_by_installment(session, owner, invoice, on: date) -> list[int]:
    """What the account position says each installment of the bill owes on the day."""
    position = account_position(session, owner.id, on)
    return [position.by_installment.get((invoice.id, i.number), 0) for i in invoice.installments]


def test_a_full_refund_takes_the_discount_back_and_the_whole_bill_is_owed_again(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    assert account_position(session, owner.id, PAID_ON).owed_cents() == 0
    assert gl_balance(session, "4900") == -discount.discount_cents

    made = refund(session, payment, payment.amount_cents)

    position = account_position(session, owner.id, REFUNDED_ON)
    assert position.owed_cents() == invoice.total_cents  # not the discounted amount
    assert owed_by_installment(session, owner, invoice, REFUNDED_ON) == [
        i.amount_cents for i in invoice.installments
    ]
    assert account_receivable(session, owner.id) == invoice.total_cents
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.balance_cents == invoice.total_cents
    assert [i.balance_cents for i in invoice.installments] == [
        i.amount_cents for i in invoice.installments
    ]
    # The discount's entry is reversed by its mirror image: the receivable is owed again and
    # the contra-revenue account is back to nothing.
    earned, reversal = discount_entries(session)
    assert reversal.reverses_id == earned.id and reversal.entry_date == REFUNDED_ON
    assert entry_lines(earned) == {
        ("4900", False): discount.discount_cents,
        (chart.TAX_RECEIVABLE, True): -discount.discount_cents,
    }
    assert entry_lines(reversal) == {
        ("4900", False): -discount.discount_cents,
        (chart.TAX_RECEIVABLE, True): discount.discount_cents,
    }
    assert gl_balance(session, "4900") == 0
    assert taken_back(session, invoice) == discount.discount_cents
    assert session.scalars(
        sa.select(Settlement.source_id).where(Settlement.kind == SettlementKind.DISCOUNT_REVERSED)
    ).all() == [f"refund:{made.id}"]
    books_whole(session)


def test_a_partial_refund_that_leaves_the_bill_short_loses_the_whole_discount(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    refund(session, payment, 100_00)

    assert account_position(session, owner.id, REFUNDED_ON).owed_cents() == (
        100_00 + discount.discount_cents
    )
    # The payment went to installment 1 first and the discount came off installment 2 (the last
    # first); the refund takes back the newest piece: installment 2 owes both again.
    assert owed_by_installment(session, owner, invoice, REFUNDED_ON) == [
        0,
        100_00 + discount.discount_cents,
    ]
    assert account_receivable(session, owner.id) == 100_00 + discount.discount_cents
    assert gl_balance(session, "4900") == 0
    assert taken_back(session, invoice) == discount.discount_cents
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    books_whole(session)


def test_refunding_in_two_parts_takes_the_discount_back_once(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    refund(session, payment, 100_00)
    refund(session, payment, 250_00, date(2025, 12, 22))

    assert account_position(session, owner.id, date(2025, 12, 22)).owed_cents() == (
        350_00 + discount.discount_cents
    )
    assert taken_back(session, invoice) == discount.discount_cents
    assert len([e for e in discount_entries(session) if e.reverses_id is not None]) == 1
    assert gl_balance(session, "4900") == 0
    # The rest of the payment, refunded too: still one take-back, the whole bill owed.
    refund(session, payment, payment.amount_cents - 350_00, date(2025, 12, 23))
    assert account_position(session, owner.id, date(2025, 12, 23)).owed_cents() == (
        invoice.total_cents
    )
    assert taken_back(session, invoice) == discount.discount_cents
    assert len(discount_entries(session)) == 2
    books_whole(session)


def test_a_refund_of_a_payment_that_earned_no_discount_takes_nothing_back(session):
    owner, invoice, discount = discounted_bill(session)
    late = date(2026, 1, 5)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, late)
    refund(session, payment, 100_00, date(2026, 1, 6))

    assert account_position(session, owner.id, date(2026, 1, 6)).owed_cents() == (
        discount.discount_cents + 100_00
    )
    assert discount_entries(session) == []
    assert taken_back(session, invoice) == 0
    assert gl_balance(session, "4900") == 0
    books_whole(session)


def test_refunding_only_the_credit_a_payment_left_keeps_the_discount(session):
    owner, invoice, discount = discounted_bill(session)
    # Paid the full bill in time: the discount is left on the account as credit.
    payment = pay_at_counter(session, owner, invoice.total_cents, PAID_ON)
    assert account_credit(session, owner.id) == discount.discount_cents
    refund(session, payment, discount.discount_cents)

    position = account_position(session, owner.id, REFUNDED_ON)
    assert (position.owed_cents(), position.credit_cents) == (0, 0)
    assert taken_back(session, invoice) == 0
    assert gl_balance(session, "4900") == -discount.discount_cents
    books_whole(session)


def test_a_later_payment_within_the_discount_period_earns_the_discount_again(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    refund(session, payment, 100_00)

    # What the refund gave back, paid again by December 31: the bill is paid in full in time.
    pay_at_counter(session, owner, 100_00, PAY_BY)
    assert account_position(session, owner.id, PAY_BY).owed_cents() == 0
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert gl_balance(session, "4900") == -discount.discount_cents
    first, reversal, again = discount_entries(session)
    assert reversal.reverses_id == first.id and again.reverses_id is None
    assert again.entry_date == PAY_BY
    books_whole(session)


def test_after_the_discount_period_the_refunded_bill_owes_it_in_full(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    refund(session, payment, 100_00)
    pay_at_counter(session, owner, 100_00, date(2026, 1, 2))

    assert account_position(session, owner.id, date(2026, 1, 2)).owed_cents() == (
        discount.discount_cents
    )
    assert gl_balance(session, "4900") == 0
    books_whole(session)


def test_a_bounced_check_voided_takes_the_discount_back(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON, Tender.CHECK)
    void_counter_payment(session, SUPERVISOR, payment, reason="check bounced", on=REFUNDED_ON)

    assert account_position(session, owner.id, REFUNDED_ON).owed_cents() == invoice.total_cents
    assert gl_balance(session, "4900") == 0
    assert taken_back(session, invoice) == discount.discount_cents
    books_whole(session)


def test_a_lost_dispute_takes_the_discount_back_once(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    dispute = open_dispute(
        session,
        SUPERVISOR,
        payment,
        stripe_id="dp_discount_1",
        amount_cents=payment.amount_cents,
        reason="fraudulent",
        on=REFUNDED_ON,
    )
    assert close_dispute(session, SUPERVISOR, dispute, won=False, on=REFUNDED_ON)
    session.commit()  # Stripe tells it again, in a transaction of its own
    assert not close_dispute(session, SUPERVISOR, dispute, won=False, on=REFUNDED_ON)

    assert account_position(session, owner.id, REFUNDED_ON).owed_cents() == invoice.total_cents
    assert taken_back(session, invoice) == discount.discount_cents
    assert gl_balance(session, "4900") == 0
    books_whole(session)


def installment_plan_bill(session):
    """An owner on an installment plan: 5% off installment 1 paid by January 31, 3% off
    installment 2 paid by July 31, 2026; (account, invoice)."""
    document = levy_document(
        charges=[],
        special_assessments=[],
        credits=[],
        discounts=[
            {"pay_by": "2026-01-31", "percent": "5", "installment": 1},
            {"pay_by": "2026-07-31", "percent": "3", "installment": 2},
        ],
    )
    owner = owner_with_parcel(session)
    bill_tax(session, document)
    return owner, invoice_of(session, owner)


def test_on_an_installment_plan_only_the_installment_re_opened_loses_its_discount(session):
    owner, invoice = installment_plan_bill(session)
    first, second = invoice.installments
    off = {
        d.installment_number: d.discount_cents
        for d in session.scalars(
            sa.select(InvoiceDiscount).where(InvoiceDiscount.invoice_id == invoice.id)
        )
    }
    both = first.amount_cents - off[1] + second.amount_cents - off[2]
    payment = pay_at_counter(session, owner, both, date(2026, 1, 20))
    assert account_position(session, owner.id, date(2026, 1, 20)).owed_cents() == 0
    assert gl_balance(session, "4900") == -(off[1] + off[2])

    refund(session, payment, 50_00, date(2026, 1, 25))

    # The refund took back the newest piece, installment 2: it owes its 3% again; installment
    # 1 is still paid in full in time and keeps its 5%.
    assert owed_by_installment(session, owner, invoice, date(2026, 1, 25)) == [0, 50_00 + off[2]]
    assert gl_balance(session, "4900") == -off[1]
    reversed_ = [e for e in discount_entries(session) if e.reverses_id is not None]
    assert [e.source_id for e in reversed_] == [f"{invoice.number}/2"]
    books_whole(session)


def test_penalties_run_on_the_whole_installment_from_its_original_due_date(session):
    from billing.models import InvoiceCharge
    from billing.penalty_service import assess_penalties
    from tests.billing.billing_fixtures import load_rules

    load_rules(session)  # the demo penalty rules: 1% interest and 0.5% penalty a month
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    refund(session, payment, 100_00)
    unpaid = 100_00 + discount.discount_cents  # installment 2, due July 31, 2026

    assert (
        assess_penalties(session, CLERK, as_of=date(2026, 7, 31), rounding="half_up").charges == 0
    )
    assess_penalties(session, CLERK, as_of=date(2026, 8, 15), rounding="half_up")
    charges = session.scalars(sa.select(InvoiceCharge).order_by(InvoiceCharge.id)).all()
    assert {(c.installment_number, c.period_key) for c in charges} == {(2, "2026-08")}
    by_rule = {c.rule_id: c.amount_cents for c in charges}
    assert by_rule == {
        "wi-74-47-1-interest": (unpaid + 50) // 100,  # 1%, half up
        "wi-74-47-2-penalty": (unpaid * 5 + 500) // 1000,  # 0.5%, half up
    }
    books_whole(session)


def test_reminders_see_the_re_opened_installment_as_unpaid(app, session):
    from notices.reminders import Outcome, plan

    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    after_due = date(2026, 9, 30)
    assert plan(session, app.config, after_due, Outcome()) == []
    refund(session, payment, 100_00)
    planned = plan(session, app.config, after_due, Outcome())
    assert [(p.account_id, [(i, n) for i, n, _stage in p.stages]) for p in planned] == [
        (owner.id, [(invoice.id, 2)])
    ]


def test_paid_again_later_in_the_period_the_discount_in_force_that_day_is_earned(session):
    document = levy_document(
        discounts=[
            {"pay_by": "2025-12-15", "percent": "4"},
            {"pay_by": "2025-12-31", "percent": "3"},
        ]
    )
    owner = owner_with_parcel(session)
    bill_tax(session, document)
    invoice = invoice_of(session, owner)
    four, three = session.scalars(
        sa.select(InvoiceDiscount)
        .where(InvoiceDiscount.invoice_id == invoice.id)
        .order_by(InvoiceDiscount.pay_by)
    ).all()
    payment = pay_at_counter(session, owner, four.amount_due_cents, date(2025, 12, 12))
    refund(session, payment, 100_00, date(2025, 12, 14))
    assert account_position(session, owner.id, date(2025, 12, 14)).owed_cents() == (
        100_00 + four.discount_cents
    )
    # December 20: the 3% is in force; what pays the bill in full less 3% earns it.
    owed = 100_00 + four.discount_cents
    pay_at_counter(session, owner, owed - three.discount_cents, date(2025, 12, 20))
    assert account_position(session, owner.id, date(2025, 12, 20)).owed_cents() == 0
    assert gl_balance(session, "4900") == -three.discount_cents
    # In all, the bill was paid what it costs paid in full by December 31.
    assert payment.amount_cents - 100_00 + owed - three.discount_cents == three.amount_due_cents
    books_whole(session)


def test_refunded_after_the_due_date_the_installment_bears_the_months_it_is_unpaid(session):
    from billing.models import InvoiceCharge
    from billing.penalty_service import assess_penalties
    from tests.billing.billing_fixtures import load_rules

    load_rules(session)
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    # Refunded in full on March 10, after installment 1 fell due on January 31.
    refund(session, payment, payment.amount_cents, date(2026, 3, 10))
    first = invoice.installments[0]
    assert owed_by_installment(session, owner, invoice, date(2026, 3, 10))[0] == (
        first.amount_cents
    )

    assess_penalties(session, CLERK, as_of=date(2026, 4, 15), rounding="half_up")
    charges = session.scalars(sa.select(InvoiceCharge).order_by(InvoiceCharge.id)).all()
    # NOTE: February and March began with the installment paid; April began with all of it
    # unpaid again: the months are counted from the due date, charged while it is unpaid.
    assert {(c.installment_number, c.period_key) for c in charges} == {(1, "2026-04")}
    assert {c.rule_id: c.amount_cents for c in charges} == {
        "wi-74-47-1-interest": (first.amount_cents + 50) // 100,
        "wi-74-47-2-penalty": (first.amount_cents * 5 + 500) // 1000,
    }
    books_whole(session)
