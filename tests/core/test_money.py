"""Money: rounding once by the municipality's rule, splits that always add up."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    MoneyError,
    dollars_to_cents,
    format_cents,
    parse_dollars,
    split_cents,
    split_evenly,
    to_cents,
)


@pytest.mark.parametrize(
    ("amount", "rule", "cents"),
    [
        (Decimal("12.5"), "half_up", 13),
        (Decimal("12.5"), "half_even", 12),
        (Decimal("13.5"), "half_even", 14),
        (Decimal("12.49"), "half_up", 12),
        (Decimal("12.01"), "up", 13),
        (Decimal("12.99"), "down", 12),
        (Decimal("-12.5"), "half_up", -13),
        (Decimal("-12.5"), "floor", -13),
        (Decimal("-12.5"), "ceiling", -12),
    ],
)
def test_each_rule_rounds_a_line_as_named(amount, rule, cents):
    assert to_cents(amount, rule) == cents


def test_dollars_convert_to_cents_with_one_rounding():
    # 1,234 gallons at $0.004567 per gallon = $5.635678 -> $5.64
    assert dollars_to_cents(Decimal("1234") * Decimal("0.004567")) == 564


def test_a_float_is_refused():
    with pytest.raises(MoneyError):
        to_cents(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "cents"), [("1,234.56", 123456), ("$12", 1200), (" 0.05 ", 5)])
def test_typed_amounts_parse_to_cents(text, cents):
    assert parse_dollars(text) == cents


@pytest.mark.parametrize("text", ["12.345", "abc", "NaN", "Infinity", ""])
def test_amounts_that_are_not_money_are_refused(text):
    with pytest.raises(MoneyError):
        parse_dollars(text)


def test_cents_format_for_people():
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(-5) == "-$0.05"


def test_installments_put_leftover_cents_first():
    assert split_evenly(100_00 + 1, 2) == [50_01, 50_00]
    assert split_evenly(1000, 3) == [334, 333, 333]


def test_split_by_weights_uses_largest_remainder():
    assert split_cents(100, [1, 1, 1]) == [34, 33, 33]
    assert split_cents(1000, [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]) == [500, 300, 200]
    assert split_cents(10, [2, 1]) == [7, 3]


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
        any
    ),
)
def test_split_parts_always_add_up_to_the_total(total, weights):
    parts = split_cents(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    # no part strays more than one cent from its exact share
    exact = [Decimal(total) * w / sum(weights) for w in weights]
    assert all(abs(p - e) < 1 for p, e in zip(parts, exact, strict=True))
