"""The terms of a payment plan on plain values: the schedule adds up, the rule's limits are
refused with their reason, and payments cover installments in order."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.arrangements_terms import (
    Installment,
    PlanError,
    Terms,
    add_months,
    check_terms,
    even_schedule,
    minimum_down,
    standing,
)

TERMS = Terms(("utility",), Decimal("10"), 2_500, 6, 500_000, 10)
START = date(2026, 11, 30)


def check(owed=None, groups=("utility",), down=5_000, schedule=None):
    owed = owed or {"utility": 30_000, "tax": 90_000}
    schedule = schedule or even_schedule(owed["utility"], down, 3, START)
    return check_terms(
        TERMS, owed_by_group=owed, asked_groups=groups, down_cents=down, schedule=schedule
    )


@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=1, max_value=60),
)
def test_an_even_schedule_always_adds_up_to_the_balance(included, down, count):
    down = min(down, included)
    schedule = even_schedule(included, down, count, START)
    assert sum(i.amount_cents for i in schedule) == included
    amounts = [i.amount_cents for i in schedule[1:]]
    assert max(amounts) - min(amounts) <= 1


def test_installments_fall_monthly_on_the_same_day_or_the_months_last():
    schedule = even_schedule(10_000, 1_000, 3, date(2026, 11, 30))
    assert [i.due_date for i in schedule] == [
        date(2026, 11, 30),
        date(2026, 12, 30),
        date(2027, 1, 30),
        date(2027, 2, 28),
    ]
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)


def test_a_plan_within_the_rule_includes_the_past_due_balance_of_its_classes():
    assert check() == 30_000


def test_installments_that_do_not_add_up_to_the_included_balance_are_refused():
    schedule = [Installment(0, START, 5_000), Installment(1, date(2026, 12, 30), 20_000)]
    with pytest.raises(PlanError, match=r"add up to \$250.00, not the included balance of \$300"):
        check(schedule=schedule)


def test_a_down_payment_below_the_minimum_is_refused():
    # 10% of $300.00 is $30.00; the rule's floor of $25.00 is lower.
    assert minimum_down(TERMS, 30_000) == 3_000
    with pytest.raises(PlanError, match=r"at least \$30.00") as refused:
        check(down=2_999, schedule=even_schedule(30_000, 2_999, 3, START))
    assert refused.value.field == "down_payment"


def test_more_installments_than_the_rule_allows_are_refused():
    with pytest.raises(PlanError, match="at most 6 installments, not 7") as refused:
        check(schedule=even_schedule(30_000, 5_000, 7, START))
    assert refused.value.field == "installments"


def test_a_class_the_rule_excludes_is_refused():
    with pytest.raises(PlanError, match="do not allow property tax") as refused:
        check(groups=("utility", "tax"))
    assert refused.value.field == "classes"


def test_a_balance_above_the_rules_most_is_refused():
    with pytest.raises(PlanError, match=r"at most \$5,000.00"):
        check(owed={"utility": 600_000}, down=100_000)


def test_nothing_past_due_is_refused():
    with pytest.raises(PlanError, match="no past-due balance"):
        check(owed={"tax": 5_000}, schedule=[Installment(0, START, 5_000)])


SCHEDULE = even_schedule(30_000, 6_000, 3, START)  # 6000 now, then 8000 x 3


@pytest.mark.parametrize(
    "paid, day, due_now, missed",
    [
        (0, date(2026, 11, 30), 6_000, None),
        (0, date(2026, 12, 10), 6_000, None),  # the tenth grace day
        (0, date(2026, 12, 11), 6_000, 0),  # past the grace days: the down payment is missed
        (6_000, date(2027, 1, 9), 8_000, None),  # due December 30: its tenth grace day
        (6_000, date(2027, 1, 10), 8_000, 1),
        (10_000, date(2027, 1, 10), 4_000, 1),  # half an installment is not the installment
        (14_000, date(2027, 1, 10), 0, None),
        (14_000, date(2027, 1, 30), 8_000, None),
    ],
)
def test_an_installment_is_missed_only_past_its_grace_days(paid, day, due_now, missed):
    now = standing(SCHEDULE, paid, day, 10)
    assert now.due_now_cents == due_now
    assert (now.missed.number if now.missed else None) == missed


def test_a_plan_paid_in_full_is_complete_whatever_the_day():
    now = standing(SCHEDULE, 30_000, date(2026, 12, 1), 10)
    assert now.complete and now.missed is None and now.next_unpaid is None
