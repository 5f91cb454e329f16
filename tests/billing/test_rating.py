"""Rating: real published tariffs billed to the cent, bad plan documents refused with the
place named, and the properties every bill keeps (see docs/rates.md)."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import ComputedLine, RuleError
from billing.rate_plan_format import (
    RatePlanSpec,
    load_rate_plan_file,
    parse_rate_plan,
    plan_to_document,
)
from billing.rating import convert_usage, rate_bill, version_in_force
from core.money import ROUNDING_RULES, dollars_to_cents

EXAMPLES = Path(__file__).parent / "rate_examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@cache
def example(name: str) -> RatePlanSpec:
    """One of the example plans that docs/rates.md shows."""
    return load_rate_plan_file(EXAMPLES / f"{name}.yaml")


def line(description, quantity, unit, rate, cents):
    """An expected line; quantity and rate as strings (None where the line shows none)."""
    return (
        description,
        None if quantity is None else Decimal(quantity),
        unit,
        None if rate is None else Decimal(rate),
        cents,
    )


def shown(lines: list[ComputedLine]) -> list[tuple]:
    """What a resident reads on each line."""
    return [(x.description, x.quantity, x.unit, x.unit_rate, x.amount_cents) for x in lines]


def bill(name: str, end: date, usage=None, unit=None, size=None, units=1, rounding="half_up"):
    """Rate an example plan."""
    return rate_bill(
        example(name),
        period_end=end,
        usage=None if usage is None else Decimal(usage),
        usage_unit=unit,
        meter_size=size,
        dwelling_units=units,
        rounding=rounding,
    )


KGAL, CCF, M3 = "1,000 gallons", "CCF", "cubic metres"
CHARLES_5_8_JULY_2023 = [
    line('Water access charge, 5/8" meter', "1", "month", "20.53", 2053),
    line("Water usage (0–2 kgal)", "2", KGAL, "4.44", 888),
    line("Water usage (2–50 kgal)", "4.5", KGAL, "4.09", 1841),
]
# (plan, period end, usage, usage unit, meter size, dwelling units, rounding, lines, total)
PUBLISHED_TARIFF_BILLS = {
    "charles-city-5/8in-6500gal-jul-2023": (
        "charles_city_water", date(2023, 7, 31), "6500", "gallons", '5/8"', 1, "half_up",
        CHARLES_5_8_JULY_2023, 4782,
    ),
    "charles-city-same-usage-jun-2023-old-rates": (
        "charles_city_water", date(2023, 6, 30), "6500", "gallons", '5/8"', 1, "half_up",
        [
            line('Water access charge, 5/8" meter', "1", "month", "19.83", 1983),
            line("Water usage (0–2 kgal)", "2", KGAL, "4.29", 858),
            line("Water usage (2–50 kgal)", "4.5", KGAL, "3.95", 1778),
        ],
        4619,
    ),
    "charles-city-half-even-rounding": (
        "charles_city_water", date(2023, 7, 31), "6500", "gallons", '5/8"', 1, "half_even",
        [*CHARLES_5_8_JULY_2023[:2], line("Water usage (2–50 kgal)", "4.5", KGAL, "4.09", 1840)],
        4781,
    ),
    "charles-city-2in-620000gal-declining-blocks": (
        "charles_city_water", date(2024, 1, 31), "620000", "gallons", '2"', 1, "half_up",
        [
            line('Water access charge, 2" meter', "1", "month", "59.50", 5950),
            line("Water usage (0–2 kgal)", "2", KGAL, "4.44", 888),
            line("Water usage (2–50 kgal)", "48", KGAL, "4.09", 19632),
            line("Water usage (50–500 kgal)", "450", KGAL, "3.40", 153000),
            line("Water usage (over 500 kgal)", "120", KGAL, "2.57", 30840),
        ],
        210310,
    ),
    "charlotte-water-5/8in-7ccf": (
        "charlotte_water", date(2024, 8, 31), "7", "CCF", '5/8"', 1, "half_up",
        [
            line("Water fixed fee", "1", "month", "6.16", 616),
            line('Water availability fee, 5/8" meter', "1", "month", "1.44", 144),
            line("Water usage (0–4 CCF)", "4", CCF, "1.98", 792),
            line("Water usage (4–8 CCF)", "3", CCF, "2.56", 768),
        ],
        2320,
    ),
    "charlotte-water-meter-in-gallons-748-per-ccf": (
        "charlotte_water", date(2024, 8, 31), "5236", "gallons", '5/8"', 1, "half_up",
        [
            line("Water fixed fee", "1", "month", "6.16", 616),
            line('Water availability fee, 5/8" meter', "1", "month", "1.44", 144),
            line("Water usage (0–4 CCF)", "4", CCF, "1.98", 792),
            line("Water usage (4–8 CCF)", "3", CCF, "2.56", 768),
        ],
        2320,
    ),
    "charlotte-water-1in-20ccf-all-four-tiers": (
        "charlotte_water", date(2024, 8, 31), "20", "HCF", '1"', 1, "half_up",
        [
            line("Water fixed fee", "1", "month", "6.16", 616),
            line('Water availability fee, 1" meter', "1", "month", "3.61", 361),
            line("Water usage (0–4 CCF)", "4", CCF, "1.98", 792),
            line("Water usage (4–8 CCF)", "4", CCF, "2.56", 1024),
            line("Water usage (8–16 CCF)", "8", CCF, "5.91", 4728),
            line("Water usage (over 16 CCF)", "4", CCF, "11.20", 4480),
        ],
        12001,
    ),
    "charlotte-sewer-5/8in-7ccf": (
        "charlotte_sewer", date(2024, 8, 31), "7", "CCF", '5/8"', 1, "half_up",
        [
            line("Sewer fixed fee", "1", "month", "6.16", 616),
            line('Sewer availability fee, 5/8" meter', "1", "month", "9.48", 948),
            line("Sewer usage", "7", CCF, "5.93", 4151),
        ],
        5715,
    ),
    "charlotte-sewer-22ccf-capped-at-16ccf": (
        "charlotte_sewer", date(2024, 8, 31), "2200", "cubic feet", '5/8"', 1, "half_up",
        [
            line("Sewer fixed fee", "1", "month", "6.16", 616),
            line('Sewer availability fee, 5/8" meter', "1", "month", "9.48", 948),
            line("Sewer usage", "22", CCF, "5.93", 13046),
            line("Sewer usage capped at 16 CCF ($94.88)", None, None, None, -3558),
        ],
        11052,
    ),
    "scottsbluff-sewer-within-the-minimum": (
        "scottsbluff_sewer", date(2024, 2, 29), "7200", "gallons", None, 1, "half_up",
        [
            line("Sewer minimum charge", "1", "2 months", "45.77", 4577),
            line("Included in minimum charge (first 10 kgal)", "7.2", KGAL, "0", 0),
            line("Sewer usage (over 10 kgal)", "0", KGAL, "3.39", 0),
        ],
        4577,
    ),
    "scottsbluff-sewer-18400gal-bimonthly": (
        "scottsbluff_sewer", date(2024, 2, 29), "18400", "gallons", None, 1, "half_up",
        [
            line("Sewer minimum charge", "1", "2 months", "45.77", 4577),
            line("Included in minimum charge (first 10 kgal)", "10", KGAL, "0", 0),
            line("Sewer usage (over 10 kgal)", "8.4", KGAL, "3.39", 2848),
        ],
        7425,
    ),
    "coon-rapids-single-family-quarter": (
        "coon_rapids_water", date(2023, 9, 30), "32000", "gallons", '3/4"', 1, "half_up",
        [
            line("Water service charge", "1", "quarter", "21", 2100),
            line("Water usage (0–15 kgal)", "15", KGAL, "2.21", 3315),
            line("Water usage (15–45 kgal)", "17", KGAL, "2.76", 4692),
        ],
        10107,
    ),
    "coon-rapids-fourplex-tiers-per-unit": (
        "coon_rapids_multifamily_water", date(2023, 9, 30), "130000", "gallons", '2"', 4,
        "half_up",
        [
            line("Water service charge", "4", "dwelling unit", "7", 2800),
            line("Water usage (0–60 kgal)", "60", KGAL, "2.21", 13260),
            line("Water usage (60–180 kgal)", "70", KGAL, "2.76", 19320),
        ],
        35380,
    ),
    "maple-grove-topped-up-to-the-minimum": (
        "maple_grove_water", date(2016, 3, 31), "5000", "gallons", None, 1, "half_up",
        [
            line("Water usage (0–20 kgal)", "5", KGAL, "1.20", 600),
            line("Water minimum charge ($10.00)", None, None, None, 400),
            line("Water treatment surcharge", "1", "quarter", "3.30", 330),
            line("State water testing fee", "1", "quarter", "1.59", 159),
        ],
        1489,
    ),
    "maple-grove-47500gal-above-the-minimum": (
        "maple_grove_water", date(2016, 9, 30), "47500", "gallons", None, 1, "half_up",
        [
            line("Water usage (0–20 kgal)", "20", KGAL, "1.20", 2400),
            line("Water usage (20–40 kgal)", "20", KGAL, "1.60", 3200),
            line("Water usage (over 40 kgal)", "7.5", KGAL, "2.15", 1613),
            line("Water treatment surcharge", "1", "quarter", "3.30", 330),
            line("State water testing fee", "1", "quarter", "1.59", 159),
        ],
        7702,
    ),
    "barrie-water-75m3-bimonthly": (
        "barrie_water", date(2017, 8, 31), "75", "m3", None, 1, "half_up",
        [
            line("Water fixed charge", "1", "2 months", "24.92", 2492),
            line("Water usage (0–30 m³)", "30", M3, "0.9827", 2948),
            line("Water usage (30–60 m³)", "30", M3, "1.9656", 5897),
            line("Water usage (60–90 m³)", "15", M3, "2.9483", 4422),
        ],
        15759,
    ),
    "barrie-wastewater-75m3-equal-blocks-make-one-line": (
        "barrie_wastewater", date(2017, 8, 31), "75", "m3", None, 1, "half_up",
        [
            line("Wastewater fixed charge", "1", "2 months", "33.72", 3372),
            line("Wastewater usage (0–30 m³)", "30", M3, "1.4201", 4260),
            line("Wastewater usage (30–90 m³)", "45", M3, "2.4142", 10864),
        ],
        18496,
    ),
    "barrie-wastewater-120m3-nothing-above-90": (
        "barrie_wastewater", date(2017, 8, 31), "120", "m3", None, 1, "half_up",
        [
            line("Wastewater fixed charge", "1", "2 months", "33.72", 3372),
            line("Wastewater usage (0–30 m³)", "30", M3, "1.4201", 4260),
            line("Wastewater usage (30–90 m³)", "60", M3, "2.4142", 14485),
            line("Wastewater usage (over 90 m³)", "30", M3, "0", 0),
        ],
        22117,
    ),
    "weatherford-stormwater-duplex": (
        "weatherford_stormwater", date(2024, 1, 31), None, None, None, 2, "half_up",
        [line("Storm water utility fee", "2", "dwelling unit", "4.50", 900)],
        900,
    ),
    "carrollton-solid-waste": (
        "carrollton_trash", date(2024, 1, 31), None, None, None, 1, "half_up",
        [line("Solid waste base services", "1", "month", "23.15", 2315)],
        2315,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", PUBLISHED_TARIFF_BILLS.values(), ids=PUBLISHED_TARIFF_BILLS)
def test_published_tariff_is_billed_to_the_cent_line_by_line(case):
    name, end, usage, unit, size, units, rounding, expected, total = case
    lines = bill(name, end, usage, unit, size, units, rounding)
    assert shown(lines) == expected
    assert sum(x.amount_cents for x in lines) == total


def test_charlotte_average_7_ccf_customer_pays_the_published_80_35():
    water = bill("charlotte_water", date(2024, 8, 31), "7", "CCF", '5/8"')
    sewer = bill("charlotte_sewer", date(2024, 8, 31), "7", "CCF", '5/8"')
    assert sum(x.amount_cents for x in water + sewer) == 8035


def test_lines_carry_category_and_the_component_that_produced_them():
    lines = bill("maple_grove_water", date(2016, 3, 31), "5000", "gallons")
    assert [(x.source, x.category) for x in lines] == [
        ("usage", "charge"),
        ("minimum", "charge"),
        ("treatment", "charge"),
        ("state_testing", "fee"),
    ]


def test_a_rate_change_mid_period_bills_the_whole_period_at_the_rates_of_its_last_day():
    plan = example("charles_city_water")
    # A period from 2023-06-15 to 2023-07-14 straddles the July 1 change: no proration.
    assert version_in_force(plan, date(2023, 7, 14)).effective_from == date(2023, 7, 1)
    assert version_in_force(plan, date(2023, 6, 30)).effective_from == date(2022, 7, 1)
    lines = bill("charles_city_water", date(2023, 7, 14), "6500", "gallons", '5/8"')
    assert shown(lines) == CHARLES_5_8_JULY_2023


def test_a_period_ending_before_the_first_version_is_refused():
    with pytest.raises(RuleError, match="no version is in force on 2022-06-30"):
        version_in_force(example("charles_city_water"), date(2022, 6, 30))


def test_usage_converts_exactly_inside_a_family_and_by_the_declared_conversion_across():
    water = example("charlotte_water")
    assert convert_usage(water, Decimal(700), "cubic feet") == 7
    assert convert_usage(water, Decimal("5236"), "gallons") == 7
    assert convert_usage(example("charles_city_water"), Decimal(6500), "gal") == Decimal("6.5")


# --- refusals at rating time ----------------------------------------------------------------

RATING_REFUSALS = {
    "no-usage-for-a-usage-component": (
        dict(name="charlotte_sewer", usage=None, unit=None, size='5/8"'),
        "component 'usage' bills usage, but no usage was given",
    ),
    "negative-usage": (
        dict(name="charlotte_sewer", usage="-3", unit="CCF", size='5/8"'),
        "usage cannot be negative",
    ),
    "no-conversion-between-the-units": (
        dict(name="charles_city_water", usage="7", unit="HCF", size='5/8"'),
        "usage in HCF cannot be converted to the plan's unit 1,000 gallons",
    ),
    "unknown-usage-unit": (
        dict(name="charles_city_water", usage="7", unit="barrels", size='5/8"'),
        "usage_unit: unknown unit 'barrels'",
    ),
    "usage-without-its-unit": (
        dict(name="charles_city_water", usage="7", unit=None, size='5/8"'),
        "usage 7 was given without its unit",
    ),
    "meter-size-not-in-the-table": (
        dict(name="charles_city_water", usage="7", unit="kgal", size='8"'),
        "component 'access' has no rate for meter size '8\"'",
    ),
    "no-meter-size": (
        dict(name="charles_city_water", usage="7", unit="kgal", size=None),
        "component 'access' is priced by meter size",
    ),
    "no-dwelling-units": (
        dict(name="weatherford_stormwater", units=0),
        "dwelling_units must be a whole number of at least 1",
    ),
    "unknown-rounding-rule": (
        dict(name="carrollton_trash", rounding="bankers"),
        "unknown rounding rule 'bankers'",
    ),
}


@pytest.mark.parametrize("case", RATING_REFUSALS.values(), ids=RATING_REFUSALS)
def test_a_bill_that_cannot_be_rated_is_refused_naming_the_reason(case):
    arguments, message = case
    arguments = {"usage": None, "unit": None, "size": None, "units": 1} | arguments
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bill(
            arguments["name"],
            date(2024, 8, 31),
            arguments["usage"],
            arguments["unit"],
            arguments["size"],
            arguments["units"],
            arguments.get("rounding", "half_up"),
        )


def test_a_float_usage_is_refused():
    with pytest.raises(RuleError, match="usage must be a Decimal, not float"):
        rate_bill(
            example("charlotte_sewer"),
            period_end=date(2024, 8, 31),
            usage=7.0,  # type: ignore[arg-type]
            usage_unit="CCF",
            meter_size='5/8"',
            dwelling_units=1,
        )


def test_usage_step_bills_any_part_of_a_thousand_gallons_as_a_whole_one():
    document = _document(
        [
            {"id": "base", "kind": "fixed", "amount": "30.11"},
            {"id": "over", "kind": "usage_above", "threshold": 2, "rate": "7.99"},
        ],
        usage_step="1",
        usage_rounding="up",
    )
    lines = rate_bill(
        parse_rate_plan(document),
        period_end=date(2024, 8, 31),
        usage=Decimal(4100),
        usage_unit="gallons",
        meter_size=None,
        dwelling_units=1,
    )
    assert shown(lines)[1] == line("Usage (over 2 kgal)", "3", KGAL, "7.99", 2397)


def test_an_unmetered_plan_ignores_usage_it_is_given():
    lines = bill("carrollton_trash", date(2024, 1, 31), "12000", "gallons")
    assert shown(lines) == [line("Solid waste base services", "1", "month", "23.15", 2315)]


def test_blocks_can_depend_on_the_meter_size():
    tiers = {
        '5/8"': [{"up_to": 7, "rate": "2.08"}, {"up_to": 12, "rate": "2.61"}, {"rate": "3.64"}],
        '1"': [{"up_to": 11, "rate": "2.08"}, {"up_to": 19, "rate": "2.61"}, {"rate": "3.64"}],
    }
    document = _document([{"id": "usage", "kind": "blocks", "by_meter_size": tiers}])
    document["unit"] = "CCF"
    spec = parse_rate_plan(document)
    assert parse_rate_plan(json.loads(json.dumps(plan_to_document(spec)))) == spec
    lines = rate_bill(
        spec,
        period_end=date(2024, 8, 31),
        usage=Decimal(15),
        usage_unit="CCF",
        meter_size='1"',
        dwelling_units=1,
    )
    assert shown(lines) == [
        line("Usage (0–11 CCF)", "11", CCF, "2.08", 2288),
        line("Usage (11–19 CCF)", "4", CCF, "2.61", 1044),
    ]


# --- files and the canonical document -------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_round_trips_through_its_canonical_json_document(path):
    spec = load_rate_plan_file(path)
    document = json.loads(json.dumps(plan_to_document(spec)))
    assert parse_rate_plan(document) == spec
    assert plan_to_document(parse_rate_plan(document)) == document


def test_json_and_yml_files_load_the_same_plan(tmp_path):
    spec = example("charlotte_sewer")
    (tmp_path / "sewer.json").write_text(json.dumps(plan_to_document(spec)))
    (tmp_path / "sewer.yml").write_text((EXAMPLES / "charlotte_sewer.yaml").read_text())
    assert load_rate_plan_file(tmp_path / "sewer.json") == spec
    assert load_rate_plan_file(str(tmp_path / "sewer.yml")) == spec


def test_a_yaml_float_is_refused_with_a_request_to_quote_it(tmp_path):
    text = (EXAMPLES / "charlotte_sewer.yaml").read_text().replace('rate: "5.93"', "rate: 5.93")
    (tmp_path / "sewer.yaml").write_text(text)
    with pytest.raises(RuleError) as refused:
        load_rate_plan_file(tmp_path / "sewer.yaml")
    assert str(refused.value) == (
        "sewer.yaml: versions[0].components[2].rate: 5.93 is a float; "
        "quote it ('5.93') to keep it exact"
    )


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("plan.txt", "code: X", "plan.txt: a rate plan file ends in .json, .yaml or .yml"),
        ("plan.yaml", "code: [unclosed", "plan.yaml: cannot be read"),
        ("plan.json", "{not json", "plan.json: cannot be read"),
        ("plan.yaml", "- a list", "plan.yaml: the plan: must be a mapping, not list"),
    ],
)
def test_an_unreadable_file_is_refused_naming_the_file(tmp_path, filename, text, message):
    (tmp_path / filename).write_text(text)
    with pytest.raises(RuleError, match=message.replace(".", r"\.")):
        load_rate_plan_file(tmp_path / filename)


# --- refusals of bad documents --------------------------------------------------------------

DELETE = object()


def _document(components: list[dict], **version: object) -> dict:
    """A plan document with one version of these components."""
    return {
        "code": "TEST-WATER",
        "name": "Test water",
        "service_kind": "water",
        "unit": "kgal",
        "versions": [
            {"effective_from": "2024-07-01", "frequency": "monthly", "components": components}
            | version
        ],
    }


VALID = _document(
    [
        {"id": "base", "kind": "fixed", "amount": "18.50"},
        {"id": "included", "kind": "allowance", "included": "2"},
        {
            "id": "usage",
            "kind": "blocks",
            "blocks": [
                {"up_to": "5", "rate": "4.23"},
                {"up_to": "15", "rate": "5.10"},
                {"rate": "6.40"},
            ],
        },
        {"id": "minimum", "kind": "minimum", "amount": "25.00"},
    ]
)
C = ("versions", 0, "components")
BAD_DOCUMENTS = [
    (
        (*C, 2, "blocks", 1, "up_to"), "5",
        "versions[0].components[2].blocks[1].up_to: must be greater than the previous boundary (5)",
    ),
    (
        (*C, 2, "blocks", 0, "rate"), 4.23,
        "versions[0].components[2].blocks[0].rate: 4.23 is a float; quote it ('4.23') to keep it exact",
    ),
    ((*C, 2, "blocks", 0, "rate"), "-4.23", "versions[0].components[2].blocks[0].rate: '-4.23' is not a number"),
    ((*C, 2, "blocks", 0, "rate"), True, "versions[0].components[2].blocks[0].rate: must be a number"),
    ((*C, 2, "blocks", 0, "rate"), "4.123456789", "blocks[0].rate: 4.123456789 has more than 8 decimal places"),
    ((*C, 2, "blocks", 2, "up_to"), "20", "versions[0].components[2].blocks[2].up_to: the last block takes all"),
    ((*C, 2, "blocks", 0, "up_to"), DELETE, "versions[0].components[2].blocks[0].up_to: is required on every block but the last"),
    ((*C, 2, "blocks"), [], "versions[0].components[2].blocks: must be a non-empty list"),
    ((*C, 2, "by_meter_size"), {'5/8"': []}, "versions[0].components[2]: give either blocks or by_meter_size"),
    ((*C, 0, "by_meter_size"), {'5/8"': "1"}, "versions[0].components[0]: give either amount or by_meter_size"),
    ((*C, 0, "amount"), DELETE, "versions[0].components[0]: give either amount or by_meter_size"),
    ((*C, 0, "per_dwelling_unit"), "yes", "versions[0].components[0].per_dwelling_unit: must be true or false"),
    ((*C, 0, "kind"), "discount", "versions[0].components[0].kind: 'discount' is not one of"),
    ((*C, 0, "rate"), "1", "versions[0].components[0].rate: unknown key"),
    ((*C, 1, "id"), "base", "versions[0].components[1].id: 'base' is used twice"),
    ((*C, 1, "id"), "two words", "versions[0].components[1].id: 'two words' is not allowed here"),
    ((*C, 1, "included"), "0", "versions[0].components[1].included: must be greater than zero"),
    ((*C, 3, "amount"), "25.005", "versions[0].components[3].amount: 25.005 has more than 2 decimal places"),
    ((*C, 3, "applies_to"), ["nothing"], "versions[0].components[3].applies_to: no component has the id 'nothing'"),
    ((*C, 3, "applies_to"), ["included"], "components[3].applies_to: 'included' cannot be in the scope of 'minimum'"),
    ((*C, 3, "applies_to"), ["usage", "usage"], "versions[0].components[3].applies_to: names a component twice"),
    ((*C, 4), {"id": "more", "kind": "allowance", "included": 1}, "versions[0].components: a version has at most one allowance"),
    ((*C, 4), {"id": "cap", "kind": "maximum", "amount": "9", "applies_to": ["minimum"]}, "'minimum' cannot be in the scope of 'cap'"),
    (C, [], "versions[0].components: must be a non-empty list"),
    (("versions", 0, "frequency"), "weekly", "versions[0].frequency: must be one of monthly, bimonthly, quarterly"),
    (("versions", 0, "effective_from"), "2024-13-01", "versions[0].effective_from: must be a date"),
    (("versions", 0, "usage_step"), "0.00001", "versions[0].usage_step: 0.00001 has more than 4 decimal places"),
    (("versions", 0, "usage_rounding"), "sideways", "versions[0].usage_rounding: must be one of"),
    (("versions", 1), VALID["versions"][0], "versions[1].effective_from: 2024-07-01 is also the date of versions[0]"),
    (("versions",), [], "versions: must be a non-empty list"),
    (("unit",), "furlongs", "unit: unknown unit 'furlongs'"),
    (("unit",), DELETE, "unit: is required when a version bills usage"),
    (("code",), DELETE, "code: is required"),
    (("name",), " Test water", "name: must have no surrounding spaces"),
    (("service_kind",), "Water Service", "service_kind: 'Water Service' is not allowed here"),
    (("rates",), {}, "rates: unknown key"),
    (("conversions",), {"HCF": "100 cubic feet"}, "conversions.HCF: hcf and cf convert exactly already"),
    (("conversions",), {"HCF": "lots of gallons"}, "conversions.HCF: 'lots' is not a number"),
    (("conversions",), {"HCF": "748 gallons", "CCF": "7.48 gal"}, "conversions.CCF: the conversion HCF already links"),
]  # fmt: skip


def _with(path: tuple, value: object) -> dict:
    """VALID with one value set, appended or deleted."""
    document = copy.deepcopy(VALID)
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list) and last == len(target):
        target.append(copy.deepcopy(value))
    else:
        target[last] = copy.deepcopy(value)
    return document


def test_the_valid_document_parses():
    spec = parse_rate_plan(copy.deepcopy(VALID))
    assert spec.unit == "kgal" and spec.versions[0].components[2].blocks[1].up_to == 15


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_DOCUMENTS, ids=[m for _, _, m in BAD_DOCUMENTS]
)
def test_a_bad_document_is_refused_with_a_message_naming_the_place(path, value, message):
    with pytest.raises(RuleError) as refused:
        parse_rate_plan(_with(path, value))
    assert message in str(refused.value)


def test_a_maximum_in_an_unmetered_version_is_refused():
    document = _document(
        [
            {"id": "fee", "kind": "fee", "amount": "4"},
            {"id": "cap", "kind": "maximum", "amount": "3"},
        ]
    )
    with pytest.raises(RuleError, match=r"components\[1\]: a maximum needs usage charges to cap"):
        parse_rate_plan(document)


def test_the_versions_are_sorted_by_effective_date():
    document = copy.deepcopy(VALID)
    document["versions"].insert(0, {**VALID["versions"][0], "effective_from": "2025-07-01"})
    dates = [v.effective_from for v in parse_rate_plan(document).versions]
    assert dates == [date(2024, 7, 1), date(2025, 7, 1)]


# --- properties -----------------------------------------------------------------------------


def _exact(number: Decimal) -> str:
    """A generated Decimal as a plain string."""
    return format(abs(number), "f")


RATES = st.decimals(min_value=0, max_value=25, places=4).map(_exact)
MONEY = st.decimals(min_value=0, max_value=300, places=2).map(_exact)
QUANTITIES = st.decimals(min_value=Decimal("0.1"), max_value=500, places=1).map(_exact)
USAGES = st.decimals(min_value=0, max_value=2000, places=3)
RULES = st.sampled_from(sorted(ROUNDING_RULES))
USAGE_IDS = ["blocks", "above", "uniform"]


@st.composite
def block_lists(draw, rates=RATES):
    """Blocks with rising boundaries and an open last block."""
    bounds = sorted(set(draw(st.lists(QUANTITIES.map(Decimal), max_size=4))))
    blocks = [{"up_to": _exact(b), "rate": draw(rates)} for b in bounds]
    return [*blocks, {"rate": draw(rates)}]


@st.composite
def plan_documents(draw):
    """A one-version plan combining every kind of component, sometimes with limits."""
    per_unit = st.booleans()
    components = [
        {"id": "base", "kind": "fixed", "amount": draw(MONEY), "per_dwelling_unit": draw(per_unit)},
        {"id": "blocks", "kind": "blocks", "blocks": draw(block_lists()), "per_dwelling_unit": draw(per_unit)},
        {"id": "above", "kind": "usage_above", "threshold": draw(QUANTITIES), "rate": draw(RATES)},
        {"id": "uniform", "kind": "uniform", "rate": draw(RATES)},
        {"id": "test_fee", "kind": "fee", "amount": draw(MONEY)},
    ]  # fmt: skip
    if draw(st.booleans()):
        components.append({"id": "allowance", "kind": "allowance", "included": draw(QUANTITIES)})
    for kind in ("maximum", "minimum"):
        if draw(st.booleans()):
            scope = draw(st.lists(st.sampled_from(USAGE_IDS), unique=True))
            limit = {"id": kind, "kind": kind, "amount": draw(MONEY), "applies_to": scope}
            components.append(limit | {"per_dwelling_unit": draw(per_unit)})
    _limits_agree({c["id"]: c for c in components})
    frequency = draw(st.sampled_from(["monthly", "bimonthly", "quarterly"]))
    return _document(draw(st.permutations(components)), frequency=frequency)


def _limits_agree(components: dict) -> None:
    """Make a generated minimum count the maximum it overlaps, and never exceed it on the same
    charges: the plans a load refuses (see test_a_minimum_that_contradicts_a_maximum_is_refused)."""
    if not {"minimum", "maximum"} <= components.keys():
        return
    floor, cap = components["minimum"], components["maximum"]
    capped = set(cap["applies_to"] or USAGE_IDS)
    if set(floor["applies_to"]) & capped and "maximum" not in floor["applies_to"]:
        floor["applies_to"] = [*floor["applies_to"], "maximum"]
    same = set(floor["applies_to"]) - {"maximum"} == capped
    if same and floor["per_dwelling_unit"] == cap["per_dwelling_unit"]:
        floor["amount"] = min(floor["amount"], cap["amount"], key=Decimal)


def _rate(document: dict, usage: Decimal, units: int, rule: str, unit: str = "kgal") -> list:
    """Rate a generated document at the end of August 2024."""
    return rate_bill(
        parse_rate_plan(document),
        period_end=date(2024, 8, 31),
        usage=usage,
        usage_unit=unit,
        meter_size=None,
        dwelling_units=units,
        rounding=rule,
    )


def _scope_cents(lines: list, component: dict, units: int, default: list[str]) -> tuple[int, int]:
    """(cents of the limit's scope and its own line, the limit in cents)."""
    scope = set(component["applies_to"] or default) | {component["id"]}
    multiplier = units if component["per_dwelling_unit"] else 1
    limit = dollars_to_cents(Decimal(component["amount"]) * multiplier)
    return sum(x.amount_cents for x in lines if x.source in scope), limit


@settings(max_examples=300, deadline=None)
@given(plan_documents(), USAGES, st.integers(1, 12), RULES)
def test_every_line_is_quantity_times_rate_rounded_once_and_the_total_is_their_sum(
    document, usage, units, rule
):
    lines = _rate(document, usage, units, rule)
    for x in lines:
        assert isinstance(x.amount_cents, int)
        if x.quantity is not None and x.unit_rate is not None:
            assert x.amount_cents == dollars_to_cents(x.quantity * x.unit_rate, rule)
    ids = {c["id"] for c in document["versions"][0]["components"]}
    assert {x.source for x in lines} <= ids
    assert sum(x.amount_cents for x in lines) >= 0


@settings(max_examples=300, deadline=None)
@given(plan_documents(), USAGES, st.integers(1, 12), RULES)
def test_a_bill_never_goes_below_its_minimum_or_above_its_maximum(document, usage, units, rule):
    lines = _rate(document, usage, units, rule)
    components = {c["id"]: c for c in document["versions"][0]["components"]}
    if "maximum" in components:
        capped, limit = _scope_cents(lines, components["maximum"], units, USAGE_IDS)
        assert capped <= limit
    if "minimum" in components:
        everything_else = [name for name in components if name != "minimum"]
        floored, limit = _scope_cents(lines, components["minimum"], units, everything_else)
        assert floored >= limit


@settings(max_examples=200, deadline=None)
@given(block_lists(rates=st.just("3.7913")), USAGES, st.booleans(), st.integers(1, 6), RULES)
def test_blocks_that_all_share_one_rate_bill_like_a_uniform_rate(
    blocks, usage, scaled, units, rule
):
    tiers = _document(
        [{"id": "u", "kind": "blocks", "blocks": blocks, "per_dwelling_unit": scaled}]
    )
    uniform = _document([{"id": "u", "kind": "uniform", "rate": "3.7913"}])
    total = [sum(x.amount_cents for x in _rate(d, usage, units, rule)) for d in (tiers, uniform)]
    assert total[0] == total[1]


@settings(max_examples=200, deadline=None)
@given(plan_documents(), USAGES, st.integers(1, 12), RULES)
def test_a_meter_in_gallons_bills_the_same_as_the_usage_in_thousands_of_gallons(
    document, usage, units, rule
):
    in_kgal = _rate(document, usage, units, rule)
    in_gallons = _rate(document, usage * 1000, units, rule, unit="gallons")
    assert shown(in_gallons) == shown(in_kgal)


@settings(max_examples=200, deadline=None)
@given(plan_documents())
def test_a_generated_plan_round_trips_through_its_canonical_document(document):
    spec = parse_rate_plan(document)
    assert parse_rate_plan(json.loads(json.dumps(plan_to_document(spec)))) == spec


@settings(max_examples=200, deadline=None)
@given(plan_documents(), USAGES, USAGES, st.integers(1, 12), RULES)
def test_using_more_never_makes_a_bill_smaller(document, usage, more, units, rule):
    # NOTE: a plan whose minimum tops up what a maximum holds down is refused at load
    # (test_a_minimum_that_contradicts_a_maximum_is_refused), so every loadable plan holds.
    less_used = sum(x.amount_cents for x in _rate(document, usage, units, rule))
    more_used = sum(x.amount_cents for x in _rate(document, usage + more, units, rule))
    assert more_used >= less_used
