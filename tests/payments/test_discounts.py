"""Early-payment discounts chosen for a payment: in time and in full, or not at all."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from payments.allocation import Owed, allocate
from payments.discounts import Offer, best_offers, honoured, spread

PAY_BY = date(2023, 11, 30)


def installment(invoice_id, number, due, cents) -> Owed:
    """What is left of one installment of a tax bill."""
    return Owed(invoice_id, f"2023-{invoice_id:06d}", due, number, None, "principal", None, cents)


def offer(invoice_id, cents, pay_by=PAY_BY) -> Offer:
    """A discount on offer for paying an invoice in full by pay_by."""
    return Offer(invoice_id, pay_by, cents, gl_account_id=99)


BILL = [installment(1, 1, date(2024, 3, 31), 3_579_96)]


def test_the_discounted_amount_by_the_date_earns_the_discount():
    assert honoured(3_436_76, BILL, [offer(1, 143_20)], PAY_BY) == {
        (1, 0): (offer(1, 143_20), {1: 143_20})
    }


def test_a_day_late_or_a_cent_short_earns_nothing():
    assert honoured(3_436_76, BILL, [offer(1, 143_20)], date(2023, 12, 1)) == {}
    assert honoured(3_436_75, BILL, [offer(1, 143_20)], PAY_BY) == {}


def test_the_largest_discount_still_open_is_given():
    offers = [offer(1, 143_20), offer(1, 107_40, date(2023, 12, 31))]
    assert best_offers(offers, PAY_BY)[(1, 0)].discount_cents == 143_20
    assert best_offers(offers, date(2023, 12, 1))[(1, 0)].discount_cents == 107_40
    assert best_offers(offers, date(2024, 1, 1)) == {}


def test_a_discount_on_a_bill_in_installments_comes_off_the_last_installment_first():
    assert spread(150_00, [(1, 1_000_00), (2, 100_00)]) == {2: 100_00, 1: 50_00}


def test_an_older_bill_is_paid_first_and_a_newer_one_loses_its_discount_if_money_runs_out():
    older = installment(1, 1, date(2023, 10, 31), 500_00)
    newer = installment(2, 1, date(2024, 3, 31), 1_000_00)
    offers = [offer(2, 40_00)]
    assert honoured(1_460_00, [older, newer], offers, PAY_BY) == {(2, 0): (offers[0], {1: 40_00})}
    assert honoured(1_459_99, [older, newer], offers, PAY_BY) == {}


cents = st.integers(1, 10_000_00)


@given(
    payment=cents,
    balances=st.lists(cents, min_size=1, max_size=4),
    discounts=st.lists(st.integers(1, 500_00), min_size=1, max_size=4),
)
def test_a_discount_is_given_only_when_the_payment_settles_that_bill_in_full(
    payment, balances, discounts
):
    owed = [installment(i + 1, 1, date(2024, 1, 1 + i), c) for i, c in enumerate(balances)]
    offers = [offer(i + 1, d) for i, d in enumerate(discounts[: len(owed)])]
    grants = honoured(payment, owed, offers, PAY_BY)
    reduced = []
    for item in owed:
        cut = grants.get((item.invoice_id, 0), (None, {}))[1].get(1, 0)
        if item.balance_cents - cut > 0:
            reduced.append(Owed(**{**item.__dict__, "balance_cents": item.balance_cents - cut}))
    allocation = allocate(payment, reduced)
    paid = {}
    for part in allocation.parts:
        paid[part.invoice_id] = paid.get(part.invoice_id, 0) + part.cents
    for item in owed:
        if (item.invoice_id, 0) in grants:
            cut = sum(grants[(item.invoice_id, 0)][1].values())
            assert cut <= item.balance_cents
            assert paid.get(item.invoice_id, 0) + cut == item.balance_cents
    assert allocation.applied_cents + allocation.credit_cents == payment


PLAN = [
    installment(1, 1, date(2023, 6, 30), 900_00),
    installment(1, 2, date(2023, 9, 30), 900_00),
]


def plan_offer(number, cents, pay_by) -> Offer:
    """A discount for paying one installment of the plan by pay_by."""
    return Offer(1, pay_by, cents, gl_account_id=99, installment_number=number)


def test_an_installment_discount_needs_only_its_installment_paid_in_time():
    first = plan_offer(1, 54_00, date(2023, 6, 30))
    second = plan_offer(2, 40_50, date(2023, 9, 30))
    assert honoured(846_00, PLAN, [first, second], date(2023, 6, 30)) == {
        (1, 1): (first, {1: 54_00})
    }
    # A day late: the first installment's discount is gone; the payment is a plain one.
    assert honoured(846_00, PLAN, [first, second], date(2023, 7, 1)) == {}


def test_paying_both_installments_early_earns_both_discounts():
    first = plan_offer(1, 54_00, date(2023, 6, 30))
    second = plan_offer(2, 40_50, date(2023, 9, 30))
    grants = honoured(846_00 + 859_50, PLAN, [first, second], date(2023, 6, 30))
    assert grants == {(1, 1): (first, {1: 54_00}), (1, 2): (second, {2: 40_50})}
