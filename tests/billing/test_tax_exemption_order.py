"""Exemptions in one step are slices of the value: a higher value never leaves less taxable
value, whatever the exemptions (percent, fixed, above a threshold, with a minimum or a maximum,
in any step), and Florida's additional $25,000 stays the assessed value from $50,000 to $75,000.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.levy_format import parse_levy
from billing.levy_spec import STEPS
from billing.tax import compute_parcel_tax
from core.money import ROUNDING_RULES
from tests.billing.test_tax import exemption, small_levy

TOWN_RATE = {"jurisdiction": "town", "name": "Town", "kind": "city", "rate": "1"}


def florida_with(*extra):
    """Florida's two homestead exemptions, then the given ones, on one levy at 1% of value."""
    return small_levy(
        class_ratios={"residential": "1"},
        exemptions=[
            exemption("homestead", "fixed", "25000"),
            exemption("additional", "fixed", "25000", above="50000"),
            *extra,
        ],
    )


def taxable(spec, *, assessed=None, market=None, flags=("homestead",), rounding="half_up"):
    """The taxable value of a parcel under a one-levy document."""
    return compute_parcel_tax(
        spec,
        market_value_cents=market,
        assessed_value_cents=assessed,
        property_class="residential",
        exemption_flags=list(flags),
        rounding=rounding,
    ).taxable_value_cents


def test_florida_additional_exemption_is_the_assessed_value_from_50000_to_75000():
    spec = florida_with()
    figures = {
        value: taxable(spec, assessed=value * 100) // 100
        for value in (20_000, 50_000, 60_000, 75_000, 100_000)
    }
    assert figures == {20_000: 0, 50_000: 25_000, 60_000: 25_000, 75_000: 25_000, 100_000: 50_000}


def test_a_percentage_next_to_an_exemption_above_a_threshold_never_lowers_a_higher_value():
    # A 20% exemption takes a fifth of every dollar; the additional $25,000 then takes what is
    # left of the dollars from $50,000 up. Taken each of the whole value, $61,000 was left
    # $37,800 and $60,000 was left $38,000.
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[
            exemption("senior", "percent", "20"),
            exemption("additional", "fixed", "25000", above="50000"),
        ],
    )
    left = {value: taxable(spec, assessed=value * 100) for value in (60_000, 61_000, 90_000)}
    assert left == {60_000: 40_000_00, 61_000: 40_000_00, 90_000: 47_000_00}


def test_two_exemptions_above_one_threshold_take_the_next_dollars_not_the_same_ones():
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[
            exemption("band", "fixed", "25000", above="50000"),
            exemption("more", "fixed", "10000", above="50000"),
        ],
    )
    bills = {
        value: compute_parcel_tax(
            spec,
            market_value_cents=None,
            assessed_value_cents=value * 100,
            property_class="residential",
            exemption_flags=["homestead"],
        )
        for value in (55_000, 60_000, 100_000)
    }
    assert {v: b.taxable_value_cents for v, b in bills.items()} == {
        55_000: 50_000_00,
        60_000: 50_000_00,
        100_000: 65_000_00,
    }
    assert [(e.code, e.value_removed_cents) for e in bills[100_000].exemptions_applied] == [
        ("band", 25_000_00),
        ("more", 10_000_00),
    ]


def test_two_percentages_in_one_step_do_not_compound():
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[exemption("a", "percent", "20"), exemption("b", "percent", "30")],
    )
    assert taxable(spec, assessed=200_000_00) == 100_000_00


def test_a_percentage_is_of_the_whole_step_value_wherever_the_document_lists_it():
    # A town's $10,000 homestead and 10% senior exemption: $10,000 + 10% of the value.
    def removed(order):
        spec = small_levy(class_ratios={"residential": "1"}, exemptions=order)
        bill = compute_parcel_tax(
            spec,
            market_value_cents=None,
            assessed_value_cents=237_500_00,
            property_class="residential",
            exemption_flags=["homestead"],
        )
        return bill.taxable_value_cents, sorted(
            (e.code, e.value_removed_cents) for e in bill.exemptions_applied
        )

    homestead = exemption("homestead", "fixed", "10000")
    senior = exemption("senior", "percent", "10")
    expected = (203_750_00, [("homestead", 10_000_00), ("senior", 23_750_00)])
    assert removed([homestead, senior]) == removed([senior, homestead]) == expected


def test_what_each_exemption_removes_is_rounded_by_the_towns_rule_and_adds_up():
    # A third of $100.01: $33.336..., removed $33.34 half-up, $33.33 down, $33.34 up.
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[exemption("third", "percent", "33.3333")],
    )
    for rule, removed in (("half_up", 33_34), ("down", 33_33), ("up", 33_34)):
        bill = compute_parcel_tax(
            spec,
            market_value_cents=None,
            assessed_value_cents=100_01,
            property_class="residential",
            exemption_flags=["homestead"],
            rounding=rule,
        )
        exact = Decimal(100_01) * Decimal("33.3333") / 100
        assert abs(bill.exemptions_applied[0].value_removed_cents - exact) < 1
        assert bill.exemptions_applied[0].value_removed_cents == removed
        assert bill.taxable_value_cents == 100_01 - removed


# Hypothesis: any exemptions, any values.

AMOUNTS = st.integers(1, 150_000)


@st.composite
def exemption_sets(draw):
    """One to four exemptions a homestead gets, often in one step, near each other in size."""
    shared = draw(st.sampled_from([*STEPS, None]))
    items = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["fixed", "percent"]))
        item = exemption(f"e{i}", kind, "1", step=shared or draw(st.sampled_from(STEPS)))
        if kind == "fixed":
            item["amount"] = str(draw(AMOUNTS))
        else:
            item["amount"] = format(draw(st.integers(1, 10_000)) / Decimal(100), "f")
            low, high = sorted(draw(st.lists(AMOUNTS, min_size=2, max_size=2)))
            if draw(st.booleans()):
                item["minimum"] = str(low)
            if draw(st.booleans()):
                item["maximum"] = str(high)
        if draw(st.booleans()):
            item["above"] = str(draw(st.integers(0, 150_000)))
        items.append(item)
    return items


@st.composite
def levy_documents(draw):
    """A valid document: the exemptions, a levy honouring all and one honouring some."""
    items = draw(exemption_sets())
    codes = [item["code"] for item in items]
    rate = {"basis": "mills", "rate": draw(st.sampled_from(["1", "20.6215", "0.000001"]))}
    some = {
        **TOWN_RATE,
        "jurisdiction": "school",
        "name": "School",
        "kind": "school",
        "basis": "per_100",
        "rate": "0.9966",
        "exemptions": draw(st.lists(st.sampled_from(codes), unique=True)),
    }
    return {
        "version": 1,
        "tax_year": 2024,
        "equalization_factor": draw(st.sampled_from(["1", "2.9237", "0.85"])),
        "class_ratios": {
            "residential": draw(st.sampled_from(["1", "0.10", "0.9877", "0.3333", "1.5"]))
        },
        "exemptions": items,
        "levies": [{**TOWN_RATE, **rate}, some],
        "installments": [{"due": "2024-12-31"}],
    }


VALUES = st.integers(0, 400_000_00)
RISES = st.integers(0, 5) | st.integers(0, 10_000_00)
RULES = st.sampled_from(sorted(ROUNDING_RULES))


def corners(document, by_market):
    """The parcel values (cents) where an exemption of the document starts or stops taking:
    its threshold, the threshold plus its amount, its minimum or maximum over its share; in
    market value for a parcel known by it, in assessed value otherwise."""
    level = Decimal(document["class_ratios"]["residential"]) * Decimal(
        document["equalization_factor"]
    )
    found = []
    for item in document["exemptions"]:
        above = Decimal(item.get("above", "0"))
        edges = [above]
        if item["kind"] == "fixed":
            edges.append(above + Decimal(item["amount"]))
        else:
            share = Decimal(item["amount"]) / 100
            edges += [above + Decimal(item[k]) / share for k in ("minimum", "maximum") if k in item]
        for edge in filter(None, edges):
            if item["applies_to"] == "market":
                edge = edge if by_market else edge * level
            elif by_market:
                edge /= level
            found.append(int(edge * 100))
    return found


@st.composite
def cases(draw, by_market):
    """A document and a value: anywhere, or near where one of its exemptions starts or stops."""
    document = draw(levy_documents())
    value = draw(VALUES)
    edges = corners(document, by_market)
    if edges and draw(st.integers(0, 3)):
        edge = draw(st.sampled_from(edges))
        value = max(0, edge + draw(st.integers(-2_000_00, 2_000_00)))
    return document, value


def bill(spec, market, assessed, rule):
    """A homestead's bill."""
    return compute_parcel_tax(
        spec,
        market_value_cents=market,
        assessed_value_cents=assessed,
        property_class="residential",
        exemption_flags=["homestead"],
        rounding=rule,
    )


def assert_never_lower(lower, higher):
    """Each levy's taxable value and tax, and the bill's, are no lower on the higher value."""
    assert higher.taxable_value_cents >= lower.taxable_value_cents
    for low, high in zip(lower.lines, higher.lines, strict=True):
        assert high.quantity >= low.quantity, low.source
        assert high.amount_cents >= low.amount_cents, low.source
    assert higher.total_cents >= lower.total_cents


@settings(deadline=None, max_examples=600)
@given(cases(by_market=True), RISES, RULES)
def test_a_higher_market_value_never_leaves_less_taxable_value(case, rise, rule):
    document, value = case
    spec = parse_levy(document)
    assert_never_lower(bill(spec, value, None, rule), bill(spec, value + rise, None, rule))


@settings(deadline=None, max_examples=600)
@given(cases(by_market=False), RISES, RULES)
def test_a_higher_assessed_value_never_leaves_less_taxable_value(case, rise, rule):
    document, value = case
    spec = parse_levy(document)
    assert_never_lower(bill(spec, None, value, rule), bill(spec, None, value + rise, rule))


@settings(deadline=None, max_examples=300)
@given(cases(by_market=False), VALUES, RISES, RULES)
def test_a_higher_assessed_value_never_leaves_less_whatever_the_market_value(
    case, market, rise, rule
):
    document, value = case
    spec = parse_levy(document)
    assert_never_lower(bill(spec, market, value, rule), bill(spec, market, value + rise, rule))


@settings(deadline=None, max_examples=300)
@given(levy_documents(), VALUES, RULES)
def test_what_the_exemptions_remove_adds_up_to_the_value_they_leave(document, value, rule):
    spec = parse_levy(document)
    taxed = bill(spec, value, None, rule)
    for line in taxed.lines:
        removed = sum(
            e.value_removed_cents for e in taxed.exemptions_applied if line.source in e.levies
        )
        assert line.quantity * 100 == taxed.equalized_value_cents - removed
