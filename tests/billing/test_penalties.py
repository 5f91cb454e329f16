"""Penalties and interest: real ordinances to the cent, format errors, and what must always hold."""

from __future__ import annotations

import calendar
import json
import re
from datetime import date, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import RuleError
from billing.penalties import InvoiceFacts, PenaltyCharge, owed_as_of
from billing.penalty_format import (
    BASES,
    MONTH_COUNTS,
    MONTHLY_ROUNDING,
    cents_text,
    load_penalty_file,
    parse_penalty_rules,
    rules_to_document,
)
from core.money import MoneyError, to_cents

EXAMPLES = Path(__file__).parent / "penalty_examples"
DOCS = Path(__file__).parents[2] / "docs" / "penalties.md"
CATEGORIES = ("charge", "fee", "tax")


def facts(kind, due, principal, payments=(), issued=None) -> InvoiceFacts:
    """An invoice issued 30 days before its due date, with (date, amount) payments."""
    total = sum(principal.values())
    history, balance = [(issued or due - timedelta(days=30), total)], total
    for day, amount in payments:
        balance -= amount
        history.append((day, balance))
    return InvoiceFacts(kind, due, principal, history)


def owed(charges: list[PenaltyCharge]) -> list[tuple[str, str, int]]:
    """The charges as (rule_id, period_key, cents), the way the table states them."""
    return [(charge.rule_id, charge.period_key, charge.amount_cents) for charge in charges]


D = date
# (file, kind, due date, principal, payments, as of, rounding, expected charges)
WORKED_EXAMPLES = {
    "maumee: nothing on the due date": (
        "maumee_oh_utility_penalty", "utility", D(2027, 3, 15), {"charge": 8437}, [],
        D(2027, 3, 15), "half_up", [],
    ),
    "maumee: 10% of $84.37 the day after": (
        "maumee_oh_utility_penalty", "utility", D(2027, 3, 15), {"charge": 8437}, [],
        D(2027, 3, 16), "half_up", [("maumee-139-05a", "once", 844)],
    ),
    "maumee: 10% of what is left after a partial payment": (
        "maumee_oh_utility_penalty", "utility", D(2027, 3, 15), {"charge": 8437},
        [(D(2027, 3, 15), 5000)], D(2027, 4, 30), "half_up", [("maumee-139-05a", "once", 344)],
    ),
    "maumee: paid in full on the due date": (
        "maumee_oh_utility_penalty", "utility", D(2027, 3, 15), {"charge": 8437},
        [(D(2027, 3, 15), 8437)], D(2027, 12, 31), "half_up", [],
    ),
    "maumee: paid in full a day late still owes the penalty": (
        "maumee_oh_utility_penalty", "utility", D(2027, 3, 15), {"charge": 8437},
        [(D(2027, 3, 16), 8437)], D(2027, 12, 31), "half_up", [("maumee-139-05a", "once", 844)],
    ),
    "indio: nothing during the five grace days": (
        "indio_ca_water_penalty", "utility", D(2027, 4, 10), {"charge": 15290},
        [(D(2027, 4, 14), 10000)], D(2027, 4, 15), "half_up", [],
    ),
    "indio: 5% of $52.90 rounds half up": (
        "indio_ca_water_penalty", "utility", D(2027, 4, 10), {"charge": 15290},
        [(D(2027, 4, 14), 10000)], D(2027, 4, 16), "half_up", [("indio-54-127", "once", 265)],
    ),
    "indio: 5% of $52.90 rounds half even": (
        "indio_ca_water_penalty", "utility", D(2027, 4, 10), {"charge": 15290},
        [(D(2027, 4, 14), 10000)], D(2027, 4, 16), "half_even", [("indio-54-127", "once", 264)],
    ),
    "tucson: nothing within 30 days of the bill date": (
        "tucson_az_water_penalty_fee", "utility", D(2027, 5, 3), {"charge": 248000}, [],
        D(2027, 6, 2), "half_up", [],
    ),
    "tucson: 10% of $2,480.00": (
        "tucson_az_water_penalty_fee", "utility", D(2027, 5, 3), {"charge": 248000}, [],
        D(2027, 6, 3), "half_up", [("tucson-water-penalty-fee", "once", 24800)],
    ),
    "tucson: not less than $10.00": (
        "tucson_az_water_penalty_fee", "utility", D(2027, 5, 3), {"charge": 6410}, [],
        D(2027, 6, 3), "half_up", [("tucson-water-penalty-fee", "once", 1000)],
    ),
    "tucson: not more than $500.00": (
        "tucson_az_water_penalty_fee", "utility", D(2027, 5, 3), {"charge": 615000}, [],
        D(2027, 6, 3), "half_up", [("tucson-water-penalty-fee", "once", 50000)],
    ),
    "eden: nothing on day 30": (
        "eden_id_late_fee", "utility", D(2027, 1, 5), {"charge": 4100}, [(D(2027, 1, 20), 2000)],
        D(2027, 2, 4), "half_up", [],
    ),
    "eden: $5.00 on day 31": (
        "eden_id_late_fee", "utility", D(2027, 1, 5), {"charge": 4100}, [(D(2027, 1, 20), 2000)],
        D(2027, 2, 5), "half_up", [("eden-7-1-1", "once", 500)],
    ),
    "shelby: nothing on a balance of $10.00 or less": (
        "shelby_mt_late_fee", "utility", D(2027, 2, 20), {"charge": 980}, [],
        D(2027, 12, 31), "half_up", [],
    ),
    "shelby: a fee each month, six months at most": (
        "shelby_mt_late_fee", "utility", D(2027, 2, 20), {"charge": 4800}, [],
        D(2027, 12, 31), "half_up",
        [("shelby-11-2-4", f"2027-{month:02d}", 500) for month in range(2, 8)],
    ),
    "shelby: no more fees once the balance is $10.00 or less": (
        "shelby_mt_late_fee", "utility", D(2027, 2, 20), {"charge": 4800}, [(D(2027, 3, 1), 4000)],
        D(2027, 6, 30), "half_up", [("shelby-11-2-4", "2027-02", 500)],
    ),
    "casa grande: 1.5% of $212.46 each month": (
        "casa_grande_az_utility_penalty", "utility", D(2027, 6, 25), {"charge": 21246}, [],
        D(2027, 8, 26), "half_up",
        [("casa-grande-penalty", "2027-06", 319), ("casa-grande-penalty", "2027-07", 319),
         ("casa-grande-penalty", "2027-08", 319)],
    ),
    "casa grande: not less than fifty cents": (
        "casa_grande_az_utility_penalty", "utility", D(2027, 6, 25), {"charge": 21246},
        [(D(2027, 7, 10), 20000)], D(2027, 8, 31), "half_up",
        [("casa-grande-penalty", "2027-06", 319), ("casa-grande-penalty", "2027-07", 50),
         ("casa-grande-penalty", "2027-08", 50)],
    ),
    "ontario: the late charge alone within 30 days": (
        "ontario_ca_late_charges", "utility", D(2027, 8, 10), {"charge": 31820}, [],
        D(2027, 9, 9), "half_up", [("ontario-late-charge", "once", 3182)],
    ),
    "ontario: late charge and 1.5% a month after 30 days": (
        "ontario_ca_late_charges", "utility", D(2027, 8, 10), {"charge": 31820}, [],
        D(2027, 11, 10), "half_up",
        [("ontario-late-charge", "once", 3182), ("ontario-monthly-penalty", "2027-09", 477),
         ("ontario-monthly-penalty", "2027-10", 477), ("ontario-monthly-penalty", "2027-11", 477)],
    ),
    "texas: nothing on January 31": (
        "texas_property_tax", "tax", D(2027, 1, 31), {"tax": 234567}, [],
        D(2027, 1, 31), "half_up", [],
    ),
    "texas: 6% penalty and 1% interest on February 1": (
        "texas_property_tax", "tax", D(2027, 1, 31), {"tax": 234567}, [],
        D(2027, 2, 1), "half_up",
        [("tx-33-01a-penalty", "2027-02", 14074), ("tx-33-01c-interest", "2027-02", 2346)],
    ),
    "texas: 12% penalty and 6% interest on July 1": (
        "texas_property_tax", "tax", D(2027, 1, 31), {"tax": 234567}, [],
        D(2027, 7, 1), "half_up",
        [("tx-33-01a-penalty", "2027-02", 14074), ("tx-33-01c-interest", "2027-02", 2346),
         ("tx-33-01a-penalty", "2027-03", 2346), ("tx-33-01c-interest", "2027-03", 2345),
         ("tx-33-01a-penalty", "2027-04", 2345), ("tx-33-01c-interest", "2027-04", 2346),
         ("tx-33-01a-penalty", "2027-05", 2346), ("tx-33-01c-interest", "2027-05", 2346),
         ("tx-33-01a-penalty", "2027-06", 2346), ("tx-33-01c-interest", "2027-06", 2345),
         ("tx-33-01a-penalty", "2027-07", 4691), ("tx-33-01c-interest", "2027-07", 2346)],
    ),
    "texas: a partial payment lowers the later months": (
        "texas_property_tax", "tax", D(2027, 1, 31), {"tax": 234567}, [(D(2027, 3, 15), 134567)],
        D(2027, 4, 30), "half_up",
        [("tx-33-01a-penalty", "2027-02", 14074), ("tx-33-01c-interest", "2027-02", 2346),
         ("tx-33-01a-penalty", "2027-03", 2346), ("tx-33-01c-interest", "2027-03", 2345),
         ("tx-33-01a-penalty", "2027-04", 1000), ("tx-33-01c-interest", "2027-04", 1000)],
    ),
    "wisconsin: four months of interest and penalty, paid in May": (
        "wisconsin_property_tax", "tax", D(2027, 1, 31), {"tax": 312055},
        [(D(2027, 5, 20), 312055)], D(2027, 12, 31), "half_up",
        [("wi-74-47-1-interest", "2027-02", 3121), ("wi-74-47-2-penalty", "2027-02", 1560),
         ("wi-74-47-1-interest", "2027-03", 3120), ("wi-74-47-2-penalty", "2027-03", 1561),
         ("wi-74-47-1-interest", "2027-04", 3121), ("wi-74-47-2-penalty", "2027-04", 1560),
         ("wi-74-47-1-interest", "2027-05", 3120), ("wi-74-47-2-penalty", "2027-05", 1560)],
    ),
    "illinois: nothing on the due date": (
        "illinois_property_tax", "tax", D(2027, 6, 1), {"tax": 185000}, [],
        D(2027, 6, 1), "half_up", [],
    ),
    "wisconsin: 1% interest and 0.5% penalty on February 1": (
        "wisconsin_property_tax", "tax", D(2027, 1, 31), {"tax": 312055}, [],
        D(2027, 2, 1), "half_up",
        [("wi-74-47-1-interest", "2027-02", 3121), ("wi-74-47-2-penalty", "2027-02", 1560)],
    ),
    "illinois: three months by September 1": (
        "illinois_property_tax", "tax", D(2027, 6, 1), {"tax": 185000}, [],
        D(2027, 9, 1), "half_up",
        [("il-21-15-interest", f"2027-{month:02d}", 2775) for month in range(6, 9)],
    ),
    "illinois: 1.5% from the day after the due date": (
        "illinois_property_tax", "tax", D(2027, 6, 1), {"tax": 185000}, [],
        D(2027, 6, 2), "half_up", [("il-21-15-interest", "2027-06", 2775)],
    ),
    "illinois: a new month starts on the 2nd": (
        "illinois_property_tax", "tax", D(2027, 6, 1), {"tax": 185000}, [],
        D(2027, 9, 2), "half_up",
        [("il-21-15-interest", f"2027-{month:02d}", 2775) for month in range(6, 10)],
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("example", "kind", "due", "principal", "payments", "as_of", "rounding", "expected"),
    list(WORKED_EXAMPLES.values()),
    ids=list(WORKED_EXAMPLES),
)
def test_worked_example_owes_exactly_the_published_amounts(
    example, kind, due, principal, payments, as_of, rounding, expected
):
    rules = load_penalty_file(EXAMPLES / f"{example}.yaml")
    invoice = facts(kind, due, principal, payments)
    assert owed(owed_as_of(rules, invoice, as_of, rounding)) == expected


def test_texas_penalty_and_interest_in_july_are_18_percent_rounded_once_each():
    rules = load_penalty_file(EXAMPLES / "texas_property_tax.yaml")
    charges = owed_as_of(rules, facts("tax", D(2027, 1, 31), {"tax": 234567}), D(2027, 12, 31))
    penalty = sum(c.amount_cents for c in charges if c.category == "penalty")
    interest = sum(c.amount_cents for c in charges if c.category == "interest")
    assert (penalty, interest) == (28148, 25802)  # 12%, and 11 months of 1% = 11%


def test_a_charge_says_what_it_is_for():
    rules = load_penalty_file(EXAMPLES / "tucson_az_water_penalty_fee.yaml")
    [charge] = owed_as_of(rules, facts("utility", D(2027, 5, 3), {"charge": 615000}), D(2027, 7, 1))
    assert charge.description == (
        "Water penalty fee (Tucson Ord. 10986): 10% of $6,150.00 billed"
        " (limited to the cap of $500.00)"
    )
    assert (charge.category, charge.assessed_on) == ("penalty", D(2027, 6, 3))


def test_every_example_file_is_shown_in_the_docs_as_it_is():
    blocks = dict(
        re.findall(r"```yaml\n# file: (\S+)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    )
    files = {f"tests/billing/penalty_examples/{path.name}" for path in EXAMPLES.glob("*.yaml")}
    assert set(blocks) == files
    root = Path(__file__).parents[2]
    for name, text in blocks.items():
        assert parse_penalty_rules(yaml.safe_load(text)) == load_penalty_file(root / name)


def test_every_example_file_survives_a_round_trip_through_json():
    for path in EXAMPLES.glob("*.yaml"):
        rules = load_penalty_file(path)
        assert parse_penalty_rules(json.loads(json.dumps(rules_to_document(rules)))) == rules


# ---- format errors --------------------------------------------------------------------------

UTILITY = {"invoice_kinds": ["utility"], "categories": ["charge"]}


def one_rule(**fields) -> dict:
    """A document with one valid one_time rule, changed by fields (None removes a field)."""
    rule = {"id": "late", "type": "one_time", "applies_to": UTILITY, "percent": "10"}
    rule.update(fields)
    return {"version": 1, "rules": [{k: v for k, v in rule.items() if v is not None}]}


def texas_with_schedule(schedule) -> dict:
    """The Texas document with its penalty grid replaced."""
    document = yaml.safe_load((EXAMPLES / "texas_property_tax.yaml").read_text())
    document["rules"].reverse()
    document["rules"][1]["schedule"] = schedule
    return document


GRID = [{"month": 1, "percent": "6"}, {"month": 2, "percent": "7"}, {"month": 3, "percent": "8"}]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            texas_with_schedule([*GRID, {"month": 4, "percent": "7.5"}]),
            "rules[1].schedule[3].percent: must not be lower than the month before (cumulative)",
        ),
        (
            texas_with_schedule([*GRID, {"month": 3, "percent": "9"}]),
            "rules[1].schedule[3].month: must be later than the month before",
        ),
        (texas_with_schedule([]), "rules[1].schedule: must be a non-empty list"),
        (
            one_rule(percent=1.5),
            "rules[0].percent: write a percentage like '1.5' as a quoted string ('1.5')",
        ),
        (one_rule(percent="1,5"), "rules[0].percent: '1,5' is not a percentage"),
        (one_rule(percent="101"), "rules[0].percent: must not be more than 100 (percent)"),
        (one_rule(percent="0"), "rules[0].percent: must be more than 0"),
        (one_rule(percent=None), "rules[0]: give exactly one of percent or flat"),
        (one_rule(flat="5.00"), "rules[0]: give exactly one of percent or flat"),
        (one_rule(percent=None, flat="5.001"), "rules[0].flat: '5.001' is not a dollar amount"),
        (
            one_rule(percent=None, flat="5", minimum_charge="1"),
            "rules[0].minimum_charge: applies to a percent, not to a flat amount",
        ),
        (one_rule(grace_day=5), "rules[0].grace_day: unknown field"),
        (one_rule(months="calendar"), "rules[0].months: unknown field"),
        (one_rule(grace_days=-1), "rules[0].grace_days: must be from 0 to 366"),
        (one_rule(grace_days=True), "rules[0].grace_days: must be a whole number"),
        (
            one_rule(type="hourly"),
            "rules[0].type: must be one of one_time, schedule, monthly, daily",
        ),
        (one_rule(id="Late Fee"), "rules[0].id: use 1-64 lowercase letters"),
        (one_rule(applies_to=None), "rules[0]: missing applies_to"),
        (
            one_rule(applies_to={"invoice_kinds": ["water"], "categories": ["charge"]}),
            "rules[0].applies_to.invoice_kinds[0]: must be one of tax, utility",
        ),
        (
            one_rule(applies_to={"invoice_kinds": [], "categories": ["charge"]}),
            "rules[0].applies_to.invoice_kinds: must be a non-empty list",
        ),
        (one_rule(cap={}), "rules[0].cap: give amount, percent or both"),
        (one_rule(cap={"amount": "0"}), "rules[0].cap.amount: must be more than 0.00"),
        (one_rule(base="remaining"), "rules[0].base: must be one of unpaid, original"),
        ({"version": 2, "rules": []}, "version: must be 1"),
        ({"rules": []}, "document: missing version"),
        ([], "document: must be a mapping"),
    ],
)
def test_a_bad_document_is_refused_naming_the_place(document, message):
    with pytest.raises(RuleError) as error:
        parse_penalty_rules(document)
    assert str(error.value).startswith(message)


def test_the_same_rule_id_twice_is_refused():
    document = one_rule()
    document["rules"].append(document["rules"][0])
    with pytest.raises(RuleError, match=r"^rules\[1\]\.id: 'late' is already used by rules\[0\]"):
        parse_penalty_rules(document)


def test_a_yaml_float_is_refused_and_a_whole_number_is_exact(tmp_path):
    path = tmp_path / "fees.yaml"
    path.write_text(yaml.safe_dump(one_rule(percent=None, flat=5)))
    assert load_penalty_file(path)[0].flat_cents == 500
    path.write_text(path.read_text().replace("flat: 5", "flat: 5.10"))
    with pytest.raises(RuleError, match=r"^fees\.yaml: rules\[0\]\.flat: write a dollar amount"):
        load_penalty_file(path)


def test_a_file_that_is_not_yaml_is_refused_with_its_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nrules: [\n")
    with pytest.raises(RuleError, match=r"^broken\.yaml: cannot be read as rules"):
        load_penalty_file(path)


def test_a_json_file_loads_like_yaml(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(one_rule()))
    assert load_penalty_file(path) == parse_penalty_rules(one_rule())


# ---- invoice facts and arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([], r"principal_balance_history: must start with"),
        ([(D(2027, 1, 1), 900)], r"history\[0\]: must be the original principal, 1000 cents"),
        ([(D(2027, 1, 1), 1000), (D(2026, 12, 1), 0)], r"history\[1\]: dates must not go back"),
        ([(D(2027, 1, 1), 1000), (D(2027, 2, 1), -5)], r"history\[1\]: the balance must be from"),
        ([(D(2027, 1, 1), 1000), (D(2027, 2, 1), 5.0)], r"history\[1\]: the balance must be int"),
    ],
)
def test_inconsistent_invoice_facts_are_refused(history, message):
    with pytest.raises(ValueError, match=message):
        InvoiceFacts("utility", D(2027, 1, 31), {"charge": 1000}, history)


def test_an_unknown_rounding_rule_is_refused():
    invoice = facts("utility", D(2027, 3, 15), {"charge": 8437})
    with pytest.raises(MoneyError):
        owed_as_of(parse_penalty_rules(one_rule()), invoice, D(2027, 4, 1), "bankers")


def test_a_rule_for_tax_bills_charges_nothing_on_a_utility_bill():
    rules = load_penalty_file(EXAMPLES / "texas_property_tax.yaml")
    assert owed_as_of(rules, facts("utility", D(2027, 1, 31), {"tax": 1000}), D(2028, 1, 1)) == []


def test_a_rule_on_one_category_takes_its_share_of_a_partial_payment_exactly():
    # $0.50 of $3.00 is charge; $1.00 unpaid -> $0.1666... of charge; 15% of it is exactly 2.5 cents.
    document = one_rule(type="monthly", percent="15", applies_to=UTILITY)
    invoice = facts("utility", D(2027, 1, 31), {"charge": 50, "fee": 250}, [(D(2027, 1, 31), 200)])
    rules = parse_penalty_rules(document)
    assert owed(owed_as_of(rules, invoice, D(2027, 2, 1), "half_even")) == [("late", "2027-02", 2)]
    assert owed(owed_as_of(rules, invoice, D(2027, 2, 1), "half_up")) == [("late", "2027-02", 3)]


def test_calendar_months_start_on_the_first_and_the_first_month_may_be_short():
    rules = parse_penalty_rules(one_rule(type="monthly", percent="1", months="calendar"))
    charges = owed_as_of(rules, facts("utility", D(2027, 3, 15), {"charge": 10000}), D(2027, 5, 1))
    assert [(c.period_key, c.assessed_on) for c in charges] == [
        ("2027-03", D(2027, 3, 16)),
        ("2027-04", D(2027, 4, 1)),
        ("2027-05", D(2027, 5, 1)),
    ]


def test_months_from_the_due_date_keep_their_day_or_the_last_day_of_a_short_month():
    rules = parse_penalty_rules(one_rule(type="monthly", percent="1", months="from_due_date"))
    charges = owed_as_of(rules, facts("utility", D(2027, 1, 30), {"charge": 10000}), D(2027, 4, 30))
    assert [c.assessed_on for c in charges] == [
        D(2027, 1, 31),
        D(2027, 2, 28),
        D(2027, 3, 31),
        D(2027, 4, 30),
    ]


def test_a_percentage_cap_limits_the_total_of_monthly_interest():
    rules = parse_penalty_rules(one_rule(type="monthly", percent="1.5", cap={"percent": "4"}))
    charges = owed_as_of(rules, facts("utility", D(2027, 1, 31), {"charge": 10000}), D(2028, 1, 1))
    assert [c.amount_cents for c in charges] == [150, 150, 100]


def test_a_billion_dollar_bill_stays_exact_for_ten_years_of_interest():
    rules = parse_penalty_rules(
        one_rule(type="monthly", percent="1.234567", round="cumulative", base="original")
    )
    invoice = facts("utility", D(2027, 1, 31), {"charge": 99_999_999_999, "fee": 1})
    charges = owed_as_of(rules, invoice, D(2037, 1, 1))
    with localcontext() as context:
        context.prec = 80
        expected = to_cents(120 * Decimal("1.234567") * 99_999_999_999 / 100)
    assert (len(charges), sum(c.amount_cents for c in charges)) == (120, expected)


# ---- properties -----------------------------------------------------------------------------

percents = st.decimals(Decimal("0.01"), Decimal("25"), places=2).map(str)
dollars = st.integers(1, 50_000).map(cents_text)


@st.composite
def rule_entries(draw, rule_type=None, rule_id="r0", cap=None, tiered=False):
    """One valid rule entry for a document; with `tiered`, a percent may be a rate by amount."""
    rule_type = rule_type or draw(st.sampled_from(["one_time", "schedule", "monthly"]))
    categories = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
    entry = {
        "id": rule_id,
        "type": rule_type,
        "applies_to": {"invoice_kinds": ["tax", "utility"], "categories": categories},
        "grace_days": draw(st.integers(0, 45)),
        "base": draw(st.sampled_from([b for b in BASES if b in ("unpaid", "original")])),
    }
    with_cap = draw(st.booleans()) if cap is None else cap
    if with_cap:
        entry["cap"] = draw(
            st.one_of(
                st.fixed_dictionaries({"amount": dollars}),
                st.fixed_dictionaries({"percent": percents}),
                st.fixed_dictionaries({"amount": dollars, "percent": percents}),
            )
        )
    if rule_type == "schedule":
        entry["months"] = draw(st.sampled_from(MONTH_COUNTS))
        entry["schedule"] = draw(schedules())
        return entry
    if draw(st.booleans()):
        entry["flat"] = draw(dollars)
    else:
        entry["percent"] = draw(tier_lists() if tiered and draw(st.booleans()) else percents)
        if draw(st.booleans()):
            entry["minimum_charge"] = draw(dollars)
    if draw(st.booleans()):
        entry["minimum_past_due"] = draw(dollars)
    if rule_type == "monthly":
        entry["months"] = draw(st.sampled_from(MONTH_COUNTS))
        if "percent" in entry:
            entry["round"] = draw(st.sampled_from(MONTHLY_ROUNDING))
    return entry


@st.composite
def tier_lists(draw):
    """A valid rate by amount: boundaries rising, the last tier open, some rate above 0."""
    bounds = sorted(draw(st.lists(st.integers(1, 600_000), min_size=1, max_size=3, unique=True)))
    tiers = [{"up_to": cents_text(bound), "percent": draw(percents)} for bound in bounds]
    return [*tiers, {"percent": draw(percents)}]


@st.composite
def schedules(draw):
    """A valid cumulative grid: months rising, percentages never falling, ending above 0."""
    month, percent, steps = 0, Decimal(0), []
    for _ in range(draw(st.integers(1, 8))):
        month += draw(st.integers(1, 3))
        percent += draw(st.decimals(Decimal(0), Decimal(5), places=1))
        steps.append({"month": month, "percent": str(percent)})
    if percent == 0:
        steps[-1]["percent"] = "1"
    return steps


@st.composite
def rule_sets(draw, max_rules=3, **options):
    """One to three valid rules, parsed."""
    count = draw(st.integers(1, max_rules))
    entries = [draw(rule_entries(rule_id=f"r{index}", **options)) for index in range(count)]
    return parse_penalty_rules({"version": 1, "rules": entries})


@st.composite
def invoices(draw, paid_by_due=False, payments=True):
    """A posted invoice with some principal and payments over two years."""
    due = draw(st.dates(D(2025, 1, 1), D(2030, 12, 31)))
    issued = due - timedelta(days=draw(st.integers(0, 60)))
    principal = {c: draw(st.integers(0, 500_000)) for c in CATEGORIES}
    balance, history, day = sum(principal.values()), [], issued
    history.append((issued, balance))
    for _ in range(draw(st.integers(0, 4)) if payments else 0):
        day += timedelta(days=draw(st.integers(0, 120)))
        balance -= draw(st.integers(0, balance))
        history.append((day, balance))
    if paid_by_due:
        pay_day = draw(st.dates(issued, due))
        history = [(d, b) for d, b in history if d <= pay_day] + [(pay_day, 0)]
    return InvoiceFacts(draw(st.sampled_from(["tax", "utility"])), due, principal, history)


later = st.integers(0, 800).map(lambda days: timedelta(days=days))


@settings(max_examples=150)
@given(rule_sets(tiered=True), invoices(), later, later)
def test_charges_never_decrease_as_the_as_of_date_moves_later(rules, invoice, first, more):
    earlier = owed_as_of(rules, invoice, invoice.due_date + first)
    later_list = owed_as_of(rules, invoice, invoice.due_date + first + more)
    assert later_list[: len(earlier)] == earlier
    assert sum(c.amount_cents for c in later_list) >= sum(c.amount_cents for c in earlier)


@given(rule_sets(max_rules=1), invoices(), st.integers(0, 45))
def test_nothing_is_owed_on_or_before_the_due_date_plus_grace_days(rules, invoice, days):
    as_of = invoice.due_date + timedelta(days=min(days, rules[0].grace_days))
    assert owed_as_of(rules, invoice, as_of) == []


@given(rule_sets(tiered=True), invoices(paid_by_due=True), later)
def test_nothing_is_owed_on_an_invoice_paid_in_full_by_its_due_date(rules, invoice, after):
    assert owed_as_of(rules, invoice, invoice.due_date + after) == []


@given(
    rule_sets(cap=True, tiered=True),
    invoices(),
    later,
    st.sampled_from(["half_up", "half_even", "up"]),
)
def test_a_cap_is_never_exceeded(rules, invoice, after, rounding):
    charges = owed_as_of(rules, invoice, invoice.due_date + after, rounding)
    for rule in rules:
        billed = sum(
            invoice.principal_cents_by_category.get(c, 0) for c in rule.applies_to.categories
        )
        limits = [rule.cap.amount_cents] if rule.cap.amount_cents is not None else []
        if rule.cap.percent is not None:
            limits.append(to_cents(rule.cap.percent * billed / 100, rounding))
        assert sum(c.amount_cents for c in charges if c.rule_id == rule.id) <= min(limits)


@given(rule_sets(tiered=True), invoices(), later)
def test_assessing_the_same_as_of_twice_gives_identical_results(rules, invoice, after):
    as_of = invoice.due_date + after
    assert owed_as_of(rules, invoice, as_of) == owed_as_of(rules, invoice, as_of)


@given(rule_sets(tiered=True), invoices(), later)
def test_every_charge_is_positive_named_once_and_due_by_as_of(rules, invoice, after):
    as_of = invoice.due_date + after
    charges = owed_as_of(rules, invoice, as_of)
    assert len({(c.rule_id, c.period_key) for c in charges}) == len(charges)
    assert all(c.amount_cents > 0 and invoice.due_date < c.assessed_on <= as_of for c in charges)


def months_begun(first_day: date, counting: str, as_of: date) -> int:
    """How many months of delinquency have begun by as_of, counted from the calendar."""
    count = (as_of.year - first_day.year) * 12 + as_of.month - first_day.month + 1
    if counting == "from_due_date":
        last_day = calendar.monthrange(as_of.year, as_of.month)[1]
        if as_of.day < min(first_day.day, last_day):
            count -= 1
    return count


@given(
    rule_sets(max_rules=1, rule_type="schedule", cap=False),
    invoices(payments=False),
    later,
    st.sampled_from(["half_up", "half_even", "down"]),
)
def test_schedule_charges_add_up_to_the_cumulative_percentage_rounded_once(
    rules, invoice, after, rounding
):
    [rule] = rules
    first_day = invoice.due_date + timedelta(days=rule.grace_days + 1)
    as_of = first_day + after
    month = months_begun(first_day, rule.months, as_of)
    reached = max([s.percent for s in rule.schedule if s.month <= month], default=Decimal(0))
    billed = sum(invoice.principal_cents_by_category.get(c, 0) for c in rule.applies_to.categories)
    total = sum(c.amount_cents for c in owed_as_of(rules, invoice, as_of, rounding))
    assert total == to_cents(reached * billed / 100, rounding)


@given(rule_sets(max_rules=1, rule_type="monthly", cap=False), invoices(payments=False), later)
def test_monthly_interest_adds_up_month_by_month(rules, invoice, after):
    [rule] = rules
    billed = sum(invoice.principal_cents_by_category.get(c, 0) for c in rule.applies_to.categories)
    minimums = rule.minimum_charge_cents or rule.minimum_past_due_cents
    first_day = invoice.due_date + timedelta(days=rule.grace_days + 1)
    months = months_begun(first_day, rule.months, first_day + after)
    total = sum(c.amount_cents for c in owed_as_of(rules, invoice, first_day + after))
    if rule.flat_cents is not None and not minimums:
        assert total == (months * rule.flat_cents if billed else 0)
    elif rule.round == "cumulative" and not minimums:
        assert total == to_cents(months * rule.percent * billed / 100)
    elif rule.round == "each_month" and not minimums:
        assert total == months * to_cents(rule.percent * billed / 100)


@given(st.lists(rule_entries(tiered=True), min_size=1, max_size=4))
def test_a_document_parses_back_to_equal_rules_through_json(entries):
    for index, entry in enumerate(entries):
        entry["id"] = f"rule-{index}"
    rules = parse_penalty_rules({"version": 1, "rules": entries})
    document = json.loads(json.dumps(rules_to_document(rules)))
    assert parse_penalty_rules(document) == rules
    assert rules_to_document(parse_penalty_rules(document)) == document


@st.composite
def paid_more(draw, invoice: InvoiceFacts) -> InvoiceFacts:
    """The same invoice with an extra payment on some day: every balance from then on lower."""
    (issued, original), *paid = invoice.principal_balance_history
    day = draw(st.dates(issued, issued + timedelta(days=900)))
    extra = draw(st.integers(1, max(original, 1)))
    then = [b for d, b in invoice.principal_balance_history if d <= day][-1]
    later_on = [(d, max(b - extra, 0) if d >= day else b) for d, b in paid]
    history = sorted([*later_on, (day, max(then - extra, 0))], key=lambda item: item[0])
    return InvoiceFacts(
        invoice.kind,
        invoice.due_date,
        invoice.principal_cents_by_category,
        [(issued, original), *history],
    )


@settings(max_examples=150)
@given(rule_sets(tiered=True), invoices(), later, st.data())
def test_paying_more_never_raises_what_is_owed(rules, invoice, after, data):
    better = data.draw(paid_more(invoice))
    as_of = invoice.due_date + after
    owed = sum(c.amount_cents for c in owed_as_of(rules, invoice, as_of))
    assert sum(c.amount_cents for c in owed_as_of(rules, better, as_of)) <= owed
