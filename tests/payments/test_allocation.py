"""Allocation: a payment settles the oldest due first, charges before principal, the rest is credit."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.allocation import Allocation, Owed, Part, allocate, refund_parts

D = date


def principal(invoice_id, number, due, cents, installment=0) -> Owed:
    """What is left of an invoice's (or an installment's) principal."""
    return Owed(invoice_id, number, due, installment, None, "principal", None, cents)


def charge(invoice_id, number, due, charge_id, category, assessed, cents, installment=0) -> Owed:
    """A penalty or interest charge assessed on an invoice (or an installment)."""
    return Owed(invoice_id, number, due, installment, charge_id, category, assessed, cents)


def settled(allocation: Allocation) -> list[tuple[str, int, int | None, str, int]]:
    """The parts as (invoice number, installment, charge id, category, cents), as the table states them."""
    return [
        (p.invoice_number, p.installment_number, p.charge_id, p.category, p.cents)
        for p in allocation.parts
    ]


def key(item: Owed | Part) -> tuple[int, int, int | None]:
    """What an item or a part settles: (invoice id, installment, charge id)."""
    return (item.invoice_id, item.installment_number, item.charge_id)


def settlement_rank(item: Owed) -> tuple:
    """The order the municipality settles in, written out: oldest due first, charges before principal."""
    is_principal = item.charge_id is None
    return (
        item.due_date,
        item.invoice_id,
        item.installment_number,
        is_principal,
        item.assessed_on or date.min,
        item.charge_id or 0,
    )


# Two water and sewer bills on one account, and the 10% late charge on the first.
MARCH_BILL = principal(101, "2027-000101", D(2027, 3, 15), 84_37)
MARCH_LATE_CHARGE = charge(101, "2027-000101", D(2027, 3, 15), 7, "penalty", D(2027, 3, 16), 8_44)
APRIL_BILL = principal(102, "2027-000102", D(2027, 4, 15), 91_20)
UTILITY_ACCOUNT = [APRIL_BILL, MARCH_BILL, MARCH_LATE_CHARGE]

# A property tax bill in two installments; the first is late: a 5% penalty, then 1% a month.
TAX = (201, "2027-000201")
FIRST_HALF = principal(*TAX, D(2027, 6, 30), 1200_00, installment=1)
SECOND_HALF = principal(*TAX, D(2027, 12, 31), 1200_00, installment=2)
FIRST_HALF_PENALTY = charge(*TAX, D(2027, 6, 30), 30, "penalty", D(2027, 7, 1), 60_00, 1)
JULY_INTEREST = charge(*TAX, D(2027, 6, 30), 31, "interest", D(2027, 7, 1), 12_00, 1)
AUGUST_INTEREST = charge(*TAX, D(2027, 6, 30), 29, "interest", D(2027, 8, 1), 12_00, 1)
TAX_ACCOUNT = [SECOND_HALF, AUGUST_INTEREST, FIRST_HALF, JULY_INTEREST, FIRST_HALF_PENALTY]

# (payment, what is owed, invoices the resident chose, expected parts, expected credit)
REAL_PAYMENTS = {
    "two utility bills and a late charge, paid in full": (
        184_01,
        UTILITY_ACCOUNT,
        None,
        [
            ("2027-000101", 0, 7, "penalty", 8_44),
            ("2027-000101", 0, None, "principal", 84_37),
            ("2027-000102", 0, None, "principal", 91_20),
        ],
        0,
    ),
    "two utility bills and a late charge, the newer one partly paid": (
        150_00,
        UTILITY_ACCOUNT,
        None,
        [
            ("2027-000101", 0, 7, "penalty", 8_44),
            ("2027-000101", 0, None, "principal", 84_37),
            ("2027-000102", 0, None, "principal", 57_19),
        ],
        0,
    ),
    "a tax bill: the late first half's penalty and interest, then its tax, then the second half": (
        1300_00,
        TAX_ACCOUNT,
        None,
        [
            ("2027-000201", 1, 30, "penalty", 60_00),
            ("2027-000201", 1, 31, "interest", 12_00),
            ("2027-000201", 1, 29, "interest", 12_00),
            ("2027-000201", 1, None, "principal", 1200_00),
            ("2027-000201", 2, None, "principal", 16_00),
        ],
        0,
    ),
    "a partial payment covers the late charge and part of the bill": (
        50_00,
        [MARCH_BILL, MARCH_LATE_CHARGE],
        None,
        [
            ("2027-000101", 0, 7, "penalty", 8_44),
            ("2027-000101", 0, None, "principal", 41_56),
        ],
        0,
    ),
    "a payment smaller than the late charge settles only part of the charge": (
        5_00,
        [MARCH_BILL, MARCH_LATE_CHARGE],
        None,
        [("2027-000101", 0, 7, "penalty", 5_00)],
        0,
    ),
    "an overpayment becomes account credit": (
        100_00,
        [MARCH_BILL],
        None,
        [("2027-000101", 0, None, "principal", 84_37)],
        15_63,
    ),
    "with nothing owed the whole payment is credit": (25_00, [], None, [], 25_00),
    "a payment for the chosen April bill leaves the older March bill alone": (
        100_00,
        UTILITY_ACCOUNT,
        [102],
        [("2027-000102", 0, None, "principal", 91_20)],
        8_80,
    ),
    "a chosen invoice that is already paid leaves the payment as credit": (
        40_00,
        [MARCH_BILL],
        [102],
        [],
        40_00,
    ),
}


@pytest.mark.parametrize(
    ("amount", "owed", "only", "parts", "credit"), REAL_PAYMENTS.values(), ids=REAL_PAYMENTS.keys()
)
def test_real_payments_settle_as_the_municipality_orders(amount, owed, only, parts, credit):
    allocation = allocate(amount, owed, only_invoices=only)
    assert settled(allocation) == parts
    assert allocation.credit_cents == credit
    assert allocation.applied_cents + allocation.credit_cents == amount


def test_a_payment_settles_the_oldest_invoice_first():
    allocation = allocate(91_20, [APRIL_BILL, MARCH_BILL])
    assert settled(allocation) == [
        ("2027-000101", 0, None, "principal", 84_37),
        ("2027-000102", 0, None, "principal", 6_83),
    ]


def test_a_late_charge_is_settled_before_the_bill_it_was_assessed_on():
    allocation = allocate(10_00, [MARCH_BILL, MARCH_LATE_CHARGE])
    assert [p.category for p in allocation.parts] == ["penalty", "principal"]


def test_interest_is_settled_oldest_assessed_first_whatever_its_charge_id():
    allocation = allocate(84_00, TAX_ACCOUNT)
    assert [p.charge_id for p in allocation.parts] == [30, 31, 29]


def test_installments_of_one_tax_bill_are_settled_by_their_own_due_dates():
    # The second half of an older tax bill falls due after a newer utility bill.
    utility = principal(300, "2027-000300", D(2027, 9, 15), 50_00)
    allocation = allocate(2500_00, [SECOND_HALF, utility, FIRST_HALF])
    assert [(p.invoice_number, p.installment_number) for p in allocation.parts] == [
        ("2027-000201", 1),
        ("2027-000300", 0),
        ("2027-000201", 2),
    ]


def test_invoices_due_the_same_day_are_settled_by_invoice_id():
    water = principal(12, "2027-000012", D(2027, 3, 15), 30_00)
    trash = principal(11, "2027-000011", D(2027, 3, 15), 30_00)
    allocation = allocate(40_00, [water, trash])
    assert [(p.invoice_id, p.cents) for p in allocation.parts] == [(11, 30_00), (12, 10_00)]


def test_a_partial_payment_leaves_the_invoice_partly_paid():
    allocation = allocate(50_00, [MARCH_BILL])
    assert allocation.parts == (Part(101, "2027-000101", 0, None, "principal", 50_00),)
    assert MARCH_BILL.balance_cents - allocation.applied_cents == 34_37
    assert allocation.credit_cents == 0


def test_an_overpayment_becomes_account_credit():
    allocation = allocate(200_00, UTILITY_ACCOUNT)
    assert allocation.applied_cents == 184_01
    assert allocation.credit_cents == 15_99


def test_a_payment_restricted_to_a_chosen_invoice_settles_its_charges_too():
    allocation = allocate(50_00, UTILITY_ACCOUNT, only_invoices={101})
    assert settled(allocation) == [
        ("2027-000101", 0, 7, "penalty", 8_44),
        ("2027-000101", 0, None, "principal", 41_56),
    ]


@pytest.mark.parametrize("amount", [0, -1_00, True, 12.5, Decimal("1000"), "1000", None])
def test_an_amount_that_is_not_a_positive_number_of_cents_is_refused(amount):
    with pytest.raises(ValueError, match="amount_cents must be a positive int"):
        allocate(amount, [MARCH_BILL])


BAD_OWED = {
    "a principal with nothing owed": (
        [principal(101, "2027-000101", D(2027, 3, 15), 0)],
        "balance_cents of invoice 2027-000101 .* must be a positive int",
    ),
    "a charge with a negative balance": (
        [charge(101, "2027-000101", D(2027, 3, 15), 7, "penalty", D(2027, 3, 16), -1)],
        "balance_cents of .* penalty charge 7 must be a positive int",
    ),
    "a balance in dollars": (
        [principal(101, "2027-000101", D(2027, 3, 15), 84.37)],
        "balance_cents .* must be a positive int",
    ),
    "the same late charge twice": (
        [MARCH_LATE_CHARGE, MARCH_LATE_CHARGE],
        "penalty charge 7 is listed twice",
    ),
    "the same principal twice": ([MARCH_BILL, MARCH_BILL], "2027-000101 .* principal is listed"),
    "a charge called principal": (
        [charge(101, "2027-000101", D(2027, 3, 15), 7, "principal", D(2027, 3, 16), 8_44)],
        "a principal must not carry a charge_id",
    ),
    "a principal called a penalty": (
        [Owed(101, "2027-000101", D(2027, 3, 15), 0, None, "penalty", None, 84_37)],
        "no charge_id, so its category must be 'principal'",
    ),
    "a charge of an unknown kind": (
        [charge(101, "2027-000101", D(2027, 3, 15), 7, "surcharge", D(2027, 3, 16), 8_44)],
        "category must be 'penalty', 'interest', 'fee' or 'principal'",
    ),
    "a charge without the date it was assessed": (
        [charge(101, "2027-000101", D(2027, 3, 15), 7, "penalty", None, 8_44)],
        "must have the date it was assessed on",
    ),
    "a charge due on another day than its invoice": (
        [MARCH_BILL, charge(101, "2027-000101", D(2027, 4, 1), 7, "penalty", D(2027, 4, 2), 8_44)],
        "is due 2027-04-01, but the rest of it is due 2027-03-15",
    ),
    "one invoice under two numbers": (
        [MARCH_BILL, principal(101, "2027-000999", D(2027, 3, 15), 1_00, installment=1)],
        "listed as both '2027-000101' and '2027-000999'",
    ),
    "a due date with a time of day": (
        [principal(101, "2027-000101", datetime(2027, 3, 15, 12, 0), 84_37)],
        "due_date of invoice 2027-000101 .* must be a date",
    ),
}


@pytest.mark.parametrize(("owed", "message"), BAD_OWED.values(), ids=BAD_OWED.keys())
def test_what_cannot_be_owed_is_refused_by_name(owed, message):
    with pytest.raises(ValueError, match=message):
        allocate(100_00, owed)


def test_an_empty_choice_of_invoices_is_refused():
    with pytest.raises(ValueError, match="only_invoices is empty"):
        allocate(100_00, UTILITY_ACCOUNT, only_invoices=[])


def test_a_refund_takes_back_the_newest_invoices_principal_before_its_charges():
    allocation = allocate(1300_00, TAX_ACCOUNT)
    taken = refund_parts(allocation.parts, 40_00)
    assert [(p.installment_number, p.charge_id, p.category, p.cents) for p in taken] == [
        (2, None, "principal", 16_00),
        (1, None, "principal", 24_00),
    ]


def test_a_refund_of_the_whole_payment_takes_back_every_part_in_reverse():
    allocation = allocate(184_01, UTILITY_ACCOUNT)
    assert refund_parts(allocation.parts, 184_01) == list(reversed(allocation.parts))


def test_a_refund_larger_than_what_was_put_on_invoices_is_refused():
    allocation = allocate(100_00, [MARCH_BILL])
    with pytest.raises(ValueError, match="refund of 8438 cents exceeds the 8437 cents"):
        refund_parts(allocation.parts, 84_38)


def test_a_refund_of_nothing_takes_nothing_back():
    assert refund_parts(allocate(50_00, [MARCH_BILL]).parts, 0) == []


@pytest.mark.parametrize("refund", [-1, True, 10.0, Decimal("10")])
def test_a_refund_that_is_not_a_number_of_cents_is_refused(refund):
    with pytest.raises(ValueError, match="refund_cents must be an int"):
        refund_parts(allocate(50_00, [MARCH_BILL]).parts, refund)


# --- what must always hold ---------------------------------------------------------

DUE_DATES = st.dates(min_value=D(2027, 1, 1), max_value=D(2027, 1, 10))
BALANCES = st.integers(min_value=1, max_value=10**7)


@st.composite
def accounts_owing(draw) -> list[Owed]:
    """What an account owes: invoices, some in installments, with penalties and interest."""
    owed: list[Owed] = []
    for invoice_id in draw(st.lists(st.integers(1, 40), unique=True, max_size=6)):
        number = f"2027-{invoice_id:06d}"
        for installment in draw(st.sampled_from([[0], [1], [1, 2], [2, 3]])):
            due = draw(DUE_DATES)
            if draw(st.booleans()):
                owed.append(principal(invoice_id, number, due, draw(BALANCES), installment))
            charge_ids = draw(st.lists(st.integers(1, 10**6), unique=True, max_size=3))
            for charge_id in charge_ids:
                category = draw(st.sampled_from(["penalty", "interest"]))
                assessed = draw(DUE_DATES)
                owed.append(
                    charge(
                        invoice_id,
                        number,
                        due,
                        charge_id,
                        category,
                        assessed,
                        draw(BALANCES),
                        installment,
                    )
                )
    return owed


PAYMENTS = st.integers(min_value=1, max_value=6 * 10**7)


def assert_settled_in_order(allocation: Allocation, eligible: list[Owed]) -> None:
    """Each part is within its item's balance, and an item is touched only after all before it are settled."""
    ordered = sorted(eligible, key=settlement_rank)
    parts = list(allocation.parts)
    assert [key(p) for p in parts] == [key(item) for item in ordered[: len(parts)]]
    for part, item in zip(parts, ordered, strict=False):
        assert 0 < part.cents <= item.balance_cents
        assert (part.category, part.invoice_number) == (item.category, item.invoice_number)
    assert all(p.cents == item.balance_cents for p, item in zip(parts[:-1], ordered, strict=False))
    if allocation.credit_cents:
        assert len(parts) == len(ordered)
        assert all(p.cents == item.balance_cents for p, item in zip(parts, ordered, strict=True))


@given(amount=PAYMENTS, owed=accounts_owing())
def test_parts_and_credit_always_add_up_to_the_payment(amount, owed):
    allocation = allocate(amount, owed)
    assert allocation.applied_cents + allocation.credit_cents == amount
    assert allocation.credit_cents >= 0
    assert all(p.cents > 0 for p in allocation.parts)


@given(amount=PAYMENTS, owed=accounts_owing())
def test_an_item_is_touched_only_when_everything_before_it_is_settled(amount, owed):
    assert_settled_in_order(allocate(amount, owed), owed)


@given(amount=PAYMENTS, owed=accounts_owing(), data=st.data())
def test_a_restricted_payment_settles_only_the_chosen_invoices_in_order(amount, owed, data):
    invoice_ids = sorted({item.invoice_id for item in owed} | {999})
    chosen = data.draw(st.sets(st.sampled_from(invoice_ids), min_size=1))
    allocation = allocate(amount, owed, only_invoices=chosen)
    assert allocation.applied_cents + allocation.credit_cents == amount
    assert_settled_in_order(allocation, [item for item in owed if item.invoice_id in chosen])


@given(amount=PAYMENTS, owed=accounts_owing(), seed=st.integers(0, 2**32))
def test_the_order_the_items_arrive_in_does_not_matter(amount, owed, seed):
    shuffled = list(owed)
    random.Random(seed).shuffle(shuffled)
    assert allocate(amount, shuffled) == allocate(amount, owed)


@given(amount=PAYMENTS, owed=accounts_owing(), data=st.data())
def test_refunds_never_exceed_what_was_allocated_and_come_back_in_reverse(amount, owed, data):
    parts = allocate(amount, owed).parts
    allocated = sum(p.cents for p in parts)
    refund = data.draw(st.integers(0, allocated))
    taken = refund_parts(parts, refund)
    assert sum(p.cents for p in taken) == refund
    newest_first = list(reversed(parts))
    assert [key(p) for p in taken] == [key(p) for p in newest_first[: len(taken)]]
    assert all(0 < t.cents <= p.cents for t, p in zip(taken, newest_first, strict=False))
    assert all(t == p for t, p in zip(taken[:-1], newest_first, strict=False))
    with pytest.raises(ValueError, match="exceeds"):
        refund_parts(parts, allocated + data.draw(st.integers(1, 10**6)))


@given(amount=PAYMENTS, owed=accounts_owing())
def test_a_payment_settles_what_is_owed_up_to_its_amount_and_the_rest_is_credit(amount, owed):
    allocation = allocate(amount, owed)
    total_owed = sum(item.balance_cents for item in owed)
    assert allocation.applied_cents == min(amount, total_owed)
    assert allocation.credit_cents == max(amount - total_owed, 0)
    settled_once = [key(p) for p in allocation.parts]
    assert len(settled_once) == len(set(settled_once))


@given(first=PAYMENTS, second=PAYMENTS, owed=accounts_owing())
def test_two_payments_settle_what_one_payment_of_their_sum_would(first, second, owed):
    """Paying in two goes (the second against what the first left) ends where one payment does."""
    one = allocate(first, owed)
    paid = {key(p): p.cents for p in one.parts}
    left = [
        replace(item, balance_cents=item.balance_cents - paid.get(key(item), 0))
        for item in owed
        if item.balance_cents > paid.get(key(item), 0)
    ]
    two = allocate(second, left)
    together = allocate(first + second, owed)
    settled: dict = {}
    for part in [*one.parts, *two.parts]:
        settled[key(part)] = settled.get(key(part), 0) + part.cents
    assert settled == {key(p): p.cents for p in together.parts}
    assert one.credit_cents + two.credit_cents == together.credit_cents
