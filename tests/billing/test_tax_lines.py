"""Tax bills as towns bill them, computed: non-ad valorem charges and special assessments,
state credits and frozen tax ceilings, each worked example to the cent, and bad levy lines
refused by place."""

from __future__ import annotations

import copy

import pytest

from billing.computed import RuleError
from billing.levy_format import parse_levy
from billing.tax import ParcelTaxError, compute_parcel_tax
from tests.billing.test_tax import EXAMPLES, TEXAS, good_document, load_levy_file

FLORIDA_NAV = "florida_alachua_2023_assessments.yaml"
WISCONSIN_CREDITS = "wisconsin_oak_creek_2023_credits.yaml"


def bill(name, *, assessed, flags=(), parcel=None, ceilings=None, cls="residential"):
    """A parcel's bill under one of the example levy files."""
    return compute_parcel_tax(
        load_levy_file(EXAMPLES / name),
        market_value_cents=None,
        assessed_value_cents=assessed,
        property_class=cls,
        exemption_flags=list(flags),
        parcel_number=parcel,
        tax_ceilings=ceilings,
    )


def lines_of(bill):
    """The bill's lines as {source: cents}."""
    return {line.source: line.amount_cents for line in bill.lines}


def test_florida_homestead_bill_carries_its_stormwater_and_sidewalk_assessments():
    taxed = bill(FLORIDA_NAV, assessed=180_000_00, flags=["homestead"], parcel="06020-001-000")
    assert lines_of(taxed) == {
        "alachua-county": 993_38,
        "alachua-mstu-law": 463_81,
        "alachua-schools": 996_96,
        "sjrwmd": 23_31,
        "charge:stormwater": 40_00,
        "assessment:sidewalk-nw39": 1_062_50,
    }
    assert taxed.total_cents == 3_579_96
    assert [i.amount_cents for i in taxed.installments] == [3_579_96]
    # The discount is on the whole bill, assessments included: 4% of $3,579.96 is $143.20.
    assert [(d.discount_cents, d.amount_due_cents) for d in taxed.discounts] == [
        (143_20, 3_436_76),
        (107_40, 3_472_56),
        (71_60, 3_508_36),
        (35_80, 3_544_16),
    ]


def test_a_special_assessment_line_reads_units_times_rate():
    taxed = bill(FLORIDA_NAV, assessed=180_000_00, parcel="06020-002-000")
    sidewalk = taxed.lines[-1]
    assert (sidewalk.description, sidewalk.category) == ("NW 39th Avenue sidewalk district", "fee")
    assert (str(sidewalk.quantity), sidewalk.unit, str(sidewalk.unit_rate)) == (
        "62.5",
        "front foot",
        "12.50",
    )
    assert sidewalk.amount_cents == 781_25
    assert taxed.total_cents == 3_207_68 + 40_00 + 781_25


def test_a_parcel_the_district_does_not_list_pays_no_special_assessment():
    taxed = bill(FLORIDA_NAV, assessed=180_000_00, parcel="06020-999-000")
    assert "assessment:sidewalk-nw39" not in lines_of(taxed)
    assert lines_of(taxed)["charge:stormwater"] == 40_00


def test_a_flat_charge_bills_only_the_classes_it_names():
    document = good_document()
    document["charges"] = [
        {
            "code": "fire",
            "name": "Fire assessment",
            "gl_account": "4040",
            "amounts": {"residential": "83.34"},
        }
    ]
    document["class_ratios"]["agricultural"] = "0.5"
    spec = parse_levy(document)
    args = {"market_value_cents": None, "assessed_value_cents": 100_000_00, "exemption_flags": []}
    home = compute_parcel_tax(spec, property_class="residential", **args)
    farm = compute_parcel_tax(spec, property_class="agricultural", **args)
    assert lines_of(home)["charge:fire"] == 83_34
    assert "charge:fire" not in lines_of(farm)


def test_wisconsin_state_credits_come_off_the_bill_and_are_not_levies():
    taxed = bill(WISCONSIN_CREDITS, assessed=300_000_00, flags=["primary-residence", "improved"])
    credits = [line for line in taxed.lines if line.category == "credit"]
    assert [(c.description, c.amount_cents) for c in credits] == [
        ("Lottery and gaming credit", -269_96),
        ("First dollar credit", -72_53),
    ]
    assert taxed.total_cents == 6_186_00 - 269_96 - 72_53 == 5_843_51
    assert [i.amount_cents for i in taxed.installments] == [2_921_76, 2_921_75]


def test_a_credit_needs_its_flags():
    rental = bill(WISCONSIN_CREDITS, assessed=300_000_00, flags=["improved"])
    assert [line.source for line in rental.lines if line.category == "credit"] == [
        "credit:first-dollar"
    ]
    assert rental.total_cents == 6_186_00 - 72_53


def test_credits_never_take_more_than_the_tax():
    small = bill(WISCONSIN_CREDITS, assessed=10_000_00, flags=["primary-residence", "improved"])
    assert lines_of(small)["credit:lottery-gaming"] == -206_20
    assert "credit:first-dollar" not in lines_of(small)
    assert small.total_cents == 0


def test_a_texas_school_tax_ceiling_freezes_the_school_tax_and_shows_the_reduction():
    frozen = bill(
        TEXAS, assessed=450_000_00, flags=["homestead", "senior"], ceilings={"austin-isd": 2_500_00}
    )
    assert lines_of(frozen) == {
        "travis-county": 795_60,
        "austin": 1_142_87,
        "austin-isd": 3_986_40,
        "ceiling:austin-isd": -1_486_40,
    }
    reduction = frozen.lines[3]
    assert reduction.description == (
        "Austin Independent School District: frozen at the tax ceiling of $2,500.00"
    )
    assert reduction.category == "tax"
    assert frozen.total_cents == 795_60 + 1_142_87 + 2_500_00 == 4_438_47


def test_a_ceiling_above_the_tax_changes_nothing_and_one_of_zero_frees_the_levy():
    above = bill(TEXAS, assessed=450_000_00, flags=["homestead"], ceilings={"austin-isd": 9_000_00})
    assert "ceiling:austin-isd" not in lines_of(above)
    zero = bill(TEXAS, assessed=450_000_00, flags=["homestead"], ceilings={"travis-county": 0})
    assert lines_of(zero)["ceiling:travis-county"] == -lines_of(zero)["travis-county"]


@pytest.mark.parametrize(
    ("ceilings", "message"),
    [
        ({"austin-isd": -1}, "tax_ceilings.austin-isd: -1 must not be negative"),
        ({"austin-isd": 12.5}, "tax_ceilings.austin-isd: 12.5 is not whole cents"),
        (["austin-isd"], "tax_ceilings: give a mapping"),
    ],
)
def test_a_bad_ceiling_is_refused_naming_it(ceilings, message):
    with pytest.raises(ParcelTaxError, match=message):
        bill(TEXAS, assessed=450_000_00, ceilings=ceilings)


def with_lines(**lines):
    """good_document() with charges, special assessments or credits added."""
    document = copy.deepcopy(good_document())
    document.update(lines)
    return document


CHARGE = {"code": "fire", "name": "Fire", "gl_account": "4040", "amounts": {"residential": "80"}}
ASSESSMENT = {
    "code": "sidewalk",
    "name": "Sidewalk",
    "gl_account": "4040",
    "rate": "12.50",
    "unit": "front foot",
    "parcels": [{"parcel": "A-1", "units": "80"}],
}
CREDIT = {"code": "lottery", "name": "Lottery credit", "receivable_account": "1200", "amount": "1"}

REFUSED = [
    (
        {"charges": [CHARGE | {"amounts": {"farm": "80"}}]},
        'charges[0].amounts: "farm" is not a property class of class_ratios',
    ),
    ({"charges": [CHARGE | {"amounts": {"residential": "0"}}]}, "charges[0].amounts.residential:"),
    ({"charges": [CHARGE | {"gl_account": 4.5}]}, "charges[0].gl_account: 4.5 is not a GL"),
    (
        {"charges": [{k: v for k, v in CHARGE.items() if k != "gl_account"}]},
        "gl_account is missing",
    ),
    ({"charges": [CHARGE | {"code": "county"}]}, 'charges[0].code: "county" is already used'),
    (
        {"special_assessments": [ASSESSMENT | {"parcels": ASSESSMENT["parcels"] * 2}]},
        'special_assessments[0].parcels[1].parcel: "A-1" is listed twice',
    ),
    (
        {"special_assessments": [ASSESSMENT | {"rate": 12.5}]},
        "special_assessments[0].rate: 12.5 is a float",
    ),
    (
        {"special_assessments": [ASSESSMENT | {"parcels": [{"parcel": "A-1", "units": "0"}]}]},
        "special_assessments[0].parcels[0].units:",
    ),
    ({"credits": [CREDIT | {"amount": "-5"}]}, "credits[0].amount:"),
    ({"credits": [CREDIT | {"receivable": "1200"}]}, 'credits[0]: unknown key "receivable"'),
    (
        {"charges": [CHARGE], "credits": [CREDIT | {"code": "fire"}]},
        'credits[0].code: "fire" is already used in charges',
    ),
    ({"discount_account": ""}, 'discount_account: "" is not a GL account code'),
]


@pytest.mark.parametrize(("lines", "message"), REFUSED)
def test_bad_charges_assessments_and_credits_are_refused_naming_the_place(lines, message):
    with pytest.raises(RuleError) as caught:
        parse_levy(with_lines(**lines))
    assert message in str(caught.value)


def test_ad_valorem_only_levies_bill_exactly_as_before():
    plain = bill(TEXAS, assessed=500_000_00, flags=["homestead"])
    assert plain.total_cents == 7_708_12
    assert [line.category for line in plain.lines] == ["tax"] * 3


FLORIDA_PLAN = "florida_alachua_2023_installment_plan.yaml"


def test_florida_installment_plan_discounts_each_installment_paid_by_its_date():
    taxed = bill(FLORIDA_PLAN, assessed=180_000_00, flags=["homestead"])
    assert taxed.total_cents == 2_477_46
    assert [i.amount_cents for i in taxed.installments] == [619_37, 619_37, 619_36, 619_36]
    assert [
        (d.installment, d.pay_by.isoformat(), d.discount_cents, d.amount_due_cents)
        for d in taxed.discounts
    ] == [
        (1, "2023-06-30", 37_16, 582_21),
        (2, "2023-09-30", 27_87, 591_50),
        (3, "2023-12-31", 18_58, 600_78),
    ]


@pytest.mark.parametrize(
    ("discounts", "message"),
    [
        (
            [{"pay_by": "2024-12-01", "percent": "2", "installment": 1}],
            "discounts[0].pay_by: 2024-12-01 is after installment 1's due date 2024-11-30",
        ),
        (
            [{"pay_by": "2024-11-01", "percent": "2", "installment": 3}],
            "discounts[0].installment: 3 must be a whole number from 1 to 2",
        ),
        (
            [
                {"pay_by": "2024-11-01", "percent": "2", "installment": 1},
                {"pay_by": "2024-11-15", "percent": "1"},
            ],
            "discounts: give an installment for every discount or for none",
        ),
    ],
)
def test_a_bad_installment_discount_is_refused_naming_the_place(discounts, message):
    with pytest.raises(RuleError) as caught:
        parse_levy(with_lines(discounts=discounts))
    assert message in str(caught.value)
