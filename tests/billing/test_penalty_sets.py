"""Penalty rule sets: versions with effective dates, scopes side by side, the version in force
when the delinquency began, a new ordinance that never reaches back; loading, listing and the
nightly assessment, on both databases."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.adjustments import waive_charge
from billing.computed import RuleError
from billing.models import Invoice, InvoiceCharge, InvoiceKind, PenaltyRuleSet
from billing.penalties import InvoiceFacts
from billing.penalty_service import assess_penalties
from billing.penalty_sets import (
    InvoiceScope,
    SetScope,
    owed_by_set,
    parse_penalty_set,
    set_to_document,
)
from billing.rules import current_penalty_sets, load_penalty_rules
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from core.money import to_cents
from tests.billing.billing_fixtures import bill_households, household, load_rules

EXAMPLES = Path(__file__).parent / "penalty_examples"
SETS = EXAMPLES / "sets"
DOCS = Path(__file__).parents[2] / "docs" / "penalties.md"
D = date
CLERK = Actor.system("test clerk")


def example(name: str) -> dict:
    """A set document from the examples."""
    return yaml.safe_load((SETS / f"{name}.yaml").read_text())


def facts(kind, due, cents, payments=()) -> InvoiceFacts:
    """An invoice issued 30 days before its due date, with (date, amount) payments."""
    history, balance = [(due - timedelta(days=30), cents)], cents
    for day, amount in payments:
        balance -= amount
        history.append((day, balance))
    return InvoiceFacts(kind, due, {"tax" if kind == "tax" else "charge": cents}, history)


def owed(charges) -> list[tuple[str, str, int]]:
    """(rule_id, period_key, cents) of each charge."""
    return [(c.rule_id, c.period_key, c.amount_cents) for c in charges]


# ---- which version charges an invoice -------------------------------------------------------


def test_a_bill_delinquent_before_the_new_ordinance_keeps_the_old_charge():
    rule_set = parse_penalty_set(example("utility_late_charge_raised"))
    before = facts("utility", D(2027, 3, 20), 10000)  # delinquent March 21
    assert owed(owed_by_set(rule_set, before, D(2027, 6, 1))) == [("late-5", "once", 500)]
    after = facts("utility", D(2027, 3, 31), 10000)  # delinquent April 1, the new one's day
    assert owed(owed_by_set(rule_set, after, D(2027, 6, 1))) == [("late-10", "once", 1000)]


def test_a_bill_delinquent_before_any_version_owes_nothing_from_the_set():
    rule_set = parse_penalty_set(example("utility_late_charge_raised"))
    assert owed_by_set(rule_set, facts("utility", D(2025, 12, 1), 10000), D(2026, 6, 1)) == []


def test_a_change_for_all_open_bills_charges_only_the_months_from_its_date():
    # $2,345.67 due January 31: February and March at 1% (rounded together: $23.46, $23.45),
    # April and May at 1.5% (rounded together: $35.19 = 1.5% of $2,345.67, then $35.18)
    rule_set = parse_penalty_set(example("tax_interest_rate_changed"))
    charges = owed_by_set(rule_set, facts("tax", D(2027, 1, 31), 234567), D(2027, 5, 1))
    assert owed(charges) == [
        ("tax-interest", "2027-02", 2346),
        ("tax-interest", "2027-03", 2345),
        ("tax-interest", "2027-04", 3519),
        ("tax-interest", "2027-05", 3518),
    ]
    # as of March 31 the new rate has not reached the bill
    assert (
        sum(
            c.amount_cents
            for c in owed_by_set(rule_set, facts("tax", D(2027, 1, 31), 234567), D(2027, 3, 31))
        )
        == 4691
    )


def test_daily_interest_changes_rate_on_the_day_the_new_version_takes_effect():
    document = {
        "version": 2,
        "code": "utility-interest",
        "scope": {"invoice_kinds": ["utility"]},
        "versions": [
            {"effective_from": "2027-01-01", "rules": [_daily("12")]},
            {"effective_from": "2027-04-16", "reach": "all_open", "rules": [_daily("18")]},
        ],
    }
    rule_set = parse_penalty_set(document)
    charges = owed_by_set(rule_set, facts("utility", D(2027, 3, 10), 25000), D(2027, 4, 30))
    # March 11-31 at 12%: $1.73; April 1-15 at 12%: 36 days $2.9589 -> $2.96, less $1.73;
    # April 16-30 at 18%: $250 x 18% x 15/365 = $1.8493
    assert owed(charges) == [
        ("interest", "2027-03-11", 173),
        ("interest", "2027-04-01", 123),
        ("interest", "2027-04-16", 185),
    ]
    assert [c.assessed_on for c in charges] == [D(2027, 3, 31), D(2027, 4, 15), D(2027, 4, 30)]


def _daily(percent: str) -> dict:
    """A daily interest rule at an annual percent."""
    return {
        "id": "interest",
        "type": "daily",
        "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
        "annual_percent": percent,
    }


# ---- scopes ---------------------------------------------------------------------------------


def test_a_scope_covers_an_invoice_only_if_every_service_on_it_is_named():
    water_sewer = SetScope(service_kinds=("sewer", "water"))
    assert InvoiceScope("utility", frozenset({"water", "sewer"})).covered_by(water_sewer)
    assert not InvoiceScope("utility", frozenset({"water", "trash"})).covered_by(water_sewer)
    assert not InvoiceScope("tax", tax_year=2026).covered_by(water_sewer)
    county = SetScope(tax_jurisdictions=("county",), tax_years=(2026,))
    assert InvoiceScope("tax", tax_jurisdictions=frozenset({"county"}), tax_year=2026).covered_by(
        county
    )
    assert not InvoiceScope(
        "tax", tax_jurisdictions=frozenset({"county"}), tax_year=2025
    ).covered_by(county)


def test_a_utility_set_and_a_tax_set_stand_side_by_side():
    utility = SetScope(invoice_kinds=("utility",))
    tax = SetScope(tax_years=(2026,))
    assert not utility.overlaps(tax)
    assert SetScope().overlaps(tax)
    assert not SetScope(service_kinds=("water",)).overlaps(SetScope(service_kinds=("trash",)))
    assert SetScope(service_kinds=("water",)).overlaps(SetScope(invoice_kinds=("utility",)))


def test_every_set_example_is_shown_in_the_docs_and_survives_a_round_trip():
    blocks = dict(
        re.findall(r"```yaml\n# set file: (\S+)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    )
    for path in SETS.glob("*.yaml"):
        name = f"tests/billing/penalty_examples/sets/{path.name}"
        assert name in blocks
        rule_set = parse_penalty_set(yaml.safe_load(path.read_text()))
        assert parse_penalty_set(yaml.safe_load(blocks[name])) == rule_set
        again = json.loads(json.dumps(set_to_document(rule_set)))
        assert parse_penalty_set(again) == rule_set


# ---- refused at import, naming the place ----------------------------------------------------


def _broken(change) -> dict:
    """The utility example set, changed."""
    document = copy.deepcopy(example("utility_late_charge_raised"))
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["versions"][1].update(effective_from=D(2026, 1, 1)),
            "versions[1].effective_from: 2026-01-01 is also versions[0]'s: one version a day",
        ),
        (
            lambda d: d["versions"][1].update(effective_from="2027-02-30"),
            "versions[1].effective_from: '2027-02-30' is not a date",
        ),
        (
            lambda d: d["versions"][0]["rules"][0].update(percent=5.5),
            "versions[0].rules[0].percent: write a percentage like '1.5' as a quoted string",
        ),
        (
            lambda d: d["versions"][1].update(reach="everything"),
            "versions[1].reach: must be one of new_delinquencies, all_open",
        ),
        (lambda d: d["scope"].update(tax_years=[26]), "scope.tax_years[0]: must be a year"),
        (lambda d: d["scope"].update(service=["water"]), "scope.service: unknown field"),
        (
            lambda d: d["scope"].update(tax_years=[2026]),
            "scope: service_kinds (utility bills) and tax fields (tax bills) exclude each other",
        ),
        (lambda d: d.update(code="Utility Late"), "code: use 1-40 lowercase letters"),
        (lambda d: d.update(versions=[]), "versions: must be a non-empty list"),
        (lambda d: d.update(version=3), "version: must be 1 (one set of rules) or 2"),
    ],
)
def test_a_bad_set_is_refused_naming_the_place(change, message):
    with pytest.raises(RuleError) as error:
        parse_penalty_set(_broken(change))
    assert str(error.value).startswith(message)


# ---- loading, listing, assessing (both databases) -------------------------------------------


def test_the_single_rules_file_is_the_town_set_covering_every_invoice(app):
    with app.app_context():
        load_penalty_rules(db.session, CLERK, example_v1())
        [town] = current_penalty_sets(db.session)
        assert (town.code, town.scope, len(town.versions)) == ("town", SetScope(), 1)
        assert town.versions[0].effective_from is None
        assert db.session.scalar(sa.select(PenaltyRuleSet.code)) == "town"


def example_v1() -> dict:
    """A single rules file of format 1."""
    path = Path(__file__).parent / "penalty_examples" / "maumee_oh_utility_penalty.yaml"
    return yaml.safe_load(path.read_text())


def test_two_sets_that_could_cover_one_invoice_are_refused_naming_both(app):
    with app.app_context():
        load_penalty_rules(db.session, CLERK, example("utility_late_charge_raised"))
        load_penalty_rules(db.session, CLERK, example("tax_interest_rate_changed"))
        with pytest.raises(RuleError) as error:
            load_penalty_rules(db.session, CLERK, example_v1())
        assert str(error.value) == (
            "scope: set 'town' and set 'tax-interest' could both cover one invoice; narrow one "
            "scope (invoice_kinds, service_kinds, tax_jurisdictions, tax_years)"
        )
        # a new load of a set replaces it, and is checked against the others only
        load_penalty_rules(db.session, CLERK, example("utility_late_charge_raised"))
        assert [s.code for s in current_penalty_sets(db.session)] == [
            "tax-interest",
            "utility-late-charge",
        ]


def _town_set(services: list[str], rules: list[dict]) -> dict:
    """The set `town` in format 2: utility bills of the services, one version from 2026."""
    return {
        "version": 2,
        "code": "town",
        "name": "Utility late charge",
        "scope": {"invoice_kinds": ["utility"], "service_kinds": services},
        "versions": [{"effective_from": "2026-01-01", "rules": rules}],
    }


LATE_10 = {
    "id": "late-10",
    "type": "one_time",
    "description": "Late charge",
    "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge", "fee"]},
    "percent": "10",
}


def test_an_invoice_no_set_covers_is_left_out_with_its_reason(app):
    [billed] = bill_households(app, "oak", due_date=date(2026, 11, 23))
    with app.app_context():
        load_penalty_rules(db.session, CLERK, _town_set(["sewer", "water"], [LATE_10]))
        result = assess_penalties(db.session, CLERK, as_of=D(2026, 11, 24), rounding="half_up")
        assert result.charges == 0
        assert result.skipped == [
            (
                billed.invoice_number,
                "no penalty rule set covers this invoice: utility (sewer, trash, water)",
            )
        ]
        load_penalty_rules(db.session, CLERK, _town_set(["sewer", "trash", "water"], [LATE_10]))
        result = assess_penalties(db.session, CLERK, as_of=D(2026, 11, 24), rounding="half_up")
        assert (result.charges, result.skipped) == (1, [])
        charge = db.session.scalar(sa.select(InvoiceCharge))
        assert charge.amount_cents == (billed.owed_cents + 5) // 10
        assert (charge.rule_id, charge.period_key) == ("late-10", "once")


def test_a_due_date_on_a_town_closed_day_moves_to_the_next_working_day(app, runner, tmp_path):
    # Monday 2026-11-23 is the town's own closed day: a bill due then is on time on the 24th
    [billed] = bill_households(app, "elm", due_date=date(2026, 11, 23))
    holidays = tmp_path / "closed.yaml"
    holidays.write_text(
        "version: 1\nclosed_days:\n  - {date: 2026-11-23, name: Courthouse flood cleanup}\n"
    )
    answer = runner.invoke(args=["penalties", "closed-days", "import", str(holidays)])
    assert answer.exit_code == 0, answer.output
    assert "1 closed days loaded" in answer.output
    listed = runner.invoke(args=["penalties", "closed-days", "list", "--year", "2026"])
    assert listed.output.splitlines()[0] == "2026-11-23  Courthouse flood cleanup"
    assert "2026-11-26  Thanksgiving Day (closed)" in listed.output
    assert "2026-11-23  Courthouse flood cleanup (closed)" in listed.output
    moved = {**LATE_10, "working_days": ["due_date"]}
    with app.app_context():
        load_penalty_rules(db.session, CLERK, _town_set(["sewer", "trash", "water"], [moved]))
        db.session.commit()
        early = assess_penalties(db.session, CLERK, as_of=D(2026, 11, 24), rounding="half_up")
        assert early.charges == 0
        later = assess_penalties(db.session, CLERK, as_of=D(2026, 11, 25), rounding="half_up")
        assert later.charges == 1
        charge = db.session.scalar(sa.select(InvoiceCharge))
        assert charge.assessed_on == D(2026, 11, 25)
        invoice = db.session.get(Invoice, charge.invoice_id)
        assert invoice.number == billed.invoice_number


def test_a_holiday_file_for_an_unknown_state_is_refused_naming_the_file(app, runner, tmp_path):
    holidays = tmp_path / "closed.yaml"
    holidays.write_text("version: 1\nstate: QQ\nclosed_days: []\n")
    answer = runner.invoke(args=["penalties", "closed-days", "import", str(holidays)])
    assert answer.exit_code != 0
    assert f"{holidays}: state: 'QQ' is not a US state code" in answer.output


def test_the_sets_are_listed_with_scope_and_versions(app, runner, client, api_headers):
    with app.app_context():
        load_penalty_rules(db.session, CLERK, example("utility_late_charge_raised"))
        load_penalty_rules(db.session, CLERK, example("tax_interest_rate_changed"))
        db.session.commit()
    answer = runner.invoke(args=["penalties", "sets"])
    assert answer.exit_code == 0, answer.output
    assert "utility-late-charge: Utility late charge" in answer.output
    assert "  service_kinds: sewer, trash, water" in answer.output
    assert "  from 2027-04-01 (new_delinquencies): late-10" in answer.output
    assert "  from 2027-04-01 (all_open): tax-interest" in answer.output
    listed = client.get("/api/v1/penalty-sets", headers=api_headers("clerk"))
    assert [row["code"] for row in listed.get_json()] == ["tax-interest", "utility-late-charge"]
    one = client.get("/api/v1/penalty-sets/tax-interest", headers=api_headers("clerk"))
    assert one.get_json()["document"]["versions"][1]["reach"] == "all_open"
    assert client.get("/api/v1/penalty-sets/none", headers=api_headers("clerk")).status_code == 404


def test_the_account_base_adds_the_accounts_other_past_due_bill(app):
    # The October bill (due November 23) of a household whose September bill (due
    # October 20) is still unpaid: Maumee's 10% is of both together
    with app.app_context():
        plans = load_rules(db.session)
        household(db.session, plans, "ash", [1000, 5000, 9000, 13000, 18400])
        bills = {}
        for cycle, issued, due in (
            ("2026-09", date(2026, 10, 1), date(2026, 10, 20)),
            ("2026-10", date(2026, 11, 2), date(2026, 11, 23)),
        ):
            run = open_run(
                db.session,
                Actor.job("test"),
                kind=InvoiceKind.UTILITY,
                cycle=cycle,
                issue_date=issued,
                due_date=due,
            )
            post_run(db.session, run, Actor.job("test"), RunOptions())
            bills[cycle] = db.session.scalar(sa.select(Invoice).where(Invoice.due_date == due))
        september, october = bills["2026-09"], bills["2026-10"]
        maumee = yaml.safe_load((EXAMPLES / "maumee_oh_account_penalty.yaml").read_text())
        set_document = _town_set(["sewer", "trash", "water"], maumee["rules"])
        load_penalty_rules(db.session, CLERK, set_document)
        assess_penalties(db.session, CLERK, as_of=D(2026, 11, 24), rounding="half_up")
        charges = {
            number: cents
            for number, cents in db.session.execute(
                sa.select(Invoice.number, InvoiceCharge.amount_cents).join(
                    InvoiceCharge, InvoiceCharge.invoice_id == Invoice.id
                )
            )
        }
        # September's own 10% on October 21; October's 10% of both bills on November 24
        assert charges == {
            september.number: to_cents(Decimal(september.total_cents) / 10, "half_up"),
            october.number: to_cents(
                Decimal(october.total_cents + september.total_cents) / 10, "half_up"
            ),
        }


def test_the_api_refuses_an_overlapping_set_naming_both_and_loads_a_set(client, api_headers):
    headers = api_headers("admin")
    loaded = client.post(
        "/api/v1/penalty-rules",
        json=json.loads(json.dumps(example("tax_interest_rate_changed"), default=str)),
        headers=headers,
    )
    assert loaded.status_code == 200, loaded.get_json()
    assert loaded.get_json()["code"] == "tax-interest"
    refused = client.post(
        "/api/v1/penalty-rules",
        json=json.loads(json.dumps(example_v1())),
        headers=headers,
    )
    assert refused.status_code == 422
    [message] = refused.get_json()["errors"]["scope"]
    assert message.startswith("set 'town' and set 'tax-interest' could both cover one invoice")
    broken = json.loads(json.dumps(example("utility_late_charge_raised"), default=str))
    broken["versions"][1]["effective_from"] = "2026-01-01"
    refused = client.post("/api/v1/penalty-rules", json=broken, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {
        "versions[1].effective_from": ["2026-01-01 is also versions[0]'s: one version a day"]
    }


def test_a_waived_late_charge_stops_counting_toward_the_balance_it_is_taken_of(app):
    # ILLUSTRATIVE compounding rule: 1.5% a month of the unpaid balance, earlier late
    # charges included; one household's first charge is waived, the other's is not
    waived, kept = bill_households(
        app, "birch", "cedar", issue_date=date(2026, 11, 1), due_date=date(2026, 11, 2)
    )
    rules = yaml.safe_load((EXAMPLES / "illustrative_compounding_penalty.yaml").read_text())
    with app.app_context():
        load_penalty_rules(
            db.session, CLERK, _town_set(["sewer", "trash", "water"], rules["rules"])
        )
        assess_penalties(db.session, CLERK, as_of=D(2026, 11, 3), rounding="half_up")
        first = _charges(waived.invoice_number)[0]
        waive_charge(db.session, CLERK, first, reason="first offence", on=D(2026, 11, 10))
        assess_penalties(db.session, CLERK, as_of=D(2026, 12, 3), rounding="half_up")
        principal = waived.owed_cents
        assert principal == kept.owed_cents
        one = to_cents(Decimal(principal) * Decimal("0.015"), "half_up")
        assert [c.amount_cents for c in _charges(waived.invoice_number)] == [one, one]
        compounded = to_cents(Decimal(principal + one) * Decimal("0.015"), "half_up")
        assert [c.amount_cents for c in _charges(kept.invoice_number)] == [one, compounded]


def _charges(number: str) -> list[InvoiceCharge]:
    """An invoice's charges, oldest first."""
    return list(
        db.session.scalars(
            sa.select(InvoiceCharge)
            .join(Invoice, Invoice.id == InvoiceCharge.invoice_id)
            .where(Invoice.number == number)
            .order_by(InvoiceCharge.assessed_on)
        )
    )


# ---- properties -----------------------------------------------------------------------------

later_days = st.integers(0, 700)
bills = st.tuples(
    st.dates(D(2026, 6, 1), D(2027, 12, 31)),
    st.integers(1, 10**8),
    st.integers(0, 10**8),
    st.integers(1, 300),
)


@settings(max_examples=60, deadline=None)
@given(bill=bills, first=later_days, more=later_days)
def test_a_set_never_changes_a_charge_it_made_as_the_date_moves_on(bill, first, more):
    due, cents, paid, paid_after = bill
    invoice = facts("tax", due, cents, [(due + timedelta(days=paid_after), min(paid, cents))])
    rule_set = parse_penalty_set(example("tax_interest_rate_changed"))
    early = owed_by_set(rule_set, invoice, due + timedelta(days=first))
    late = owed_by_set(rule_set, invoice, due + timedelta(days=first + more))
    assert late[: len(early)] == early
    keys = [(c.rule_id, c.period_key) for c in late]
    assert len(keys) == len(set(keys))


@settings(max_examples=60, deadline=None)
@given(bill=bills, after=later_days, effective=st.dates(D(2026, 6, 1), D(2028, 6, 30)))
def test_a_new_version_for_new_delinquencies_never_reaches_back(bill, after, effective):
    due, cents, paid, paid_after = bill
    invoice = facts("utility", due, cents, [(due + timedelta(days=paid_after), min(paid, cents))])
    document = example("utility_late_charge_raised")
    old = copy.deepcopy(document)
    old["versions"] = old["versions"][:1]
    document["versions"][1]["effective_from"] = max(effective, D(2026, 1, 2))
    as_of = due + timedelta(days=after)
    with_new = owed_by_set(parse_penalty_set(document), invoice, as_of)
    without = owed_by_set(parse_penalty_set(old), invoice, as_of)
    if due + timedelta(days=1) < document["versions"][1]["effective_from"]:
        assert with_new == without
    else:
        assert all(charge.rule_id == "late-10" for charge in with_new)


def test_the_api_loads_the_closed_days_and_refuses_an_unknown_state(client, api_headers):
    headers = api_headers("admin")
    document = {"version": 1, "closed_days": [{"date": "2027-03-16", "name": "Town meeting"}]}
    loaded = client.post("/api/v1/closed-days", json=document, headers=headers)
    assert loaded.status_code == 200, loaded.get_json()
    assert loaded.get_json() == [{"day": "2027-03-16", "name": "Town meeting"}]
    refused = client.post("/api/v1/closed-days", json={**document, "state": "QQ"}, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {
        "state": ["'QQ' is not a US state code (such as WI, TX or CA)"]
    }
    listed = client.get("/api/v1/closed-days", headers=api_headers("clerk"))
    assert listed.get_json() == [{"day": "2027-03-16", "name": "Town meeting"}]
