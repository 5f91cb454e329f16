"""Rates by amount in penalty rules (N.J.S.A. 54:4-67): the file format, each tier's part of
the base at its own rate, rounded once, and the words that show each part."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import RuleError
from billing.models import Invoice
from billing.penalties import InvoiceFacts, owed_as_of
from billing.penalty_format import RateTier, parse_penalty_rules, rules_to_document
from billing.penalty_sets import parse_penalty_set
from core.extensions import db
from core.money import format_cents, to_cents
from tests.billing.billing_fixtures import bill_households

D = date
NJ_TIERS = [{"up_to": "1500.00", "percent": "8"}, {"percent": "18"}]


def rule_document(rule_type: str, rate, **more) -> dict:
    """A rules document with one tax rule whose rate (percent or annual_percent) is `rate`."""
    rule = {
        "id": "tiered",
        "type": rule_type,
        "description": {"en": "Interest", "es": "Intereses"},
        "applies_to": {"invoice_kinds": ["tax"], "categories": ["tax"]},
        ("annual_percent" if rule_type == "daily" else "percent"): rate,
        **more,
    }
    return {"version": 1, "rules": [rule]}


def rules(rule_type: str, rate, **more):
    return parse_penalty_rules(rule_document(rule_type, rate, **more))


def facts(due, principal_cents, payments=()) -> InvoiceFacts:
    """A tax invoice issued 30 days before its due date, with (date, amount) payments."""
    history, balance = [(due - timedelta(days=30), principal_cents)], principal_cents
    for day, amount in payments:
        balance -= amount
        history.append((day, balance))
    return InvoiceFacts("tax", due, {"tax": principal_cents}, history)


def owed(charges) -> list[tuple[str, int]]:
    return [(charge.period_key, charge.amount_cents) for charge in charges]


# ---- the file format ---------------------------------------------------------------------


def test_tiers_are_read_lowest_first_and_written_back_the_same():
    parsed = rules("daily", NJ_TIERS)
    (rule,) = parsed
    assert rule.tiers == (RateTier(150000, 8), RateTier(None, 18))
    assert rule.annual_percent is None
    document = rules_to_document(parsed)
    assert document["rules"][0]["annual_percent"] == NJ_TIERS
    assert parse_penalty_rules(document) == parsed
    monthly = rules("monthly", [{"up_to": 100, "percent": "1"}, {"percent": "1.5"}])
    assert rules_to_document(monthly)["rules"][0]["percent"] == [
        {"up_to": "100.00", "percent": "1"},
        {"percent": "1.5"},
    ]
    assert parse_penalty_rules(rules_to_document(monthly)) == monthly


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            [{"up_to": "1500.00", "percent": "8"}, {"up_to": "1000.00", "percent": "18"}],
            "rules[0].annual_percent[1].up_to: must be more than rules[0].annual_percent[0].up_to"
            " (1500.00): tiers go from the lowest amount up",
        ),
        (
            [{"up_to": "1500.00", "percent": "8"}, {"up_to": "1500.00", "percent": "18"}],
            "rules[0].annual_percent[1].up_to: must be more than",
        ),
        (
            [{"percent": "8"}, {"up_to": "1500.00", "percent": "18"}],
            "rules[0].annual_percent[1]: comes after rules[0].annual_percent[0], which has no"
            " up_to (open)",
        ),
        (
            [{"up_to": "1500.00", "percent": "8"}, {"percent": "-18"}],
            "rules[0].annual_percent[1].percent: must not be negative",
        ),
        (
            [{"up_to": "1500.00", "percent": -8}, {"percent": "18"}],
            "rules[0].annual_percent[0].percent: must not be negative",
        ),
        (
            [{"up_to": "-1500.00", "percent": "8"}, {"percent": "18"}],
            "rules[0].annual_percent[0].up_to: must not be negative",
        ),
        (
            [{"up_to": "1500.00", "percent": "8"}],
            "rules[0].annual_percent[0]: the last tier has no up_to: it holds the rest",
        ),
        ([], "rules[0].annual_percent: give a percentage, or a non-empty list"),
        (
            [{"up_to": "1500.00", "percent": "0"}, {"percent": "0"}],
            "rules[0].annual_percent: never charges anything (every percent is 0)",
        ),
        (
            [{"up_to": "1500.00", "percent": 8.5}, {"percent": "18"}],
            "rules[0].annual_percent[0].percent: write a percentage like '1.5' as a quoted string",
        ),
        (
            [{"up_to": "1500.00", "percent": "8", "rate": "8"}, {"percent": "18"}],
            "rules[0].annual_percent[0].rate: unknown field (allowed: percent, up_to)",
        ),
        ([{"up_to": "1500.00"}, {"percent": "18"}], "rules[0].annual_percent[0]: missing percent"),
        (["8", {"percent": "18"}], "rules[0].annual_percent[0]: must be a mapping"),
    ],
)
def test_bad_tiers_are_refused_naming_the_place(rate, message):
    with pytest.raises(RuleError) as error:
        rules("daily", rate)
    assert str(error.value).startswith(message)


def test_a_set_version_names_its_tier_errors_inside_it():
    bad = rule_document("monthly", [{"percent": "1"}, {"up_to": "10.00", "percent": "2"}])
    document = {
        "version": 2,
        "code": "tax-interest",
        "scope": {"invoice_kinds": ["tax"]},
        "versions": [{"effective_from": "2027-01-01", "rules": bad["rules"]}],
    }
    with pytest.raises(RuleError, match=r"versions\[0\]\.rules\[0\]\.percent\[1\]: comes after"):
        parse_penalty_set(document)


# ---- monthly and one-time percentages ------------------------------------------------------


def test_a_monthly_rate_by_amount_shows_each_part_in_english_and_spanish():
    tiered = rules("monthly", [{"up_to": "1500.00", "percent": "1"}, {"percent": "1.5"}])
    invoice = facts(D(2027, 1, 31), 220000)
    (charge,) = owed_as_of(tiered, invoice, D(2027, 2, 1))
    # 1% of $1,500.00 = $15.00 + 1.5% of $700.00 = $10.50
    assert (charge.period_key, charge.amount_cents) == ("2027-02", 2550)
    assert charge.description == (
        "Interest, February 2027: 1% of $1,500.00 and 1.5% of $700.00 ($2,200.00 unpaid)"
    )
    assert charge.descriptions["es"] == (
        "Intereses, febrero de 2027: 1% de $1,500.00 y 1.5% de $700.00 ($2,200.00 pendientes)"
    )


def test_a_balance_below_the_first_boundary_shows_one_part():
    tiered = rules("monthly", [{"up_to": "1500.00", "percent": "1"}, {"percent": "1.5"}])
    invoice = facts(D(2027, 1, 31), 220000, [(D(2027, 2, 10), 120000)])
    charges = owed_as_of(tiered, invoice, D(2027, 3, 1))
    assert owed(charges) == [("2027-02", 2550), ("2027-03", 1000)]
    assert charges[1].description == "Interest, March 2027: 1% of $1,000.00 ($1,000.00 unpaid)"


def test_three_tiers_split_the_base_at_each_boundary_and_round_once():
    tiered = rules(
        "one_time",
        [
            {"up_to": "100.00", "percent": "0"},
            {"up_to": "1000.00", "percent": "5.5"},
            {"percent": "10.25"},
        ],
    )
    invoice = facts(D(2027, 3, 15), 123457)
    (charge,) = owed_as_of(tiered, invoice, D(2027, 3, 16))
    # 0% of $100.00 + 5.5% of $900.00 = $49.50 + 10.25% of $234.57 = $24.043425: $73.543425
    assert (charge.period_key, charge.amount_cents) == ("once", 7354)
    assert charge.description == (
        "Interest: 0% of $100.00, 5.5% of $900.00 and 10.25% of $234.57 ($1,234.57 unpaid)"
    )
    assert charge.descriptions["es"] == (
        "Intereses: 0% de $100.00, 5.5% de $900.00 y 10.25% de $234.57 ($1,234.57 pendientes)"
    )


def test_the_parts_are_rounded_once_not_each_by_itself():
    # 1% of $0.50 = $0.005 twice: rounded each by itself half up, $0.01 + $0.01; rounded once,
    # $0.01
    halves = rules("one_time", [{"up_to": "0.50", "percent": "1"}, {"percent": "1"}])
    (charge,) = owed_as_of(halves, facts(D(2027, 3, 15), 100), D(2027, 3, 16), "half_up")
    assert charge.amount_cents == 1


def test_cumulative_monthly_tiers_round_the_running_total_once():
    tiered = rules(
        "monthly",
        [{"up_to": "1500.00", "percent": "0.666667"}, {"percent": "1.5"}],
        round="cumulative",
    )
    invoice = facts(D(2027, 1, 31), 234567)
    charges = owed_as_of(tiered, invoice, D(2027, 3, 1))
    # each month $1,500.00 x 0.666667% = $10.000005 + $845.67 x 1.5% = $12.68505: $22.685055;
    # two months $45.37011 -> $45.37: $22.69, then $22.68
    assert owed(charges) == [("2027-02", 2269), ("2027-03", 2268)]
    assert charges[0].descriptions["es"] == (
        "Intereses, febrero de 2027: 0.666667% de $1,500.00 y 1.5% de $845.67"
        " ($2,345.67 pendientes; redondeado con los meses anteriores)"
    )


def test_a_flat_amount_plus_tiers_is_rounded_once_with_the_minimum_over_both():
    tiered = rules(
        "one_time",
        [{"up_to": "50.00", "percent": "1"}, {"percent": "2"}],
        plus_flat="2.00",
        minimum_charge="3.00",
    )
    (big,) = owed_as_of(tiered, facts(D(2027, 3, 15), 20000), D(2027, 3, 16))
    # $2.00 + 1% of $50.00 + 2% of $150.00 = $2.00 + $0.50 + $3.00
    assert big.amount_cents == 550
    assert big.description == "Interest: $2.00 plus 1% of $50.00 and 2% of $150.00 ($200.00 unpaid)"
    (small,) = owed_as_of(tiered, facts(D(2027, 3, 15), 4000), D(2027, 3, 16))
    assert small.amount_cents == 300  # $2.40, raised to the minimum


# ---- equal rates are one rate ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=5_000_000),
    paid=st.integers(min_value=0, max_value=5_000_000),
    paid_day=st.integers(min_value=0, max_value=90),
    boundaries=st.lists(st.integers(min_value=1, max_value=6_000_000), max_size=3, unique=True),
    percent=st.decimals(min_value="0.000001", max_value="100", places=6),
    rule_type=st.sampled_from(["daily", "monthly", "monthly-cumulative", "one_time"]),
    rounding=st.sampled_from(["half_up", "half_even", "down", "up"]),
)
def test_tiers_with_equal_rates_charge_what_the_single_rate_charges(
    principal, paid, paid_day, boundaries, percent, rule_type, rounding
):
    text = format(percent.normalize(), "f")
    tiers = [
        {"up_to": f"{cents // 100}.{cents % 100:02d}", "percent": text}
        for cents in sorted(boundaries)
    ]
    tiers.append({"percent": text})
    more = {"round": "cumulative"} if rule_type == "monthly-cumulative" else {}
    kind = rule_type.split("-")[0]
    due = D(2027, 1, 31)
    payments = [(due + timedelta(days=paid_day), min(paid, principal))]
    invoice = facts(due, principal, payments)
    as_of = D(2027, 6, 30)
    single = owed_as_of(rules(kind, text, **more), invoice, as_of, rounding)
    tiered = owed_as_of(rules(kind, tiers, **more), invoice, as_of, rounding)
    assert [(c.period_key, c.amount_cents, c.assessed_on) for c in tiered] == [
        (c.period_key, c.amount_cents, c.assessed_on) for c in single
    ]


# ---- daily interest ----------------------------------------------------------------------


def test_daily_interest_by_amount_shows_each_tier_s_interest_in_both_languages():
    tiered = rules(
        "daily",
        [
            {"up_to": "1500.00", "percent": "8"},
            {"up_to": "5000.00", "percent": "18"},
            {"percent": "20"},
        ],
    )
    invoice = facts(D(2027, 5, 1), 600000)
    (charge,) = owed_as_of(tiered, invoice, D(2027, 5, 31))
    # 30 days: $1,500.00 x 8% = $9.8630, $3,500.00 x 18% = $51.7808, $1,000.00 x 20% = $16.4384
    # (each x 30/365): $78.0822 -> $78.08
    assert (charge.period_key, charge.amount_cents) == ("2027-05-02", 7808)
    assert charge.description == (
        "Interest: $9.86 at 8% a year up to $1,500.00, $51.78 at 18% a year from $1,500.00 to"
        " $5,000.00 and $16.44 at 20% a year above $5,000.00, 30 days from 2027-05-02 to"
        " 2027-05-31"
    )
    assert charge.descriptions["es"] == (
        "Intereses: $9.86 al 8% anual hasta $1,500.00, $51.78 al 18% anual de $1,500.00 a"
        " $5,000.00 y $16.44 al 20% anual sobre el exceso de $5,000.00, 30 días del 2027-05-02"
        " al 2027-05-31"
    )


def test_a_payment_moves_the_days_after_it_to_the_lower_rate():
    tiered = rules("daily", NJ_TIERS)
    # $1,000.00 paid May 10: 9 days on $2,000.00 ($1,500.00 x 8% + $500.00 x 18%) and 21 on
    # $1,000.00 at 8%: $2.9589 + $2.2192 + $4.6027 = $9.7808 -> $9.78
    invoice = facts(D(2027, 5, 1), 200000, [(D(2027, 5, 10), 100000)])
    (charge,) = owed_as_of(tiered, invoice, D(2027, 5, 31))
    assert (charge.period_key, charge.amount_cents) == ("2027-05-02", 978)
    assert charge.description == (
        "Interest: $7.56 at 8% a year up to $1,500.00 and $2.22 at 18% a year above $1,500.00,"
        " 30 days from 2027-05-02 to 2027-05-31"
    )


# ---- loaded, assessed and stored -----------------------------------------------------------


def test_a_rate_by_amount_is_loaded_assessed_and_stored_with_its_words(app, client, api_headers):
    (billed,) = bill_households(app, "tiered")
    document = {
        "version": 1,
        "rules": [
            {
                "id": "late-by-amount",
                "type": "one_time",
                "description": {"en": "Late charge", "es": "Recargo por mora"},
                "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge", "fee"]},
                "percent": [{"up_to": "10.00", "percent": "10"}, {"percent": "2.5"}],
            }
        ],
    }
    headers = api_headers("admin")
    loaded = client.post("/api/v1/penalty-rules", json=document, headers=headers)
    assert loaded.status_code == 200, loaded.get_json()
    answer = client.post(
        "/api/v1/penalties/assess", json={"as_of": "2026-11-24"}, headers=api_headers("clerk")
    )
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        (charge,) = invoice.charges
        above = billed.owed_cents - 1000
        # 10% of the first $10.00 and 2.5% of the rest, rounded once
        exact = Decimal(1000) * 10 / 100 + Decimal(above) * Decimal("2.5") / 100
        assert charge.amount_cents == to_cents(exact, "half_up")
        assert charge.description == (
            f"Late charge: 10% of $10.00 and 2.5% of {format_cents(above)}"
            f" ({format_cents(billed.owed_cents)} unpaid)"
        )
        assert charge.descriptions["es"] == (
            f"Recargo por mora: 10% de $10.00 y 2.5% de {format_cents(above)}"
            f" ({format_cents(billed.owed_cents)} pendientes)"
        )
