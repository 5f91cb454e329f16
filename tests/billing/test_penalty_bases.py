"""The bases ordinances use beyond unpaid principal, daily interest, interest back to the due
date, and due dates moved to the next working day: each worked example to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.computed import RuleError
from billing.penalties import InvoiceFacts, PenaltyCharge, owed_as_of
from billing.penalty_format import load_penalty_file, parse_penalty_rules
from billing.working_days import WorkingCalendar, parse_closed_days
from core.money import to_cents
from core.settings import ConfigError, load_settings

EXAMPLES = Path(__file__).parent / "penalty_examples"
D = date


def facts(kind, due, principal_cents, payments=(), charges_paid=()) -> InvoiceFacts:
    """An invoice issued 30 days before its due date, with (date, amount) principal payments
    and (date, paid in all) penalty payments."""
    history, balance = [(due - timedelta(days=30), principal_cents)], principal_cents
    for day, amount in payments:
        balance -= amount
        history.append((day, balance))
    category = "tax" if kind == "tax" else "charge"
    return InvoiceFacts(kind, due, {category: principal_cents}, history, charges_paid)


def owed(charges: list[PenaltyCharge]) -> list[tuple[str, int]]:
    """The charges as (period_key, cents)."""
    return [(charge.period_key, charge.amount_cents) for charge in charges]


def example(name: str):
    """The rules of an example file."""
    return load_penalty_file(EXAMPLES / f"{name}.yaml")


# ---- flat amount plus a percentage, one minimum over both (Port St. Lucie § 61.14) ----------


@pytest.mark.parametrize(
    ("principal", "as_of", "expected"),
    [
        (10000, D(2027, 4, 20), []),  # on the due date: on time
        (10000, D(2027, 4, 21), [("once", 500)]),  # $2.00 + $1.50 = $3.50, raised to $5.00
        (41237, D(2027, 4, 21), [("once", 819)]),  # $2.00 + $6.18555 = $8.18555
    ],
)
def test_port_st_lucie_charges_two_dollars_plus_one_and_a_half_percent_at_least_five(
    principal, as_of, expected
):
    invoice = facts("utility", D(2027, 4, 20), principal)
    assert owed(owed_as_of(example("port_st_lucie_fl_late_fee"), invoice, as_of)) == expected


def test_the_combined_charge_says_both_parts_and_the_minimum():
    invoice = facts("utility", D(2027, 4, 20), 10000)
    [charge] = owed_as_of(example("port_st_lucie_fl_late_fee"), invoice, D(2027, 4, 21))
    assert charge.description == (
        "Late fee (Port St. Lucie Code 61.14): $2.00 plus 1.5% of $100.00 unpaid (minimum charge)"
    )


# ---- daily interest at an annual rate (Spokane SMC 08.02.043) -------------------------------


@pytest.mark.parametrize(
    ("payments", "as_of", "expected"),
    [
        ([], D(2027, 3, 30), []),  # March is charged on its last day
        ([], D(2027, 3, 31), [("2027-03-11", 173)]),  # 21 days: $250 x 12% x 21/365 = $1.726
        # 51 days: $4.1918 -> $4.19 in all, so April adds $2.46
        ([], D(2027, 4, 30), [("2027-03-11", 173), ("2027-04-01", 246)]),
        # $150.00 paid on April 16: 37 days on $250.00 and 14 on $100.00 = $3.5014 -> $3.50
        ([(D(2027, 4, 16), 15000)], D(2027, 4, 30), [("2027-03-11", 173), ("2027-04-01", 177)]),
        ([(D(2027, 3, 10), 25000)], D(2027, 12, 31), []),  # paid on the due date
    ],
)
def test_spokane_daily_interest_is_twelve_percent_a_year_day_by_day(payments, as_of, expected):
    invoice = facts("utility", D(2027, 3, 10), 25000, payments)
    assert owed(owed_as_of(example("spokane_wa_daily_interest"), invoice, as_of)) == expected


def test_a_daily_charge_says_its_rate_and_days():
    invoice = facts("utility", D(2027, 3, 10), 25000)
    [charge] = owed_as_of(example("spokane_wa_daily_interest"), invoice, D(2027, 3, 31))
    assert charge.description == (
        "Interest on delinquent utility charges (Spokane Mun. Code 08.02.043): 12% a year"
        " for 21 days from 2027-03-11 to 2027-03-31 on what was unpaid"
    )
    assert (charge.category, charge.assessed_on) == ("interest", D(2027, 3, 31))


def test_a_360_day_year_charges_one_seventy_third_more():
    rules = parse_penalty_rules(
        {
            "version": 1,
            "rules": [
                {
                    "id": "daily-360",
                    "type": "daily",
                    "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
                    "annual_percent": "12",
                    "day_count": "actual_360",
                }
            ],
        }
    )
    invoice = facts("utility", D(2027, 3, 10), 25000)
    # 21 days: $250 x 12% x 21/360 = $1.75 exactly
    assert owed(owed_as_of(rules, invoice, D(2027, 3, 31))) == [("2027-03-11", 175)]


# ---- interest back to the due date once the grace period is missed (N.J.S.A. 54:4-67) -------


@pytest.mark.parametrize(
    ("payments", "as_of", "expected"),
    [
        ([(D(2027, 5, 11), 120000)], D(2027, 12, 31), []),  # paid on the 10th grace day
        ([], D(2027, 5, 30), []),
        ([], D(2027, 5, 31), [("2027-05-02", 789)]),  # 30 days from May 2: $7.8904
        ([], D(2027, 6, 30), [("2027-05-02", 789), ("2027-06-01", 789)]),  # 60 days: $15.7808
        # $600.00 paid June 15: 45 days on $1,200.00, 15 on $600.00: $13.8082 -> $13.81
        ([(D(2027, 6, 15), 60000)], D(2027, 6, 30), [("2027-05-02", 789), ("2027-06-01", 592)]),
    ],
)
def test_new_jersey_interest_runs_from_the_due_date_once_the_grace_days_are_missed(
    payments, as_of, expected
):
    invoice = facts("tax", D(2027, 5, 1), 120000, payments)
    assert owed(owed_as_of(example("new_jersey_property_tax_interest"), invoice, as_of)) == expected


@pytest.mark.parametrize(
    ("payments", "as_of", "expected"),
    [
        ([(D(2027, 5, 11), 240000)], D(2027, 12, 31), []),  # paid on the 10th grace day
        # 30 days: $1,500.00 x 8% x 30/365 = $9.8630 + $900.00 x 18% x 30/365 = $13.3151
        # = $23.1781 -> $23.18
        ([], D(2027, 5, 31), [("2027-05-02", 2318)]),
        # 60 days: $46.3562 -> $46.36 in all
        ([], D(2027, 6, 30), [("2027-05-02", 2318), ("2027-06-01", 2318)]),
        # $1,200.00 paid June 15: June is 15 days on $2,400.00 ($4.9315 + $6.6575) and 15 on
        # $1,200.00, all at 8% ($3.9452): $38.7123 in all -> $38.71, June $15.53
        (
            [(D(2027, 6, 15), 120000)],
            D(2027, 6, 30),
            [("2027-05-02", 2318), ("2027-06-01", 1553)],
        ),
        # $2,000.00 paid June 15: the $400.00 left is all at 8%:
        # $23.1781 + $11.5890 + $1.3151 = $36.0822 -> $36.08, June $12.90
        (
            [(D(2027, 6, 15), 200000)],
            D(2027, 6, 30),
            [("2027-05-02", 2318), ("2027-06-01", 1290)],
        ),
    ],
)
def test_new_jersey_interest_is_18_percent_on_the_delinquency_above_1500_dollars(
    payments, as_of, expected
):
    invoice = facts("tax", D(2027, 5, 1), 240000, payments)
    assert owed(owed_as_of(example("new_jersey_property_tax_interest"), invoice, as_of)) == expected


def test_new_jersey_interest_shows_each_rate_s_part():
    invoice = facts("tax", D(2027, 5, 1), 240000)
    (charge,) = owed_as_of(example("new_jersey_property_tax_interest"), invoice, D(2027, 5, 31))
    assert charge.description == (
        "Interest on delinquent taxes (N.J.S.A. 54:4-67): $9.86 at 8% a year up to $1,500.00"
        " and $13.32 at 18% a year above $1,500.00, 30 days from 2027-05-02 to 2027-05-31"
    )
    assert len(charge.description) <= 200  # what a stored charge's description holds


def test_a_monthly_rule_charges_the_grace_month_too_once_the_grace_is_missed():
    rules = parse_penalty_rules(
        {
            "version": 1,
            "rules": [
                {
                    "id": "back-to-due",
                    "type": "monthly",
                    "applies_to": {"invoice_kinds": ["tax"], "categories": ["tax"]},
                    "grace_days": 45,
                    "interest_from": "due_date",
                    "percent": "1",
                }
            ],
        }
    )
    invoice = facts("tax", D(2027, 1, 31), 100000)
    charges = owed_as_of(rules, invoice, D(2027, 3, 17))
    # February's month is charged on the first delinquent day, March 18, with March's
    assert [(c.period_key, c.amount_cents, c.assessed_on) for c in charges] == []
    charges = owed_as_of(rules, invoice, D(2027, 3, 18))
    assert [(c.period_key, c.amount_cents, c.assessed_on) for c in charges] == [
        ("2027-02", 1000, D(2027, 3, 18)),
        ("2027-03", 1000, D(2027, 3, 18)),
    ]
    paid = facts("tax", D(2027, 1, 31), 100000, [(D(2027, 3, 17), 100000)])
    assert owed_as_of(rules, paid, D(2027, 12, 31)) == []


# ---- principal plus earlier charges, and a due date moved to a working day (Shelby) ---------


def test_shelby_a_due_date_on_a_saturday_moves_to_monday():
    # 2027-02-20 is a Saturday: paid on Monday the 22nd, the bill is on time
    invoice = facts("utility", D(2027, 2, 20), 1200, [(D(2027, 2, 22), 1200)])
    assert owed_as_of(example("shelby_mt_late_fee_working_day"), invoice, D(2027, 12, 31)) == []
    unpaid = facts("utility", D(2027, 2, 20), 1200)
    [first, *_] = owed_as_of(example("shelby_mt_late_fee_working_day"), unpaid, D(2027, 2, 23))
    assert (first.period_key, first.amount_cents, first.assessed_on) == (
        "2027-02",
        500,
        D(2027, 2, 23),
    )


def test_shelby_an_unpaid_late_fee_counts_toward_the_ten_dollars():
    # $12.00 billed; a $3.00 credit on March 5 leaves $9.00 of principal, but with the
    # unpaid $5.00 fee the balance is $14.00: the fee is charged again each month
    credited = facts("utility", D(2027, 2, 20), 1200, [(D(2027, 3, 5), 300)])
    charges = owed_as_of(example("shelby_mt_late_fee_working_day"), credited, D(2027, 5, 31))
    assert owed(charges) == [("2027-02", 500), ("2027-03", 500), ("2027-04", 500), ("2027-05", 500)]
    # the fee paid on March 10: $9.00 alone does not exceed $10.00
    paid_fee = facts(
        "utility", D(2027, 2, 20), 1200, [(D(2027, 3, 5), 300)], [(D(2027, 3, 10), 500)]
    )
    charges = owed_as_of(example("shelby_mt_late_fee_working_day"), paid_fee, D(2027, 5, 31))
    assert owed(charges) == [("2027-02", 500)]


def test_shelby_six_fees_at_most():
    unpaid = facts("utility", D(2027, 2, 20), 4800)
    charges = owed_as_of(example("shelby_mt_late_fee_working_day"), unpaid, D(2027, 12, 31))
    assert sum(c.amount_cents for c in charges) == 3000 and len(charges) == 6


def test_a_percentage_of_principal_plus_earlier_charges_compounds():
    # ILLUSTRATIVE: 1.5% of $200.00; then of $203.00 = $3.045; then of $206.05 = $3.09075
    invoice = facts("utility", D(2027, 1, 15), 20000)
    charges = owed_as_of(example("illustrative_compounding_penalty"), invoice, D(2027, 3, 16))
    assert owed(charges) == [("2027-01", 300), ("2027-02", 305), ("2027-03", 309)]
    assert charges[1].description.endswith("1.5% of $203.00 unpaid, earlier charges included")


# ---- the account's past-due balance: current charges and arrears (Maumee § 139.05(a)) -------


@pytest.mark.parametrize(
    ("february_payments", "expected"),
    [
        ([], [("once", 1744)]),  # 10% of $90.00 + $84.37 = $17.437
        ([(D(2027, 3, 15), 8437)], [("once", 900)]),  # arrears paid on March 15: 10% of $90.00
        ([(D(2027, 3, 16), 8437)], [("once", 1744)]),  # paid a day late: still past due at 03-16
    ],
)
def test_maumee_charges_ten_percent_of_the_current_bill_and_the_arrears(
    february_payments, expected
):
    february = [(D(2027, 1, 16), 8437)]
    for day, amount in february_payments:
        february.append((day, february[-1][1] - amount))
    march = InvoiceFacts(
        "utility",
        D(2027, 3, 15),
        {"charge": 9000},
        [(D(2027, 2, 16), 9000)],
        other_bills=[(D(2027, 2, 15), february), (D(2027, 4, 15), [(D(2027, 3, 16), 9500)])],
    )
    rules = example("maumee_oh_account_penalty")
    assert owed(owed_as_of(rules, march, D(2027, 3, 15))) == []
    charges = owed_as_of(rules, march, D(2027, 3, 16))
    assert owed(charges) == expected


def test_the_account_base_is_refused_on_a_rule_that_charges_every_month():
    rule = {
        "id": "late",
        "type": "monthly",
        "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
        "base": "account_past_due",
        "percent": "1",
    }
    with pytest.raises(RuleError, match=r"^rules\[0\]\.base: account_past_due is for one_time"):
        parse_penalty_rules({"version": 1, "rules": [rule]})


# ---- the working calendar --------------------------------------------------------------------


def test_the_calendar_knows_federal_and_state_holidays_and_the_towns_own_days():
    calendar = WorkingCalendar("WI", {D(2027, 3, 16): "Town meeting day"})
    assert calendar.next_working_day(D(2027, 7, 4)) == D(2027, 7, 6)  # Sunday, observed Monday
    assert calendar.next_working_day(D(2027, 11, 25)) == D(2027, 11, 26)  # Thanksgiving
    assert calendar.next_working_day(D(2027, 3, 16)) == D(2027, 3, 17)
    assert calendar.closed_because(D(2027, 3, 16)) == "Town meeting day"
    assert calendar.next_working_day(D(2027, 3, 15)) == D(2027, 3, 15)


def test_a_grace_end_on_a_holiday_moves_to_the_next_working_day():
    rules = parse_penalty_rules(
        {
            "version": 1,
            "rules": [
                {
                    "id": "late",
                    "type": "one_time",
                    "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
                    "grace_days": 10,
                    "working_days": ["grace_end"],
                    "percent": "10",
                }
            ],
        }
    )
    # due 2027-11-15: the tenth grace day is Thanksgiving; with federal holidays only the
    # grace ends on Friday the 26th, in Texas (where that Friday is a state holiday) on Monday
    invoice = facts("utility", D(2027, 11, 15), 5000)
    federal = WorkingCalendar()
    assert owed_as_of(rules, invoice, D(2027, 11, 26), calendar=federal) == []
    assert owed(owed_as_of(rules, invoice, D(2027, 11, 27), calendar=federal)) == [("once", 500)]
    texas = WorkingCalendar("TX")
    assert owed_as_of(rules, invoice, D(2027, 11, 29), calendar=texas) == []
    [charge] = owed_as_of(rules, invoice, D(2027, 11, 30), calendar=texas)
    assert (charge.amount_cents, charge.assessed_on) == (500, D(2027, 11, 30))


# ---- refused at import, naming the place ----------------------------------------------------

DAILY = {
    "id": "daily",
    "type": "daily",
    "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
    "annual_percent": "12",
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"annual_percent": 12.5}, "rules[0].annual_percent: write a percentage like '1.5' as a"),
        ({"annual_percent": "0"}, "rules[0].annual_percent: must be more than 0"),
        ({"annual_percent": None}, "rules[0]: missing annual_percent"),
        ({"day_count": "30_360"}, "rules[0].day_count: must be one of actual_365, actual_360"),
        (
            {"base": "original"},
            "rules[0].base: a daily rule charges on the bill's own unpaid balance",
        ),
        ({"interest_from": "due_date"}, "rules[0].interest_from: due_date needs grace_days"),
        ({"working_days": ["bill_date"]}, "rules[0].working_days[0]: must be one of due_date"),
        ({"percent": "1"}, "rules[0].percent: unknown field"),
    ],
)
def test_a_bad_daily_rule_is_refused_naming_the_place(changes, message):
    rule = {**DAILY, **changes}
    rule = {key: value for key, value in rule.items() if value is not None}
    with pytest.raises(RuleError) as error:
        parse_penalty_rules({"version": 1, "rules": [rule]})
    assert str(error.value).startswith(message)


def test_a_flat_amount_added_to_a_flat_fee_is_refused():
    rule = {
        "id": "late",
        "type": "one_time",
        "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
        "flat": "5.00",
        "plus_flat": "2.00",
    }
    with pytest.raises(RuleError, match=r"^rules\[0\]\.plus_flat: applies to a percent"):
        parse_penalty_rules({"version": 1, "rules": [rule]})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 1, "state": "ZZ", "closed_days": []}, "state: 'ZZ' is not a US state code"),
        ({"version": 1, "state": "TX", "closed_days": []}, "state: the file is for 'TX'"),
        (
            {"version": 1, "closed_days": [{"date": "2027-02-30", "name": "x"}]},
            "closed_days[0].date: '2027-02-30' is not a date",
        ),
        (
            {
                "version": 1,
                "closed_days": [
                    {"date": D(2027, 3, 16), "name": "Town meeting"},
                    {"date": "2027-03-16", "name": "Again"},
                ],
            },
            "closed_days[1].date: 2027-03-16 is listed twice",
        ),
        ({"version": 1, "closed_days": [{"date": "2027-03-16"}]}, "closed_days[0]: must be"),
        ({"version": 2, "closed_days": []}, "version: must be 1"),
    ],
)
def test_a_bad_holiday_file_is_refused_naming_the_place(document, message):
    with pytest.raises(RuleError) as error:
        parse_closed_days(document, "WI")
    assert str(error.value).startswith(message)


def test_an_unknown_state_for_the_calendar_is_refused():
    with pytest.raises(RuleError, match="state: 'XY' is not a US state code"):
        WorkingCalendar("XY")


def test_an_unknown_state_setting_stops_the_start_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="MUNICIPALITY_STATE 'ZZ' is not a US state code"):
        load_settings({"MUNICIPALITY_STATE": "zz"}, tmp_path)
    assert load_settings({"MUNICIPALITY_STATE": "wi"}, tmp_path)["MUNICIPALITY_STATE"] == "WI"
    assert load_settings({}, tmp_path)["MUNICIPALITY_STATE"] == ""


# ---- properties of daily interest -----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    principal=st.integers(1, 10**9),
    paid=st.integers(0, 10**9),
    paid_after=st.integers(1, 400),
    first=st.integers(0, 500),
    more=st.integers(0, 500),
    percent=st.sampled_from(["12", "8", "18", "0.5", "7.125"]),
    year=st.sampled_from(["actual_365", "actual_360"]),
)
def test_daily_charges_are_stable_and_add_up_to_the_exact_interest_rounded_once(
    principal, paid, paid_after, first, more, percent, year
):
    rule = {**DAILY, "annual_percent": percent, "day_count": year}
    rules = parse_penalty_rules({"version": 1, "rules": [rule]})
    due = D(2027, 1, 31)
    payment = (due + timedelta(days=paid_after), min(paid, principal))
    invoice = facts("utility", due, principal, [payment])
    early = owed_as_of(rules, invoice, due + timedelta(days=first))
    late = owed_as_of(rules, invoice, due + timedelta(days=first + more))
    assert late[: len(early)] == early
    if not late:
        return
    last = late[-1].assessed_on
    exact = Fraction(0)
    day = due + timedelta(days=1)
    while day <= last:
        exact += Fraction(invoice.balance_before(day)) * Fraction(percent) / 100
        day += timedelta(days=1)
    days_in_year = 365 if year == "actual_365" else 360
    expected = to_cents(Decimal(exact.numerator) / Decimal(exact.denominator) / days_in_year)
    assert sum(c.amount_cents for c in late) == expected
    assert all(c.amount_cents > 0 for c in late)
