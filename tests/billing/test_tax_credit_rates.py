"""Credits computed by a rate or a percent, and "either flag" exemptions: each worked example of
docs/tax.md to the cent, the credits posted to their receivable, and bad documents refused by
place."""

from __future__ import annotations

import json

import pytest

from billing.computed import RuleError
from billing.levy_format import parse_levy
from billing.levy_spec import levy_to_document
from billing.tax import compute_parcel_tax
from ledger import chart
from ledger.balances import gl_balance
from tests.billing.test_tax import EXAMPLES, TEXAS, good_document, load_levy_file
from tests.billing.test_tax_bills_posted import (
    bill_tax,
    invoice_of,
    journal,
    levy_document,
    owner_with_parcel,
)

RATE_CREDITS = "wisconsin_oak_creek_2023_rate_credits.yaml"


def bill(spec, *, assessed=None, market=None, flags=(), ceilings=None):
    """A residential parcel's bill under a spec."""
    return compute_parcel_tax(
        spec,
        market_value_cents=market,
        assessed_value_cents=assessed,
        property_class="residential",
        exemption_flags=list(flags),
        tax_ceilings=ceilings,
    )


def credits_of(taxed):
    """The bill's credit lines as [(description, cents)]."""
    return [
        (line.description, line.amount_cents) for line in taxed.lines if line.category == "credit"
    ]


def oak_creek(credits=None):
    """Example 8's Oak Creek levies with the rate credits, or with other credits."""
    document = levy_to_document(load_levy_file(EXAMPLES / RATE_CREDITS))
    if credits is not None:
        document["credits"] = credits
    return parse_levy(document)


# Example 11: Wisconsin's school levy tax credit and Milwaukee County's sales tax credit.


def test_oak_creek_rate_credits_bring_the_gross_rate_to_the_published_net_rate():
    taxed = bill(oak_creek(), assessed=300_000_00)
    assert credits_of(taxed) == [
        ("School levy tax credit", -420_00),  # 1.40 x 300
        ("Milwaukee County sales tax credit", -357_00),  # 1.19 x 300
    ]
    assert taxed.total_cents == 6_186_00 - 420_00 - 357_00 == 5_409_00  # 18.03 x 300
    assert [i.amount_cents for i in taxed.installments] == [2_704_50, 2_704_50]


def test_a_rate_credit_is_rounded_once_on_the_taxable_value():
    taxed = bill(oak_creek(), market=250_000_00)  # assessed $246,925.00
    assert credits_of(taxed) == [
        ("School levy tax credit", -345_70),  # 345.695
        ("Milwaukee County sales tax credit", -293_84),  # 293.84075
    ]
    assert taxed.total_cents == 5_091_60 - 345_70 - 293_84 == 4_452_06
    assert [i.amount_cents for i in taxed.installments] == [2_226_03, 2_226_03]


def test_a_percent_credit_is_that_percent_of_its_levies_tax():
    spec = oak_creek(
        [
            {
                "code": "rollback",
                "name": "Owner-occupancy rollback",
                "receivable_account": "1200",
                "percent": "10",
                "levies": ["milwaukee-county", "oak-creek"],
                "eligibility": "homestead",
            }
        ]
    )
    home = bill(spec, assessed=300_000_00, flags=["homestead"])
    assert credits_of(home) == [("Owner-occupancy rollback", -309_30)]  # 10% of 1,353 + 1,740
    assert home.total_cents == 6_186_00 - 309_30 == 5_876_70
    assert credits_of(bill(spec, assessed=300_000_00)) == []  # no homestead, no credit


def test_a_percent_credit_is_taken_of_the_tax_after_a_frozen_ceiling():
    document = levy_to_document(load_levy_file(EXAMPLES / TEXAS))
    document["credits"] = [
        {
            "code": "isd-relief",
            "name": "School tax relief",
            "receivable_account": "1200",
            "percent": "10",
            "levies": ["austin-isd"],
        }
    ]
    frozen = bill(
        parse_levy(document),
        assessed=450_000_00,
        flags=["homestead", "senior"],
        ceilings={"austin-isd": 2_500_00},
    )
    # The school tax is $3,986.40 frozen at $2,500.00: 10% of $2,500.00.
    assert credits_of(frozen) == [("School tax relief", -250_00)]
    assert frozen.total_cents == 4_438_47 - 250_00


def test_a_rate_credit_on_named_levies_uses_their_taxable_value():
    document = levy_to_document(load_levy_file(EXAMPLES / TEXAS))
    document["credits"] = [
        {
            "code": "county-credit",
            "name": "County credit",
            "receivable_account": "1200",
            "rate": "0.05",
            "basis": "per_100",
            "levies": ["travis-county"],
        }
    ]
    taxed = bill(parse_levy(document), assessed=500_000_00, flags=["homestead"])
    # Travis County's taxable value is $400,000.00 (20% homestead exemption), not the
    # school district's $460,000.00: 0.05 per $100 of $400,000 = $200.00.
    assert credits_of(taxed) == [("County credit", -200_00)]


def test_a_computed_credit_never_takes_more_than_the_tax_left():
    spec = oak_creek(
        [
            {"code": "all", "name": "Full relief", "receivable_account": "1200", "percent": "100"},
            {
                "code": "school-levy",
                "name": "School levy tax credit",
                "receivable_account": "1200",
                "rate": "1.40",
                "basis": "mills",
            },
        ]
    )
    taxed = bill(spec, assessed=10_000_00)
    assert credits_of(taxed) == [("Full relief", -206_20)]
    assert taxed.total_cents == 0


def test_computed_credits_round_trip_through_the_canonical_document():
    spec = oak_creek()
    document = levy_to_document(spec)
    assert document["credits"][0] == {
        "code": "school-levy",
        "name": "School levy tax credit",
        "receivable_account": "1200",
        "rate": "1.40",
        "basis": "mills",
        "eligibility": [],
    }
    assert parse_levy(json.loads(json.dumps(document))) == spec


def credit_document(credit):
    """good_document() with one credit."""
    document = good_document()
    document["credits"] = [
        {"code": "relief", "name": "Relief", "receivable_account": "1200"} | credit
    ]
    return document


@pytest.mark.parametrize(
    ("credit", "message"),
    [
        ({}, "credits[0]: give exactly one of amount, rate (with basis) or percent"),
        (
            {"amount": "10", "percent": "5"},
            "credits[0]: give exactly one of amount, rate (with basis) or percent",
        ),
        ({"rate": "1.40"}, "credits[0].basis: is required with a rate: mills or per_100"),
        ({"rate": "1.40", "basis": "percent"}, "credits[0].basis:"),
        ({"rate": 1.4, "basis": "mills"}, "credits[0].rate: 1.4 is a float"),
        ({"rate": "101", "basis": "mills"}, "credits[0].rate:"),
        ({"percent": "100.5"}, "credits[0].percent:"),
        ({"percent": "0"}, "credits[0].percent:"),
        ({"amount": "10", "basis": "mills"}, "credits[0].basis: applies to a credit given by"),
        ({"amount": "10", "levies": ["county"]}, "credits[0].levies: applies to a credit given"),
        ({"percent": "5", "levies": ["city"]}, "credits[0].levies[0]: no levy for jurisdiction"),
        ({"percent": "5", "levies": ["county", "county"]}, "credits[0].levies[1]: names"),
        ({"percent": "5", "levies": []}, "credits[0].levies: must have 1 to 64 items"),
    ],
)
def test_a_bad_computed_credit_is_refused_naming_its_place(credit, message):
    with pytest.raises(RuleError) as refused:
        parse_levy(credit_document(credit))
    assert str(refused.value).startswith(message)


def test_rate_and_percent_credits_post_to_their_receivable(session):
    document = levy_document(
        charges=[],
        special_assessments=[],
        credits=[
            {
                "code": "school-levy",
                "name": "School levy tax credit",
                "receivable_account": "1200",
                "rate": "1.40",
                "basis": "mills",
            },
            {
                "code": "city-rollback",
                "name": "City rollback",
                "receivable_account": "1200",
                "percent": "10",
                "levies": ["city"],
            },
        ],
    )
    owner = owner_with_parcel(session)  # market $300,000 x 0.95 = $285,000.00 assessed
    bill_tax(session, document)
    invoice = invoice_of(session, owner)
    credits = [
        (line.description, line.amount_cents)
        for line in invoice.lines
        if line.category.value == "credit"
    ]
    # 1.40 x 285 = $399.00; 10% of the city's 7.932 x 285 = $2,260.62 is $226.06.
    assert credits == [("School levy tax credit", -399_00), ("City rollback", -226_06)]
    levies = sum(line.amount_cents for line in invoice.lines if line.category.value == "tax")
    assert invoice.total_cents == levies - 399_00 - 226_06
    entry = journal(session, "invoice", invoice.number)
    assert sum(entry.values()) == 0
    assert entry[(chart.TAX_RECEIVABLE, True)] == invoice.total_cents
    assert entry[("1200", False)] == 625_06
    assert gl_balance(session, "1200") == 625_06


# "Either flag": Travis County's over-65 exemption goes to owners 65 or older or disabled.


def travis_either_flag():
    """Example 1 with the county's and the city's over-65 exemptions for senior or disabled."""
    document = levy_to_document(load_levy_file(EXAMPLES / TEXAS))
    for item in document["exemptions"]:
        if item["code"] in ("county-over65", "city-over65"):
            item["eligibility"] = ["homestead"]
            item["any_flags"] = ["senior", "disability"]
    return parse_levy(document)


@pytest.mark.parametrize("flag", ["senior", "disability"])
def test_either_flag_gives_the_exemption(flag):
    taxed = bill(travis_either_flag(), assessed=450_000_00, flags=["homestead", flag])
    lines = {line.source: line.amount_cents for line in taxed.lines}
    assert lines["travis-county"] == 795_60  # $250,000.00 taxable, as example 1's senior
    assert lines["austin"] == 1_142_87  # $247,000.00 taxable


def test_neither_flag_gives_only_the_homestead_exemptions():
    taxed = bill(travis_either_flag(), assessed=450_000_00, flags=["homestead"])
    lines = {line.source: line.amount_cents for line in taxed.lines}
    assert lines["travis-county"] == 1_145_66  # $360,000.00 taxable: 20% off only
    assert lines["austin"] == 1_665_72


def test_the_all_flags_rule_still_applies_beside_either_flag():
    taxed = bill(travis_either_flag(), assessed=450_000_00, flags=["disability"])
    assert {e.code for e in taxed.exemptions_applied} == set()  # no homestead: none of them


def test_either_flag_round_trips_through_the_canonical_document():
    spec = travis_either_flag()
    document = levy_to_document(spec)
    county = next(e for e in document["exemptions"] if e["code"] == "county-over65")
    assert county["eligibility"] == ["homestead"]
    assert county["any_flags"] == ["senior", "disability"]
    assert parse_levy(json.loads(json.dumps(document))) == spec


def test_an_exemption_with_only_either_flags():
    document = good_document()
    document["exemptions"][1].pop("eligibility")
    document["exemptions"][1]["any_flags"] = ["senior", "veteran"]
    spec = parse_levy(document)
    assert spec.exemptions[1].eligibility == ()
    veteran = bill(spec, assessed=100_000_00, flags=["veteran"])
    assert [e.code for e in veteran.exemptions_applied] == ["senior"]
    assert bill(spec, assessed=100_000_00).exemptions_applied == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"any_flags": ["senior"]}, "exemptions[1].any_flags: must be a list of two or more"),
        ({"any_flags": "senior"}, "exemptions[1].any_flags: must be a list of two or more"),
        ({"any_flags": ["homestead", "x"]}, 'exemptions[1].any_flags: "homestead" is also in'),
        ({"any_flags": ["a", "A!"]}, "exemptions[1].any_flags[1]:"),
        ({"any_flags": ["a", "a"]}, "exemptions[1].any_flags: names a flag twice"),
        ({"eligibility": None}, "exemptions[1].eligibility: is required (or any_flags)"),
    ],
)
def test_a_bad_either_flag_rule_is_refused_naming_its_place(change, message):
    document = good_document()
    for key, value in change.items():
        if value is None:
            document["exemptions"][1].pop(key)
        else:
            document["exemptions"][1][key] = value
    with pytest.raises(RuleError) as refused:
        parse_levy(document)
    assert str(refused.value).startswith(message)
