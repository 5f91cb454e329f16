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


# --- what must always hold ------------------------------------------------------------

#: Amounts of cents with up to six decimal places, as a rate times a quantity gives them.
EXACT_AMOUNTS = st.decimals(
    min_value=Decimal(-(10**10)), max_value=Decimal(10**10), places=6, allow_nan=False
)
SYMMETRIC_RULES = ("half_up", "half_even", "up", "down")
ROUNDING_RULES = (*SYMMETRIC_RULES, "floor", "ceiling")


@given(EXACT_AMOUNTS, st.sampled_from(ROUNDING_RULES))
def test_a_line_is_rounded_to_a_neighbouring_cent_in_the_rules_direction(amount, rule):
    cents = to_cents(amount, rule)
    assert abs(cents - amount) < 1
    if rule in ("half_up", "half_even"):
        assert abs(cents - amount) <= Decimal("0.5")
    towards = {
        "floor": cents <= amount,
        "ceiling": cents >= amount,
        "down": abs(cents) <= abs(amount),
        "up": abs(cents) >= abs(amount),
    }
    assert towards.get(rule, True)


@given(st.integers(-(10**10), 10**10), st.sampled_from(["half_up", "half_even"]))
def test_half_a_cent_goes_away_from_zero_or_to_the_even_cent_as_the_rule_says(whole, rule):
    tie = Decimal(whole) + (Decimal("0.5") if whole >= 0 else Decimal("-0.5"))
    away_from_zero = whole + (1 if whole >= 0 else -1)
    if rule == "half_up":
        assert to_cents(tie, rule) == away_from_zero
    else:
        assert to_cents(tie, rule) % 2 == 0
        assert to_cents(tie, rule) in (whole, away_from_zero)


@given(EXACT_AMOUNTS, st.sampled_from(SYMMETRIC_RULES))
def test_a_credit_rounds_like_the_charge_of_the_same_size(amount, rule):
    assert to_cents(-amount, rule) == -to_cents(amount, rule)


@given(EXACT_AMOUNTS)
def test_floor_and_ceiling_mirror_each_other(amount):
    assert to_cents(-amount, "floor") == -to_cents(amount, "ceiling")


@given(st.integers(-(10**12), 10**12), st.sampled_from(ROUNDING_RULES))
def test_whole_cents_pass_through_any_rule_unchanged(cents, rule):
    assert to_cents(Decimal(cents), rule) == cents
    assert dollars_to_cents(Decimal(cents) / 100, rule) == cents


@given(st.integers(0, 10**12))
def test_a_formatted_amount_reads_back_as_the_same_cents(cents):
    assert parse_dollars(format_cents(cents)) == cents


@given(st.integers(-(10**12), 10**12), st.integers(1, 24))
def test_even_parts_differ_by_at_most_a_cent_and_the_leftover_goes_first(total, count):
    parts = split_evenly(total, count)
    assert sum(parts) == total and len(parts) == count
    assert max(parts) - min(parts) <= 1
    magnitudes = [abs(p) for p in parts]
    assert magnitudes == sorted(magnitudes, reverse=True)


WEIGHTS = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any)


@given(st.integers(-(10**12), 10**12), WEIGHTS, st.integers(2, 1000))
def test_a_split_depends_only_on_the_proportions_of_the_weights(total, weights, factor):
    assert split_cents(total, [w * factor for w in weights]) == split_cents(total, weights)


@given(st.integers(-(10**12), 10**12), WEIGHTS)
def test_a_part_of_no_weight_gets_nothing_and_a_negative_total_splits_as_its_mirror(total, weights):
    parts = split_cents(total, weights)
    assert all(part == 0 for part, weight in zip(parts, weights, strict=True) if weight == 0)
    assert split_cents(-total, weights) == [-part for part in parts]
