"""Property tax: published levies reproduce to the cent, bad levy files are refused by place,
and the arithmetic holds for any levy: lines rounded once, totals and installments add up.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import RuleError
from billing.levy_format import load_levy_file, parse_levy
from billing.levy_spec import STEPS, levy_to_document
from billing.tax import UNITS, ParcelTaxError, compute_parcel_tax
from core.money import ROUNDING_RULES, dollars_to_cents

EXAMPLES = Path(__file__).parent / "levy_examples"
TEXAS = "texas_travis_2022.yaml"
FLORIDA = "florida_alachua_2023.yaml"
CALIFORNIA = "california_san_francisco_2023.yaml"
WISCONSIN = "wisconsin_oak_creek_2023.yaml"
ILLINOIS = "illinois_chicago_2022.yaml"
NEW_JERSEY = "new_jersey_livingston_2021.json"
FLORIDA_DISCOUNT_DATES = [
    date(2023, 11, 30),
    date(2023, 12, 31),
    date(2024, 1, 31),
    date(2024, 2, 29),
]


def bill_for(name, *, market=None, assessed=None, cls="residential", flags=(), rounding="half_up"):
    """Compute the bill of a parcel under one of the example levy files."""
    return compute_parcel_tax(
        load_levy_file(EXAMPLES / name),
        market_value_cents=market,
        assessed_value_cents=assessed,
        property_class=cls,
        exemption_flags=list(flags),
        rounding=rounding,
    )


# (file, parcel, taxable value, {jurisdiction: line cents}, installment cents, discount cents)
WORKED = [
    pytest.param(
        TEXAS,
        {"assessed": 500_000_00, "flags": ["homestead"]},
        460_000_00,
        {"travis-county": 1_272_96, "austin": 1_850_80, "austin-isd": 4_584_36},
        [7_708_12],
        [],
        id="texas-homestead",
    ),
    pytest.param(
        TEXAS,
        {"assessed": 450_000_00, "flags": ["homestead", "senior"]},
        400_000_00,
        {"travis-county": 795_60, "austin": 1_142_87, "austin-isd": 3_986_40},
        [5_924_87],
        [],
        id="texas-homestead-over-65",
    ),
    pytest.param(
        TEXAS,
        {"assessed": 350_000_00},
        350_000_00,
        {"travis-county": 1_113_84, "austin": 1_619_45, "austin-isd": 3_488_10},
        [6_221_39],
        [],
        id="texas-rental-no-exemptions",
    ),
    pytest.param(
        TEXAS,
        {"assessed": 20_000_00, "flags": ["homestead"]},
        15_000_00,
        {"travis-county": 47_74, "austin": 69_41, "austin-isd": 0},
        [117_15],
        [],
        id="texas-small-homestead-minimum-and-zero-school-value",
    ),
    pytest.param(
        FLORIDA,
        {"assessed": 180_000_00, "flags": ["homestead"]},
        155_000_00,
        {
            "alachua-county": 993_38,
            "alachua-mstu-law": 463_81,
            "alachua-schools": 996_96,
            "sjrwmd": 23_31,
        },
        [2_477_46],
        [99_10, 74_32, 49_55, 24_77],
        id="florida-homestead",
    ),
    pytest.param(
        FLORIDA,
        {"assessed": 60_000_00, "flags": ["homestead"]},
        35_000_00,
        {
            "alachua-county": 191_04,
            "alachua-mstu-law": 89_20,
            "alachua-schools": 225_12,
            "sjrwmd": 4_48,
        },
        [509_84],
        [20_39, 15_30, 10_20, 5_10],
        id="florida-homestead-in-the-50k-to-75k-band",
    ),
    pytest.param(
        FLORIDA,
        {"assessed": 180_000_00},
        180_000_00,
        {
            "alachua-county": 1_375_45,
            "alachua-mstu-law": 642_20,
            "alachua-schools": 1_157_76,
            "sjrwmd": 32_27,
        },
        [3_207_68],
        [128_31, 96_23, 64_15, 32_08],
        id="florida-non-homestead",
    ),
    pytest.param(
        CALIFORNIA,
        {"assessed": 1_200_000_00, "flags": ["homestead"]},
        1_193_000_00,
        {"sf-general-levy": 11_930_00, "sf-voter-debt": 2_119_89},
        [7_024_95, 7_024_94],
        [],
        id="california-homeowners-exemption-odd-cent-on-first-installment",
    ),
    pytest.param(
        CALIFORNIA,
        {"assessed": 2_500_000_00, "cls": "commercial"},
        2_500_000_00,
        {"sf-general-levy": 25_000_00, "sf-voter-debt": 4_442_35},
        [14_721_18, 14_721_17],
        [],
        id="california-commercial",
    ),
    pytest.param(
        WISCONSIN,
        {"assessed": 300_000_00},
        300_000_00,
        {
            "milwaukee-county": 1_353_00,
            "mmsd": 390_00,
            "oak-creek": 1_740_00,
            "oak-creek-franklin-sd": 2_448_00,
            "matc": 255_00,
        },
        [3_093_00, 3_093_00],
        [],
        id="wisconsin-assessed-value",
    ),
    pytest.param(
        WISCONSIN,
        {"market": 250_000_00},
        246_925_00,
        {
            "milwaukee-county": 1_113_63,
            "mmsd": 321_00,
            "oak-creek": 1_432_17,
            "oak-creek-franklin-sd": 2_014_91,
            "matc": 209_89,
        },
        [2_545_80, 2_545_80],
        [],
        id="wisconsin-market-value-times-assessment-ratio",
    ),
    pytest.param(
        ILLINOIS,
        {"market": 300_000_00, "flags": ["homestead"]},
        77_711_00,
        {"chicago-composite": 5_466_97},
        [5_466_97],
        [],
        id="illinois-homeowner-exemption-on-equalized-value",
    ),
    pytest.param(
        ILLINOIS,
        {"market": 300_000_00, "flags": ["homestead", "senior"]},
        69_711_00,
        {"chicago-composite": 4_904_17},
        [4_904_17],
        [],
        id="illinois-homeowner-and-senior",
    ),
    pytest.param(
        ILLINOIS,
        {"market": 1_000_000_00, "cls": "commercial"},
        730_925_00,
        {"chicago-composite": 51_420_57},
        [51_420_57],
        [],
        id="illinois-commercial-at-25-percent",
    ),
    pytest.param(
        NEW_JERSEY,
        {"assessed": 650_000_00},
        650_000_00,
        {"livingston": 15_041_00},
        [3_760_25] * 4,
        [],
        id="new-jersey-quarterly",
    ),
    pytest.param(
        NEW_JERSEY,
        {"market": 700_000_00},
        694_190_00,
        {"livingston": 16_063_56},
        [4_015_89] * 4,
        [],
        id="new-jersey-market-value-times-average-ratio",
    ),
    pytest.param(
        NEW_JERSEY,
        {"assessed": 650_000_00, "flags": ["homestead", "veteran", "disability"]},
        0,
        {"livingston": 0},
        [0] * 4,
        [],
        id="new-jersey-totally-disabled-veteran-owes-nothing",
    ),
]


@pytest.mark.parametrize(
    ("name", "parcel", "taxable", "lines", "installments", "discounts"), WORKED
)
def test_worked_examples_reproduce_to_the_cent(
    name, parcel, taxable, lines, installments, discounts
):
    bill = bill_for(name, **parcel)
    assert {line.source: line.amount_cents for line in bill.lines} == lines
    assert bill.taxable_value_cents == taxable
    assert bill.total_cents == sum(lines.values())
    assert [i.amount_cents for i in bill.installments] == installments
    assert [d.discount_cents for d in bill.discounts] == discounts
    assert [d.amount_due_cents for d in bill.discounts] == [bill.total_cents - d for d in discounts]


def test_every_levy_becomes_one_tax_line_a_resident_can_check():
    bill = bill_for(FLORIDA, assessed=180_000_00, flags=["homestead"])
    school = bill.lines[2]
    assert (school.description, school.category, school.source) == (
        "School Board of Alachua County",
        "tax",
        "alachua-schools",
    )
    assert (school.quantity, school.unit, school.unit_rate) == (
        Decimal("155000.00"),
        "per $1,000 of value",
        Decimal("6.432"),
    )
    assert all(len(line.unit) <= 24 for line in bill.lines)  # invoice_line.unit is 24 wide


def test_each_texas_taxing_unit_applies_only_its_own_homestead_exemptions():
    bill = bill_for(TEXAS, assessed=450_000_00, flags=["homestead", "senior"])
    applied = {(e.code, e.value_removed_cents, e.levies) for e in bill.exemptions_applied}
    assert applied == {
        ("isd-homestead", 40_000_00, ("austin-isd",)),
        ("isd-over65", 10_000_00, ("austin-isd",)),
        ("county-homestead", 90_000_00, ("travis-county",)),
        ("county-over65", 110_000_00, ("travis-county",)),
        ("city-homestead", 90_000_00, ("austin",)),
        ("city-over65", 113_000_00, ("austin",)),
    }


def test_florida_school_taxes_skip_the_second_homestead_exemption():
    bill = bill_for(FLORIDA, assessed=180_000_00, flags=["homestead"])
    by_code = {e.code: e for e in bill.exemptions_applied}
    assert by_code["homestead"].levies == (
        "alachua-county",
        "alachua-mstu-law",
        "alachua-schools",
        "sjrwmd",
    )
    assert "alachua-schools" not in by_code["homestead-additional"].levies
    assert [d.pay_by for d in bill.discounts] == FLORIDA_DISCOUNT_DATES


def test_cook_county_equalizes_the_assessed_value_before_exemptions():
    bill = bill_for(ILLINOIS, market=300_000_00, flags=["homestead"])
    assert (bill.assessed_value_cents, bill.equalized_value_cents) == (30_000_00, 87_711_00)


def test_the_assessed_value_wins_over_market_value_times_ratio():
    bill = bill_for(WISCONSIN, market=250_000_00, assessed=240_000_00)
    assert bill.assessed_value_cents == 240_000_00
    assert bill.market_value_cents == 250_000_00


def test_an_exemption_needs_every_flag_it_names():
    bill = bill_for(NEW_JERSEY, assessed=650_000_00, flags=["veteran", "disability"])
    assert bill.exemptions_applied == []
    assert bill.total_cents == 15_041_00


def test_flags_and_classes_are_matched_without_regard_to_case():
    bill = bill_for(CALIFORNIA, assessed=1_200_000_00, cls=" Residential", flags=["Homestead"])
    assert bill.taxable_value_cents == 1_193_000_00


def small_levy(**changes):
    """A one-levy document to try a single rule on."""
    document = {
        "version": 1,
        "tax_year": 2024,
        "class_ratios": {"residential": "0.10"},
        "exemptions": [],
        "levies": [
            {
                "jurisdiction": "town",
                "name": "Town",
                "kind": "city",
                "rate": "1",
                "basis": "percent",
            }
        ],
        "installments": [{"due": "2024-12-31"}],
    }
    document.update(changes)
    return parse_levy(document)


def exemption(code, kind, amount, *, step="assessed", flags=("homestead",), **extra):
    """An exemption entry of a levy document."""
    return {
        "code": code,
        "name": code,
        "kind": kind,
        "amount": amount,
        "eligibility": list(flags),
        "applies_to": step,
    } | extra


def test_a_market_value_exemption_comes_off_at_the_assessment_ratio():
    # Louisiana's homestead exemption: $75,000 of market value = $7,500 at a 10% ratio.
    spec = small_levy(exemptions=[exemption("homestead", "fixed", "75000", step="market")])
    with_market = compute_parcel_tax(
        spec,
        market_value_cents=200_000_00,
        assessed_value_cents=None,
        property_class="residential",
        exemption_flags=["homestead"],
    )
    assessed_only = compute_parcel_tax(
        spec,
        market_value_cents=None,
        assessed_value_cents=20_000_00,
        property_class="residential",
        exemption_flags=["homestead"],
    )
    assert with_market.taxable_value_cents == assessed_only.taxable_value_cents == 12_500_00
    assert with_market.exemptions_applied[0].value_removed_cents == 7_500_00


def test_a_taxable_step_percentage_is_taken_of_what_is_left():
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[
            exemption("half", "percent", "50", step="taxable"),
            exemption("first", "fixed", "25000"),
        ],
    )
    bill = compute_parcel_tax(
        spec,
        market_value_cents=None,
        assessed_value_cents=125_000_00,
        property_class="residential",
        exemption_flags=["homestead"],
    )
    assert [(e.code, e.value_removed_cents) for e in bill.exemptions_applied] == [
        ("first", 25_000_00),
        ("half", 50_000_00),
    ]
    assert bill.taxable_value_cents == 50_000_00


def test_a_percentage_exemption_stops_at_its_maximum():
    # Colorado's senior exemption: 50% of the first $200,000 of actual value.
    spec = small_levy(
        class_ratios={"residential": "1"},
        exemptions=[exemption("senior", "percent", "50", flags=["senior"], maximum="100000")],
    )
    bill = compute_parcel_tax(
        spec,
        market_value_cents=None,
        assessed_value_cents=500_000_00,
        property_class="residential",
        exemption_flags=["senior"],
    )
    assert bill.taxable_value_cents == 400_000_00


def test_the_rounding_rule_rounds_each_line_once():
    spec = small_levy(class_ratios={"residential": "1"})
    args = {
        "market_value_cents": None,
        "assessed_value_cents": 12_344_50,
        "property_class": "residential",
        "exemption_flags": [],
    }
    assert compute_parcel_tax(spec, **args, rounding="half_up").total_cents == 123_45
    assert compute_parcel_tax(spec, **args, rounding="half_even").total_cents == 123_44


def test_installment_shares_split_the_total_and_add_up():
    spec = small_levy(
        class_ratios={"residential": "1"},
        installments=[{"due": "2024-06-30", "share": "55"}, {"due": "2024-12-31", "share": "45"}],
    )
    bill = compute_parcel_tax(
        spec,
        market_value_cents=None,
        assessed_value_cents=100_001,
        property_class="residential",
        exemption_flags=[],
    )
    assert bill.total_cents == 10_00
    assert [i.amount_cents for i in bill.installments] == [5_50, 4_50]


@pytest.mark.parametrize(
    ("parcel", "message"),
    [
        (
            {"market_value_cents": None, "assessed_value_cents": None},
            "needs a market value or an assessed value",
        ),
        ({"property_class": "farm"}, "property_class: 'farm' has no assessment ratio"),
        ({"assessed_value_cents": 1000.0}, "assessed_value_cents: 1000.0 is not whole cents"),
        ({"market_value_cents": -1}, "market_value_cents: -1 must not be negative"),
        ({"exemption_flags": "homestead"}, "exemption_flags: give a list of flags"),
        ({"rounding": "nearest"}, "rounding: unknown rule 'nearest'"),
    ],
)
def test_a_parcel_the_levy_cannot_tax_is_refused_by_field(parcel, message):
    args = {
        "market_value_cents": 100_000_00,
        "assessed_value_cents": None,
        "property_class": "residential",
        "exemption_flags": [],
    } | parcel
    with pytest.raises(ParcelTaxError) as caught:
        compute_parcel_tax(small_levy(), **args)
    assert message in str(caught.value)
    assert isinstance(caught.value, RuleError)  # the billing run holds the parcel and goes on


def good_document():
    """A valid document with two exemptions and two levies, for the refusals below."""
    return {
        "version": 1,
        "tax_year": 2024,
        "class_ratios": {"residential": "0.9"},
        "exemptions": [
            exemption("homestead", "fixed", "25000"),
            exemption("senior", "percent", "10", flags=["homestead", "senior"], minimum="1000"),
        ],
        "levies": [
            {
                "jurisdiction": "county",
                "name": "County",
                "kind": "county",
                "rate": "5.25",
                "basis": "mills",
            },
            {
                "jurisdiction": "school",
                "name": "School",
                "kind": "school",
                "rate": "1.2",
                "basis": "per_100",
                "exemptions": ["homestead"],
            },
        ],
        "installments": [{"due": "2024-11-30"}, {"due": "2025-03-31"}],
        "discounts": [{"pay_by": "2024-11-15", "percent": "2"}],
    }


def set_at(path, value):
    """A change to good_document() that puts value at a dotted path (None removes the key)."""

    def change(document):
        """Put the value at the path in place."""
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = int(last) if isinstance(target, list) else last
        if value is None:
            del target[key]
        else:
            target[key] = value

    return change


REFUSED = [
    (set_at("levies.0.rate", "12.5x"), 'levies[0].rate: "12.5x" is not a number'),
    (set_at("levies.0.rate", 12.5), 'levies[0].rate: 12.5 is a float; quote it ("12.5")'),
    (set_at("levies.0.rate", "0"), "levies[0].rate:"),
    (set_at("levies.0.rate", "1000.5"), "levies[0].rate:"),
    (
        set_at("levies.1.rate", "0.123456789"),
        'levies[1].rate: "0.123456789" has more than 8 decimal places',
    ),
    (
        set_at("levies.0.basis", "mill"),
        'levies[0].basis: "mill" must be one of mills, percent, per_100',
    ),
    (set_at("levies.0.kind", "town"), "levies[0].kind:"),
    (set_at("levies.0.rate", None), "levies[0]: rate is missing"),
    (set_at("levies.0.rte", "1"), 'levies[0]: unknown key "rte"'),
    (
        set_at("levies.1.jurisdiction", "county"),
        'levies[1].jurisdiction: "county" is already used by levies[0]',
    ),
    (set_at("levies.0.jurisdiction", "County"), "levies[0].jurisdiction:"),
    (
        set_at("levies.1.exemptions", ["nope"]),
        'levies[1].exemptions[0]: no exemption has the code "nope"',
    ),
    (set_at("levies", []), "levies: must have 1 to 64 items"),
    (set_at("exemptions.0.kind", "flat"), "exemptions[0].kind:"),
    (set_at("exemptions.0.amount", "-5"), 'exemptions[0].amount: "-5" must not be negative'),
    (set_at("exemptions.0.amount", 25000.0), "exemptions[0].amount: 25000.0 is a float"),
    (set_at("exemptions.0.amount", "12.345"), "exemptions[0].amount:"),
    (set_at("exemptions.1.amount", "101"), "exemptions[1].amount:"),
    (set_at("exemptions.0.applies_to", "gross"), "exemptions[0].applies_to:"),
    (
        set_at("exemptions.0.minimum", "100"),
        "exemptions[0].minimum: applies to percent exemptions only",
    ),
    (set_at("exemptions.1.maximum", "500"), "exemptions[1].minimum: is more than the maximum"),
    (
        set_at("exemptions.1.code", "homestead"),
        'exemptions[1].code: "homestead" is already used by exemptions[0]',
    ),
    (set_at("exemptions.0.eligibility", "Homestead"), "exemptions[0].eligibility:"),
    (
        set_at("exemptions.1.eligibility", ["homestead", "homestead"]),
        "exemptions[1].eligibility: names a flag twice",
    ),
    (set_at("class_ratios", {"residential": "0"}), "class_ratios.residential:"),
    (set_at("class_ratios", {"residential": 0.9}), "class_ratios.residential: 0.9 is a float"),
    (set_at("class_ratios", {2: "0.1"}), "class_ratios: class 2 is not text"),
    (set_at("class_ratios", {}), "class_ratios: must map each property class"),
    (set_at("equalization_factor", "0"), "equalization_factor:"),
    (set_at("installments", []), "installments: must have 1 to 12 items"),
    (
        set_at("installments.1.due", "2024-10-01"),
        "installments[1].due: 2024-10-01 is not after the installment before it",
    ),
    (set_at("installments.0.due", "2024-02-30"), 'installments[0].due: "2024-02-30" is not a date'),
    (
        set_at("installments.0.due", "2031-01-01"),
        "installments[0].due: 2031-01-01 is not within tax year 2024",
    ),
    (
        set_at("installments.0.share", "60"),
        "installments: give a share for every installment or for none",
    ),
    (
        set_at("discounts.0.pay_by", "2025-04-01"),
        "discounts[0].pay_by: 2025-04-01 is after the last installment",
    ),
    (set_at("discounts.0.percent", "0"), "discounts[0].percent:"),
    (set_at("tax_year", "2024"), 'tax_year: "2024" must be a whole number'),
    (set_at("version", 2), "version: 2 must be 1"),
    (set_at("levy", []), 'document: unknown key "levy"'),
    (set_at("levies.1.exemptions", []), None),  # still valid: county honours both
]


@pytest.mark.parametrize(("change", "message"), REFUSED)
def test_a_bad_levy_document_is_refused_naming_the_place(change, message):
    document = good_document()
    change(document)
    if message is None:
        parse_levy(document)
        return
    with pytest.raises(RuleError) as caught:
        parse_levy(document)
    assert str(caught.value).startswith(message)


def test_an_exemption_no_levy_honours_is_refused():
    document = good_document()
    document["levies"] = [document["levies"][1]]
    with pytest.raises(RuleError, match=r'^exemptions\[1\]: no levy honours "senior"'):
        parse_levy(document)


def test_shares_must_add_up_to_100():
    document = good_document()
    document["installments"] = [
        {"due": "2024-11-30", "share": "50"},
        {"due": "2025-03-31", "share": "49.99"},
    ]
    with pytest.raises(RuleError, match="^installments: the shares add up to 99.99, not 100"):
        parse_levy(document)


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(RuleError, match="^document: must be a mapping"):
        parse_levy(["not", "a", "levy"])  # type: ignore[arg-type]


def test_a_yaml_float_in_a_levy_file_is_refused_with_the_file_and_place(tmp_path):
    text = (EXAMPLES / WISCONSIN).read_text().replace('rate: "4.51"', "rate: 4.51")
    path = tmp_path / "oak_creek.yaml"
    path.write_text(text)
    with pytest.raises(RuleError) as caught:
        load_levy_file(path)
    assert (
        str(caught.value)
        == 'oak_creek.yaml: levies[0].rate: 4.51 is a float; quote it ("4.51") so it stays exact'
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("levy.txt", "version: 1", "levy.txt: a levy file ends in .json, .yaml or .yml"),
        ("broken.yaml", "levies: [", "broken.yaml: cannot be read as a levy"),
        ("broken.json", "{", "broken.json: cannot be read as a levy"),
        ("empty.yaml", "", "empty.yaml: document: must be a mapping"),
    ],
)
def test_an_unreadable_levy_file_is_refused_by_name(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(RuleError) as caught:
        load_levy_file(tmp_path / name)
    assert str(caught.value).startswith(message)


def test_a_missing_levy_file_is_a_rule_error(tmp_path):
    with pytest.raises(RuleError, match="^nowhere.yaml: cannot be read"):
        load_levy_file(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".json"))
)
def test_each_example_file_round_trips_through_its_canonical_document(name):
    spec = load_levy_file(EXAMPLES / name)
    document = levy_to_document(spec)
    assert parse_levy(json.loads(json.dumps(document))) == spec
    assert levy_to_document(parse_levy(document)) == document


# Hypothesis: any valid levy, any parcel.

FLAGS = ("homestead", "senior", "veteran")
DECIMAL = {"allow_nan": False, "allow_infinity": False}


def decimal_text(low, high, places):
    """A decimal within (low, high], written as the document writes it."""
    return (
        st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places, **DECIMAL)
        .filter(lambda d: d > Decimal(low))
        .map(lambda d: format(d, "f"))
    )


@st.composite
def exemption_entries(draw, code):
    """One random exemption: fixed or percent, any step, optional limits."""
    kind = draw(st.sampled_from(["fixed", "percent"]))
    item = {
        "code": code,
        "name": f"Exemption {code}",
        "kind": kind,
        "eligibility": draw(st.lists(st.sampled_from(FLAGS), min_size=1, max_size=2, unique=True)),
        "applies_to": draw(st.sampled_from(STEPS)),
    }
    if len(item["eligibility"]) == 1 and draw(st.booleans()):
        item["any_flags"] = [flag for flag in FLAGS if flag not in item["eligibility"]]
        if draw(st.booleans()):
            del item["eligibility"]
    if kind == "fixed":
        item["amount"] = str(draw(st.integers(1, 2_000_000)))
    else:
        item["amount"] = draw(decimal_text("0", "100", 2))
        low, high = sorted(draw(st.lists(st.integers(0, 500_000), min_size=2, max_size=2)))
        if draw(st.booleans()):
            item["minimum"] = str(low)
        if draw(st.booleans()):
            item["maximum"] = str(high)
    if draw(st.booleans()):
        item["above"] = str(draw(st.integers(0, 300_000)))
    return item


@st.composite
def levy_entries(draw, code, exemption_codes):
    """One random levy, honouring all exemptions or a subset."""
    basis = draw(st.sampled_from(["mills", "percent", "per_100"]))
    high = {"mills": "60", "percent": "6", "per_100": "6"}[basis]
    item = {
        "jurisdiction": code,
        "name": f"Levy {code}",
        "kind": draw(st.sampled_from(["city", "county", "school", "special", "state"])),
        "rate": draw(decimal_text("0", high, 8)),
        "basis": basis,
    }
    if exemption_codes and draw(st.booleans()):
        item["exemptions"] = draw(st.lists(st.sampled_from(exemption_codes), unique=True))
    return item


@st.composite
def levy_documents(draw):
    """A random valid levy document."""
    exemptions = [draw(exemption_entries(f"e{i}")) for i in range(draw(st.integers(0, 4)))]
    codes = [e["code"] for e in exemptions]
    levies = [draw(levy_entries(f"l{i}", codes)) for i in range(draw(st.integers(1, 4)))]
    levies[0].pop("exemptions", None)  # the first honours every exemption
    count = draw(st.integers(1, 4))
    first = date(2024, 1, 31)
    installments = [{"due": (first + timedelta(days=91 * i)).isoformat()} for i in range(count)]
    if count > 1 and draw(st.booleans()):
        shares = draw(st.lists(st.integers(1, 33), min_size=count - 1, max_size=count - 1))
        for item, share in zip(installments, [*shares, 100 - sum(shares)], strict=True):
            item["share"] = str(share)
    discounts = [
        {"pay_by": (first - timedelta(days=30 * (3 - i))).isoformat(), "percent": str(4 - i)}
        for i in range(draw(st.integers(0, 3)))
    ]
    return {
        "version": 1,
        "tax_year": 2023,
        "equalization_factor": draw(st.sampled_from(["1", "2.9237", "0.85"])),
        "class_ratios": {
            "residential": draw(decimal_text("0", "2", 4)),
            "commercial": draw(decimal_text("0", "2", 4)),
        },
        "exemptions": exemptions,
        "levies": levies,
        "installments": installments,
        "discounts": discounts,
    }


VALUES = st.none() | st.integers(0, 10**11)


@st.composite
def parcels(draw):
    """A random parcel: values, class, flags and the municipality's rounding rule."""
    market, assessed = draw(VALUES), draw(VALUES)
    if market is None and assessed is None:
        assessed = draw(st.integers(0, 10**11))
    return {
        "market_value_cents": market,
        "assessed_value_cents": assessed,
        "property_class": draw(st.sampled_from(["residential", "commercial"])),
        "exemption_flags": draw(st.lists(st.sampled_from(FLAGS), unique=True)),
        "rounding": draw(st.sampled_from(sorted(ROUNDING_RULES))),
    }


@settings(deadline=None)
@given(levy_documents(), parcels())
def test_installments_always_add_up_to_the_total(document, parcel):
    spec = parse_levy(document)
    bill = compute_parcel_tax(spec, **parcel)
    amounts = [i.amount_cents for i in bill.installments]
    assert sum(amounts) == bill.total_cents
    assert [i.due_date for i in bill.installments] == [due.due_date for due in spec.installments]
    if spec.installments[0].share is None:
        assert max(amounts) - min(amounts) <= 1
        assert amounts == sorted(amounts, reverse=True)  # leftover cents on the first


@settings(deadline=None)
@given(levy_documents(), parcels())
def test_taxable_value_never_goes_below_zero_whatever_the_exemptions(document, parcel):
    bill = compute_parcel_tax(parse_levy(document), **parcel)
    assert 0 <= bill.taxable_value_cents <= bill.equalized_value_cents
    assert all(0 <= line.quantity * 100 <= bill.equalized_value_cents for line in bill.lines)
    assert all(
        0 < e.value_removed_cents <= bill.equalized_value_cents for e in bill.exemptions_applied
    )
    assert all(line.amount_cents >= 0 for line in bill.lines)


@settings(deadline=None)
@given(levy_documents(), parcels())
def test_the_total_is_the_sum_of_the_levy_lines(document, parcel):
    spec = parse_levy(document)
    bill = compute_parcel_tax(spec, **parcel)
    assert [line.source for line in bill.lines] == [levy.jurisdiction for levy in spec.levies]
    assert bill.total_cents == sum(line.amount_cents for line in bill.lines)
    assert all(
        d.amount_due_cents == bill.total_cents - d.discount_cents >= 0 for d in bill.discounts
    )


PER = {unit: per for unit, per in UNITS.values()}


@settings(deadline=None)
@given(levy_documents(), parcels())
def test_each_line_is_taxable_value_times_rate_rounded_once(document, parcel):
    bill = compute_parcel_tax(parse_levy(document), **parcel)
    for line in bill.lines:
        exact = line.quantity * line.unit_rate / PER[line.unit]
        assert line.amount_cents == dollars_to_cents(exact, parcel["rounding"])
        assert line.quantity == line.quantity.quantize(Decimal("0.01"))


@settings(deadline=None)
@given(levy_documents())
def test_any_valid_document_round_trips_through_its_canonical_form(document):
    spec = parse_levy(document)
    canonical = levy_to_document(spec)
    assert parse_levy(json.loads(json.dumps(canonical))) == spec
    assert parse_levy(copy.deepcopy(canonical)) == spec


@settings(deadline=None)
@given(levy_documents(), parcels(), st.sampled_from(FLAGS))
def test_qualifying_for_one_more_exemption_never_raises_the_tax(document, parcel, flag):
    spec = parse_levy(document)
    bill = compute_parcel_tax(spec, **parcel)
    more = parcel | {"exemption_flags": sorted({*parcel["exemption_flags"], flag})}
    exempted = compute_parcel_tax(spec, **more)
    assert exempted.total_cents <= bill.total_cents
    for line, exempted_line in zip(bill.lines, exempted.lines, strict=True):
        assert exempted_line.amount_cents <= line.amount_cents


@settings(deadline=None)
@given(levy_documents(), parcels(), st.integers(1, 10**9))
def test_a_higher_assessed_value_never_lowers_the_tax(document, parcel, raise_cents):
    spec = parse_levy(document)
    assessed = parcel | {"market_value_cents": None}
    assessed["assessed_value_cents"] = parcel["assessed_value_cents"] or 0
    higher = assessed | {"assessed_value_cents": assessed["assessed_value_cents"] + raise_cents}
    lower_bill = compute_parcel_tax(spec, **assessed)
    higher_bill = compute_parcel_tax(spec, **higher)
    assert higher_bill.total_cents >= lower_bill.total_cents
