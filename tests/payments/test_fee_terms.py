"""Convenience fee rules: bad rules refused with the reason, and the fee each rule gives."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.fee_terms import (
    LEGAL_PERCENT_LIMIT,
    FeeKind,
    FeeRuleError,
    fee_cents,
    parse_terms,
)

TIERS = [
    {"from_cents": 0, "to_cents": 100_00, "flat_cents": 150},
    {"from_cents": 100_00, "to_cents": 500_00, "flat_cents": 0, "percent": "2.0"},
    {"from_cents": 500_00, "to_cents": None, "flat_cents": 500, "percent": "1.5"},
]


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        ({"kind": "flat", "flat_cents": -100}, "flat_cents", "cannot be negative"),
        ({"kind": "percentage", "percent": "-1"}, "percent", "cannot be negative"),
        (
            {"kind": "percentage", "percent": "2", "minimum_cents": -5},
            "minimum_cents",
            "cannot be negative",
        ),
        (
            {"kind": "percentage", "percent": "2.5", "minimum_cents": 300, "cap_cents": 200},
            "cap_cents",
            "below the minimum",
        ),
        ({"kind": "percentage", "percent": "3.5"}, "percent", "over the legal limit of 3.00 %"),
        ({"kind": "percentage", "percent": 2.5}, "percent", "decimal string"),
        (
            {
                "kind": "tiered",
                "tiers": [
                    {"from_cents": 0, "to_cents": 200_00, "flat_cents": 100},
                    {"from_cents": 150_00, "to_cents": None, "flat_cents": 300},
                ],
            },
            "tiers",
            "overlap",
        ),
        (
            {
                "kind": "tiered",
                "tiers": [
                    {"from_cents": 0, "to_cents": 100_00, "flat_cents": 100},
                    {"from_cents": 120_00, "to_cents": None, "flat_cents": 300},
                ],
            },
            "tiers",
            "no tier covers 10000 to 12000 cents",
        ),
        (
            {"kind": "tiered", "tiers": [{"from_cents": 0, "to_cents": 100_00, "flat_cents": 1}]},
            "tiers",
            "the last tier has no end",
        ),
        (
            {"kind": "tiered", "tiers": [{"from_cents": 0, "to_cents": None, "percent": "4"}]},
            "tiers[1].percent",
            "over the legal limit",
        ),
        ({"kind": "tiered", "tiers": []}, "tiers", "at least one tier"),
        ({"kind": "surcharge"}, "kind", "one of none, flat, percentage, tiered"),
        ({"kind": "none", "flat_cents": 100}, "kind", "names no amounts"),
    ],
)
def test_a_bad_rule_is_refused_with_the_field_and_the_reason(rule, field, reason):
    with pytest.raises(FeeRuleError) as refused:
        parse_terms(rule)
    assert refused.value.field == field
    assert reason in refused.value.message


@pytest.mark.parametrize(
    ("rule", "amount", "fee"),
    [
        ({"kind": "none"}, 10784, 0),
        ({"kind": "flat", "flat_cents": 295}, 10784, 295),
        ({"kind": "percentage", "percent": "2.5"}, 10784, 270),  # 269.6 rounds half up
        ({"kind": "percentage", "percent": "2.5"}, 10780, 270),  # 269.5 rounds half up
        ({"kind": "percentage", "percent": "2.5", "minimum_cents": 195}, 2000, 195),
        ({"kind": "percentage", "percent": "2.5", "cap_cents": 2500}, 500_000, 2500),
        ({"kind": "tiered", "tiers": TIERS}, 99_99, 150),
        ({"kind": "tiered", "tiers": TIERS}, 100_00, 200),
        ({"kind": "tiered", "tiers": TIERS}, 1000_00, 2000),
        ({"kind": "tiered", "tiers": TIERS, "cap_cents": 1500}, 1000_00, 1500),
    ],
)
def test_the_fee_follows_the_rule_its_minimum_and_its_cap(rule, amount, fee):
    assert fee_cents(parse_terms(rule), amount) == fee


percentages = st.decimals(
    min_value=Decimal("0.001"), max_value=LEGAL_PERCENT_LIMIT, places=3, allow_nan=False
)
amounts = st.integers(min_value=1, max_value=10_000_000_00)


@given(
    percent=percentages,
    minimum=st.integers(min_value=0, max_value=1000),
    extra=st.integers(min_value=0, max_value=10_000),
    first=amounts,
    second=amounts,
)
def test_a_percentage_fee_is_never_negative_never_above_its_cap_and_grows_with_the_amount(
    percent, minimum, extra, first, second
):
    terms = parse_terms(
        {
            "kind": "percentage",
            "percent": str(percent),
            "minimum_cents": minimum,
            "cap_cents": minimum + extra,
        }
    )
    low, high = sorted((first, second))
    assert 0 <= fee_cents(terms, low) <= fee_cents(terms, high) <= minimum + extra


@given(
    cuts=st.lists(
        st.integers(min_value=1, max_value=1_000_000), min_size=0, max_size=4, unique=True
    ),
    flats=st.lists(st.integers(min_value=0, max_value=5000), min_size=5, max_size=5),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=20_000)),
    amount=amounts,
)
def test_a_tiered_fee_is_never_negative_nor_above_its_cap(cuts, flats, cap, amount):
    bounds = [0, *sorted(cuts), None]
    tiers = [
        {"from_cents": start, "to_cents": end, "flat_cents": flat, "percent": "1.25"}
        for start, end, flat in zip(bounds, bounds[1:], flats, strict=False)
    ]
    terms = parse_terms({"kind": "tiered", "tiers": tiers, "cap_cents": cap})
    assert terms.kind == FeeKind.TIERED
    fee = fee_cents(terms, amount)
    assert fee >= 0
    assert cap is None or fee <= cap
