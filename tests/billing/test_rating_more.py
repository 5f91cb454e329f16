"""Rating as towns really bill: proration, cycles longer than the plan's frequency, seasons,
greater-of and lesser-of, sewer on a percentage of water, winter averaging, credits and
charges per unit of a service point attribute; each worked example of docs/rates.md to the
cent, and the plans that contradict themselves refused with the place named."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import BilledPeriod, RuleError
from billing.periods import clip_period, regular_months
from billing.rate_plan_format import (
    RatePlanSpec,
    load_rate_plan_file,
    parse_rate_plan,
    plan_to_document,
)
from billing.rating import rate_bill
from core.money import dollars_to_cents

EXAMPLES = Path(__file__).parent / "rate_examples"


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


def shown(lines) -> list[tuple]:
    """What a resident reads on each line."""
    return [(x.description, x.quantity, x.unit, x.unit_rate, x.amount_cents) for x in lines]


def period(start, end, regular_start, regular_end, months=1) -> BilledPeriod:
    """A billed period from ISO dates."""
    days = (date.fromisoformat(d) for d in (start, end, regular_start, regular_end))
    return BilledPeriod(*days, months=months)


def rate(plan, end, usage=None, unit=None, size=None, units=1, **more):
    """Rate a plan (an example's name or a spec) for a period ending `end`."""
    spec = example(plan) if isinstance(plan, str) else plan
    return rate_bill(
        spec,
        period_end=date.fromisoformat(end),
        usage=None if usage is None else Decimal(usage),
        usage_unit=unit,
        meter_size=size,
        dwelling_units=units,
        **more,
    )


KGAL, CCF, M3 = "1,000 gallons", "CCF", "cubic metres"
CHARLOTTE_7_CCF = [
    line("Water fixed fee", "1", "month", "6.16", 616),
    line('Water availability fee, 5/8" meter', "1", "month", "1.44", 144),
    line("Water usage (0–4 CCF)", "4", CCF, "1.98", 792),
    line("Water usage (4–8 CCF)", "3", CCF, "2.56", 768),
]
SEPT_20 = " (2024-09-20 – 2024-09-30)"
AUG_15 = " (2017-07-01 – 2017-08-15)"
JUNE, JULY = " (2023-06-16 – 2023-06-30)", " (2023-07-01 – 2023-07-15)"

# (plan, period end, usage, unit, meter size, dwelling units, keyword arguments, lines, total)
WORKED_EXAMPLES = {
    "charlotte-service-starting-sept-20-prorates-its-fees": (
        "charlotte_water_prorated", "2024-09-30", "3", "CCF", '5/8"', 1,
        {"period": period("2024-09-20", "2024-09-30", "2024-09-01", "2024-09-30")},
        [
            line("Water fixed fee" + SEPT_20, "0.3667", "month", "6.16", 226),
            line('Water availability fee, 5/8" meter' + SEPT_20, "0.3667", "month", "1.44", 53),
            line("Water usage (0–4 CCF)" + SEPT_20, "3", CCF, "1.98", 594),
        ],
        873,
    ),
    "charlotte-whole-month-is-not-prorated": (
        "charlotte_water_prorated", "2024-09-30", "7", "CCF", '5/8"', 1,
        {"period": period("2024-09-01", "2024-09-30", "2024-09-01", "2024-09-30")},
        [
            line("Water fixed fee", "1", "month", "6.16", 616),
            line('Water availability fee, 5/8" meter', "1", "month", "1.44", 144),
            line("Water usage (0–4 CCF)", "4", CCF, "1.98", 792),
            line("Water usage (4–8 CCF)", "3", CCF, "2.56", 768),
        ],
        2320,
    ),
    "barrie-service-stopping-aug-15-prorates-charge-and-blocks": (
        "barrie_water_prorated", "2017-08-15", "40", "m3", None, 1,
        {"period": period("2017-07-01", "2017-08-15", "2017-07-01", "2017-08-31", 2)},
        [
            line("Water fixed charge" + AUG_15, "0.7419", "2 months", "24.92", 1849),
            line("Water usage (0–22.257 m³)" + AUG_15, "22.257", M3, "0.9827", 2187),
            line("Water usage (22.257–44.514 m³)" + AUG_15, "17.743", M3, "1.9656", 3488),
        ],
        7524,
    ),
    "charles-city-period-split-at-the-july-2023-rate-change": (
        "charles_city_water_split", "2023-07-15", "6500", "gallons", '5/8"', 1,
        {"period": period("2023-06-16", "2023-07-15", "2023-06-16", "2023-07-15")},
        [
            line('Water access charge, 5/8" meter' + JUNE, "0.5", "month", "19.83", 992),
            line("Water usage (0–1 kgal)" + JUNE, "1", KGAL, "4.29", 429),
            line("Water usage (1–25 kgal)" + JUNE, "2.25", KGAL, "3.95", 889),
            line('Water access charge, 5/8" meter' + JULY, "0.5", "month", "20.53", 1027),
            line("Water usage (0–1 kgal)" + JULY, "1", KGAL, "4.44", 444),
            line("Water usage (1–25 kgal)" + JULY, "2.25", KGAL, "4.09", 920),
        ],
        4701,
    ),
    "carrollton-monthly-rate-on-a-bimonthly-cycle-charges-two-months": (
        "carrollton_trash", "2024-02-29", None, None, None, 1,
        {"period": period("2024-01-01", "2024-02-29", "2024-01-01", "2024-02-29", 2)},
        [line("Solid waste base services", "2", "month", "23.15", 4630)],
        4630,
    ),
    "coon-rapids-quarterly-rate-on-a-quarterly-cycle-charges-once": (
        "coon_rapids_water", "2023-09-30", "32", "kgal", None, 1,
        {"period": period("2023-07-01", "2023-09-30", "2023-07-01", "2023-09-30", 3)},
        [
            line("Water service charge", "1", "quarter", "21", 2100),
            line("Water usage (0–15 kgal)", "15", KGAL, "2.21", 3315),
            line("Water usage (15–45 kgal)", "17", KGAL, "2.76", 4692),
        ],
        10107,
    ),
    "los-alamos-peak-blocks-in-a-july-billing": (
        "los_alamos_water", "2024-07-31", "20", "kgal", None, 1, {},
        [
            line("Water fixed service charge", "1", "month", "15.17", 1517),
            line("Water usage, peak (0–9 kgal)", "9", KGAL, "7.17", 6453),
            line("Water usage, peak (9–15 kgal)", "6", KGAL, "7.89", 4734),
            line("Water usage, peak (over 15 kgal)", "5", KGAL, "8.67", 4335),
        ],
        17039,
    ),
    "los-alamos-non-peak-rate-in-a-january-billing": (
        "los_alamos_water", "2024-01-31", "20", "kgal", None, 1, {},
        [
            line("Water fixed service charge", "1", "month", "15.17", 1517),
            line("Water usage, non-peak", "20", KGAL, "7.17", 14340),
        ],
        15857,
    ),
    "middleport-four-units-pay-the-minimum-per-unit": (
        "middleport_water", "2024-01-31", "4", "kgal", None, 4, {},
        [
            line(
                "Minimum bill per unit (the greater of $31.20 / $20.00)",
                "4", "dwelling unit", "7.80", 3120,
            ),
        ],
        3120,
    ),
    "middleport-four-units-pay-the-metered-water-when-greater": (
        "middleport_water", "2024-01-31", "10", "kgal", None, 4, {},
        [line("Metered water (the greater of $31.20 / $50.00)", "10", KGAL, "5.00", 5000)],
        5000,
    ),
    "sewer-on-90-percent-of-7300-gallons": (
        "sewer_percent_of_water", "2024-01-31", "7300", "gallons", None, 1, {},
        [
            line("Sewer base charge", "1", "month", "12.00", 1200),
            line("Sewer usage on 90% of water", "6.57", KGAL, "5.00", 3285),
        ],
        4485,
    ),
    "mulvane-july-sewer-on-the-stored-winter-average": (
        "mulvane_sewer", "2024-07-31", "9", "kgal", None, 1,
        {"winter_average": Decimal("3.5")},
        [
            line("Billed on the winter average of 3.5 kgal (used 9 kgal)", None, None, None, 0),
            line("Sewer customer charge", "1", "month", "21.00", 2100),
            line("Sewer usage", "3.5", KGAL, "5.25", 1838),
        ],
        3938,
    ),
    "mulvane-bills-the-average-even-below-it": (
        "mulvane_sewer", "2024-07-31", "2", "kgal", None, 1,
        {"winter_average": Decimal("3.5")},
        [
            line("Billed on the winter average of 3.5 kgal (used 2 kgal)", None, None, None, 0),
            line("Sewer customer charge", "1", "month", "21.00", 2100),
            line("Sewer usage", "3.5", KGAL, "5.25", 1838),
        ],
        3938,
    ),
    "mulvane-new-customer-pays-the-published-42-dollars": (
        "mulvane_sewer", "2024-07-31", "9", "kgal", None, 1, {},
        [
            line(
                "Billed on 4 kgal, the average for an account without winter usage "
                "(used 9 kgal)", None, None, None, 0,
            ),
            line("Sewer customer charge", "1", "month", "21.00", 2100),
            line("Sewer usage", "4", KGAL, "5.25", 2100),
        ],
        4200,
    ),
    "mulvane-january-bills-the-winter-usage-itself": (
        "mulvane_sewer", "2024-01-31", "6", "kgal", None, 1,
        {"winter_average": Decimal("3.5")},
        [
            line("Sewer customer charge", "1", "month", "21.00", 2100),
            line("Sewer usage", "6", KGAL, "5.25", 3150),
        ],
        5250,
    ),
    "senior-reduction-of-25-percent": (
        "senior_discounts_water", "2025-01-31", "7", "CCF", '5/8"', 1, {"flags": {"senior"}},
        [*CHARLOTTE_7_CCF, line("Senior reduction (25% of $23.20)", None, None, None, -580)],
        1740,
    ),
    "senior-low-income-discount-of-15-dollars": (
        "senior_discounts_water", "2025-01-31", "7", "CCF", '5/8"', 1,
        {"flags": {"low_income"}},
        [*CHARLOTTE_7_CCF, line("Senior low-income discount", "1", "month", "-15.00", -1500)],
        820,
    ),
    "both-discounts": (
        "senior_discounts_water", "2025-01-31", "7", "CCF", '5/8"', 1,
        {"flags": {"low_income", "senior"}},
        [
            *CHARLOTTE_7_CCF,
            line("Senior reduction (25% of $23.20)", None, None, None, -580),
            line("Senior low-income discount", "1", "month", "-15.00", -1500),
        ],
        240,
    ),
    "a-discount-never-takes-the-bill-below-zero": (
        "senior_discounts_water", "2025-01-31", "2", "CCF", '5/8"', 1,
        {"flags": {"low_income"}},
        [
            *CHARLOTTE_7_CCF[:2],
            line("Water usage (0–4 CCF)", "2", CCF, "1.98", 396),
            line("Senior low-income discount (limited to the bill, $11.56)", None, None, None, -1156),
        ],
        0,
    ),
    "no-discount-without-a-flag": (
        "senior_discounts_water", "2025-01-31", "7", "CCF", '5/8"', 1, {"flags": {"veteran"}},
        CHARLOTTE_7_CCF,
        2320,
    ),
    "carrollton-two-extra-carts": (
        "carrollton_trash_carts", "2024-01-31", None, None, None, 1,
        {"attributes": {"extra_carts": Decimal(2)}},
        [
            line("Solid waste base services", "1", "month", "23.15", 2315),
            line("Extra carts", "2", "cart", "9.33", 1866),
        ],
        4181,
    ),
    "berkeley-county-published-915447-sq-ft-is-332-eru": (
        "berkeley_county_stormwater", "2024-12-31", None, None, None, 1,
        {
            "attributes": {"impervious_area": Decimal(915447)},
            "period": period("2024-01-01", "2024-12-31", "2024-01-01", "2024-12-31", 12),
        },
        [line("Stormwater utility fee", "332", "ERU", "36.00", 1195200)],
        1195200,
    ),
    "berkeley-county-2000-sq-ft-rounds-to-one-eru": (
        "berkeley_county_stormwater", "2024-12-31", None, None, None, 1,
        {"attributes": {"impervious_area": Decimal(2000)}},
        [line("Stormwater utility fee", "1", "ERU", "36.00", 3600)],
        3600,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", WORKED_EXAMPLES.values(), ids=WORKED_EXAMPLES)
def test_worked_example_is_billed_to_the_cent_line_by_line(case):
    plan, end, usage, unit, size, units, more, expected, total = case
    lines = rate(plan, end, usage, unit, size, units, **more)
    assert shown(lines) == expected
    assert sum(x.amount_cents for x in lines) == total


def test_spanish_lines_say_the_dates_and_the_choice_in_spanish():
    document = plan_to_document(example("middleport_water"))
    components = document["versions"][0]["components"]
    components[0]["description"] = {"en": "Minimum bill", "es": "Factura mínima"}
    components[1]["description"] = {"en": "Metered water", "es": "Agua medida"}
    lines = rate(parse_rate_plan(document), "2024-01-31", "4", "kgal", None, 4)
    assert lines[0].descriptions["es"] == "Factura mínima (el mayor de $31.20 / $20.00)"
    document["versions"][0]["proration"] = "fixed"
    prorated = rate(
        parse_rate_plan(document), "2024-01-31", "4", "kgal", None, 4,
        period=period("2024-01-22", "2024-01-31", "2024-01-01", "2024-01-31"),
    )  # fmt: skip
    # 10 of 31 days: the minimum is 4 × 0.3226 × $7.80 = $10.07; the metered $20.00 is more.
    assert prorated[0].descriptions["es"] == (
        "Agua medida (el mayor de $10.07 / $20.00) (2024-01-22 – 2024-01-31)"
    )
    assert prorated[0].units["es"] == "1,000 galones"


def test_a_plan_without_proration_bills_a_partial_period_in_full():
    lines = rate(
        "charlotte_water", "2024-09-30", "3", "CCF", '5/8"',
        period=period("2024-09-20", "2024-09-30", "2024-09-01", "2024-09-30"),
    )  # fmt: skip
    assert shown(lines)[:2] == [
        line("Water fixed fee", "1", "month", "6.16", 616),
        line('Water availability fee, 5/8" meter', "1", "month", "1.44", 144),
    ]


def test_without_proration_a_rate_change_inside_the_period_is_not_split():
    lines = rate(
        "charles_city_water", "2023-07-14", "6500", "gallons", '5/8"',
        period=period("2023-06-15", "2023-07-14", "2023-06-15", "2023-07-14"),
    )  # fmt: skip
    assert [x.amount_cents for x in lines] == [2053, 888, 1841]


def test_scale_blocks_widens_the_blocks_of_a_monthly_plan_on_a_bimonthly_cycle():
    document = plan_to_document(example("charles_city_water"))
    for version in document["versions"]:
        version["scale_blocks"] = True
    lines = rate(
        parse_rate_plan(document), "2024-02-29", "6500", "gallons", '5/8"',
        period=period("2024-01-01", "2024-02-29", "2024-01-01", "2024-02-29", 2),
    )  # fmt: skip
    assert shown(lines) == [
        line('Water access charge, 5/8" meter', "2", "month", "20.53", 4106),
        line("Water usage (0–4 kgal)", "4", KGAL, "4.44", 1776),
        line("Water usage (4–100 kgal)", "2.5", KGAL, "4.09", 1023),
    ]


def test_the_lesser_of_two_charges_is_billed():
    document = plan_to_document(example("middleport_water"))
    document["versions"][0]["components"][2]["kind"] = "lesser_of"
    lines = rate(parse_rate_plan(document), "2024-01-31", "4", "kgal", None, 4)
    assert shown(lines) == [
        line("Metered water (the lesser of $31.20 / $20.00)", "4", KGAL, "5.00", 2000)
    ]


def _credit_plan(**credit) -> RatePlanSpec:
    """A $20 base charge and one credit for the flag 'senior'."""
    return parse_rate_plan(
        {
            "code": "T",
            "name": "T",
            "service_kind": "water",
            "versions": [
                {
                    "effective_from": "2024-01-01",
                    "frequency": "monthly",
                    "components": [
                        {"id": "base", "kind": "fixed", "amount": "20.00"},
                        {"id": "credit", "kind": "credit", "eligible": ["senior"], **credit},
                    ],
                }
            ],
        }
    )


def test_a_credit_never_takes_the_bill_below_zero():
    lines = rate(_credit_plan(amount="25.00"), "2024-01-31", flags={"senior"})
    assert shown(lines)[1] == line(
        "Discount (limited to the bill, $20.00)", None, None, None, -2000
    )
    assert sum(x.amount_cents for x in lines) == 0


def test_a_credit_amount_follows_the_cycle_months_and_proration():
    lines = rate(
        _credit_plan(amount="5.00"), "2024-02-29", flags={"senior"},
        period=period("2024-01-01", "2024-02-29", "2024-01-01", "2024-02-29", 2),
    )  # fmt: skip
    assert [x.amount_cents for x in lines] == [4000, -1000]


def test_a_service_point_without_the_attribute_is_refused_naming_the_component():
    with pytest.raises(RuleError, match="component 'eru' bills per impervious_area, but the "):
        rate("berkeley_county_stormwater", "2024-12-31")


def test_a_period_outside_its_regular_period_is_refused():
    with pytest.raises(RuleError, match="is not inside its regular period"):
        rate(
            "carrollton_trash", "2024-02-29",
            period=period("2024-01-01", "2024-02-29", "2024-02-01", "2024-02-29"),
        )  # fmt: skip


# --- clip_period and regular_months --------------------------------------------------------

SEPTEMBER = period("2024-09-01", "2024-09-30", "2024-09-01", "2024-09-30")


@pytest.mark.parametrize(
    ("installed", "removed", "expected"),
    [
        (None, None, ("2024-09-01", "2024-09-30")),
        ("2024-08-15", None, ("2024-09-01", "2024-09-30")),
        ("2024-09-20", None, ("2024-09-20", "2024-09-30")),
        (None, "2024-09-10", ("2024-09-01", "2024-09-10")),
        ("2024-09-05", "2024-09-05", ("2024-09-05", "2024-09-05")),
        ("2024-10-01", None, None),
        (None, "2024-08-31", None),
    ],
)
def test_clip_period_keeps_the_days_of_service(installed, removed, expected):
    clipped = clip_period(
        SEPTEMBER,
        installed and date.fromisoformat(installed),
        removed and date.fromisoformat(removed),
    )
    if expected is None:
        assert clipped is None
    else:
        assert (clipped.start.isoformat(), clipped.end.isoformat()) == expected
        assert (clipped.regular_start, clipped.regular_end, clipped.months) == (
            SEPTEMBER.regular_start,
            SEPTEMBER.regular_end,
            1,
        )


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2024-01-01", "2024-01-31", 1),
        ("2024-01-01", "2024-02-29", 2),
        ("2024-11-01", "2025-01-31", 3),
        ("2024-01-01", "2024-06-30", 6),
        ("2024-06-15", "2024-07-14", 1),
        ("2024-06-15", "2024-08-14", 2),
        ("2024-06-15", "2024-06-20", 1),
    ],
)
def test_regular_months_counts_whole_months(start, end, months):
    assert regular_months(date.fromisoformat(start), date.fromisoformat(end)) == months


# --- documents refused, with the place named -----------------------------------------------

BASE = {"id": "base", "kind": "fixed", "amount": "10"}
USAGE = {"id": "usage", "kind": "uniform", "rate": "4"}


def _plan(components: list[dict], **version: object) -> dict:
    """A one-version kgal plan document."""
    return {
        "code": "T",
        "name": "T",
        "service_kind": "sewer",
        "unit": "kgal",
        "versions": [
            {
                "effective_from": "2024-01-01",
                "frequency": "monthly",
                **version,
                "components": components,
            }
        ],
    }


def _summer(**more) -> dict:
    return {**USAGE, "months": [6, 7, 8], **more}


CAP = {"id": "cap", "kind": "maximum", "amount": "50.00", "applies_to": ["usage"]}
CHOICE = {"id": "choice", "kind": "greater_of", "of": ["base", "usage"]}
CREDIT = {"id": "senior", "kind": "credit", "eligible": ["senior"], "percent": 10}
ERU = {"id": "eru", "kind": "per_unit", "attribute": "impervious_area", "rate": "4.50"}
REFUSED = {
    "unknown-proration": (
        _plan([BASE], proration="sometimes"),
        "versions[0].proration: must be one of none, fixed, fixed_and_blocks",
    ),
    "scale-blocks-not-a-flag": (
        _plan([BASE], scale_blocks="yes"),
        "versions[0].scale_blocks: must be true or false",
    ),
    "unknown-frequency": (
        _plan([BASE], frequency="weekly"),
        "versions[0].frequency: must be one of monthly, bimonthly, quarterly, semi_annual, annual",
    ),
    "month-13": (
        _plan([{**BASE, "months": [12, 13]}]),
        "versions[0].components[0].months[1]: 13 is not a month number 1-12",
    ),
    "month-twice": (
        _plan([{**BASE, "months": [6, 6]}]),
        "versions[0].components[0].months: names a month twice",
    ),
    "seasons-of-one-id-overlap": (
        _plan([_summer(), _summer(months=[8, 9])]),
        "versions[0].components[1].months: 'usage' is already billed in month(s) 8 by "
        "versions[0].components[0]",
    ),
    "one-id-twice-without-seasons": (
        _plan([USAGE, _summer()]),
        "versions[0].components[1].id: 'usage' is used twice",
    ),
    "choice-of-one": (
        _plan([BASE, USAGE, {**CHOICE, "of": ["base"]}]),
        "versions[0].components[2].of: must name two or more different components",
    ),
    "choice-of-an-unknown-id": (
        _plan([BASE, USAGE, {**CHOICE, "of": ["base", "nope"]}]),
        "versions[0].components[2].of: no component has the id 'nope'",
    ),
    "choice-of-a-limit": (
        _plan([BASE, USAGE, CAP, {**CHOICE, "of": ["base", "cap"]}]),
        "versions[0].components[3].of: 'cap' is not a charge that can be compared",
    ),
    "one-charge-in-two-choices": (
        _plan([BASE, USAGE, CHOICE, {**CHOICE, "id": "again", "kind": "lesser_of"}]),
        "versions[0].components[3].of: 'base' is already compared by 'choice'",
    ),
    "limit-naming-a-compared-charge": (
        _plan([BASE, USAGE, CHOICE, {**CAP, "applies_to": ["usage"]}]),
        "versions[0].components[3].applies_to: 'usage' is compared by 'choice'; name 'choice' "
        "instead",
    ),
    "credit-with-percent-and-amount": (
        _plan([BASE, {**CREDIT, "amount": "5.00"}]),
        "versions[0].components[1]: give either percent or amount",
    ),
    "credit-above-100-percent": (
        _plan([BASE, {**CREDIT, "percent": "100.5"}]),
        "versions[0].components[1].percent: 100.5 is more than 100",
    ),
    "credit-for-nobody": (
        _plan([BASE, {**CREDIT, "eligible": []}]),
        "versions[0].components[1].eligible: must be a non-empty list",
    ),
    "credit-flag-not-a-name": (
        _plan([BASE, {**CREDIT, "eligible": ["Senior Citizen"]}]),
        "versions[0].components[1].eligible[0]: 'Senior Citizen' is not allowed here",
    ),
    "credit-of-an-unknown-component": (
        _plan([BASE, {**CREDIT, "applies_to": ["water"]}]),
        "versions[0].components[1].applies_to: no component has the id 'water'",
    ),
    "eru-of-no-size": (
        _plan([{**ERU, "size": 0}]),
        "versions[0].components[0].size: must be greater than zero",
    ),
    "eru-rounding-unknown": (
        _plan([{**ERU, "rounding": "nearest"}]),
        "versions[0].components[0].rounding: must be one of",
    ),
    "attribute-not-a-name": (
        _plan([{**ERU, "attribute": "Impervious Area"}]),
        "versions[0].components[0].attribute: 'Impervious Area' is not allowed here",
    ),
    "usage-percent-above-100": (
        _plan([{**USAGE, "usage_percent": "120"}]),
        "versions[0].components[0].usage_percent: 120 is more than 100",
    ),
    "usage-percent-on-a-fixed-charge": (
        _plan([{**BASE, "usage_percent": "90"}]),
        "versions[0].components[0].usage_percent: unknown key",
    ),
    "winter-average-without-usage": (
        _plan([BASE], winter_average={"months": [1, 2], "default": 5}),
        "versions[0].winter_average: the version has no usage charge to average",
    ),
    "winter-average-billed-on-something-else": (
        _plan([USAGE], winter_average={"months": [1], "default": 5, "bill": "greater"}),
        "versions[0].winter_average.bill: must be one of lesser, average",
    ),
    "winter-average-without-default": (
        _plan([USAGE], winter_average={"months": [1]}),
        "versions[0].winter_average.default: is required",
    ),
    "minimum-tops-up-what-the-maximum-held-down": (
        _plan([USAGE, CAP, {"id": "min", "kind": "minimum", "amount": "20", "applies_to": ["usage"]}]),
        "versions[0].components[2].applies_to: counts 'usage', which maximum 'cap' holds down, "
        "but not 'cap' itself, so a bill could fall as usage rises; add 'cap' to applies_to",
    ),
    "minimum-above-the-maximum-on-the-same-charges": (
        _plan([USAGE, CAP, {"id": "min", "kind": "minimum", "amount": "60", "applies_to": ["usage", "cap"]}]),
        "versions[0].components[2].amount: the minimum ($60.00) is above the maximum 'cap' "
        "($50.00) on the same charges",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED)
def test_a_contradictory_or_bad_document_is_refused_naming_the_place(case):
    document, message = case
    with pytest.raises(RuleError) as refused:
        parse_rate_plan(document)
    assert str(refused.value).startswith(message)


def test_a_minimum_that_contradicts_a_maximum_is_refused_in_a_file(tmp_path):
    plan = tmp_path / "sewer.json"
    plan.write_text(json.dumps(REFUSED["minimum-tops-up-what-the-maximum-held-down"][0]))
    with pytest.raises(RuleError, match=r"^sewer.json: versions\[0\].components\[2\].applies_to"):
        load_rate_plan_file(plan)


def test_a_minimum_counting_the_maximum_is_accepted():
    floor = {"id": "min", "kind": "minimum", "amount": "20", "applies_to": ["usage", "cap"]}
    assert parse_rate_plan(_plan([USAGE, CAP, floor]))


# --- properties ----------------------------------------------------------------------------

DAYS = st.integers(0, 29)


@settings(max_examples=200, deadline=None)
@given(
    DAYS,
    DAYS,
    st.decimals(min_value=0, max_value=80, places=2),
    st.sampled_from(["none", "fixed", "fixed_and_blocks"]),
)
def test_a_prorated_bill_checks_by_hand_and_never_exceeds_the_whole_period(
    first, last, usage, proration
):
    start, end = sorted((first, last))
    document = plan_to_document(example("charles_city_water_split"))
    for version in document["versions"]:
        version["proration"] = proration
    spec = parse_rate_plan(document)
    june = date(2024, 6, 1)
    part = BilledPeriod(
        june.replace(day=start + 1), june.replace(day=end + 1), june, date(2024, 6, 30), 1
    )
    lines = rate(spec, "2024-06-30", str(usage), "kgal", '5/8"', period=part)
    for x in lines:
        assert x.amount_cents == dollars_to_cents(x.quantity * x.unit_rate)
    whole = rate(spec, "2024-06-30", str(usage), "kgal", '5/8"')
    assert sum(x.amount_cents for x in lines) <= sum(x.amount_cents for x in whole) + 1


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=500, places=2),
    st.sets(st.sampled_from(["senior", "low_income", "veteran"])),
)
def test_credits_never_take_a_bill_below_zero(usage, flags):
    document = copy.deepcopy(plan_to_document(example("senior_discounts_water")))
    document["versions"][0]["components"][4]["amount"] = "150.00"
    spec = parse_rate_plan(document)
    lines = rate(spec, "2025-01-31", str(usage), "CCF", '5/8"', flags=flags)
    assert sum(x.amount_cents for x in lines) >= 0


def test_every_plan_shown_in_the_docs_is_its_example_file_word_for_word():
    docs = (Path(__file__).parents[2] / "docs" / "rates.md").read_text(encoding="utf-8")
    shown_plans = re.findall(
        r"`tests/billing/rate_examples/([\w.]+)`:\n\n```yaml\n(.*?)```", docs, re.S
    )
    assert {name for name, _ in shown_plans} == {path.name for path in EXAMPLES.glob("*.yaml")}
    for name, text in shown_plans:
        assert text == (EXAMPLES / name).read_text(encoding="utf-8"), name


def test_a_prorating_plan_refuses_days_before_its_first_version():
    with pytest.raises(RuleError, match="no version is in force on 2022-06-30"):
        rate(
            "charles_city_water_split", "2022-07-15", "6500", "gallons", '5/8"',
            period=period("2022-06-16", "2022-07-15", "2022-06-16", "2022-07-15"),
        )  # fmt: skip
