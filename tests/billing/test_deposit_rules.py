"""The deposit rules format: who pays, how much, refunds and interest, refused with the place named."""

from datetime import date
from decimal import Decimal

import pytest

from billing.computed import RuleError
from billing.deposit_rules import (
    deposit_amount,
    interest_cents,
    parse_deposit_rules,
    reasons_required,
    rules_to_document,
)

RULES = {
    "format": 1,
    "versions": [
        {
            "effective": "2026-01-01",
            "who": {
                "renters": True,
                "commercial": True,
                "late_payments": {"count": 2, "months": 12},
            },
            "amount": {"average_bill": {"multiple": "2", "bills": 12, "minimum": "75.00"}},
            "collect": "first_bill",
            "refund": {"after_months": 12, "method": "credit"},
            "interest": {"annual_percent": "1.25", "ordinance": "Town Code 14-3"},
        },
        {
            "effective": "2027-07-01",
            "who": {"renters": True},
            "amount": {"fixed": "150.00"},
            "collect": "before_service",
            "refund": {"after_months": 24, "method": "check"},
        },
    ],
}


def test_the_version_in_force_is_the_last_one_effective_by_the_day():
    rules = parse_deposit_rules(RULES)
    assert rules.on(date(2025, 12, 31)) is None
    assert rules.on(date(2027, 6, 30)).refund_method == "credit"
    later = rules.on(date(2027, 7, 1))
    assert (later.fixed_cents, later.collect, later.interest_percent) == (
        15000,
        "before_service",
        None,
    )


def test_the_canonical_document_reads_back_to_the_same_rules():
    rules = parse_deposit_rules(RULES)
    assert parse_deposit_rules(rules_to_document(rules)) == rules


def test_renters_commercial_accounts_and_late_payers_are_asked_for_a_deposit():
    rule = parse_deposit_rules(RULES).on(date(2026, 6, 1))
    assert reasons_required(rule, flags=["renter"], late_payments=0) == ("renter",)
    assert reasons_required(rule, flags=["commercial"], late_payments=2) == (
        "commercial",
        "late_payments",
    )
    assert reasons_required(rule, flags=["senior"], late_payments=1) == ()


def test_twice_the_average_bill_rounded_once_and_never_under_the_minimum():
    rule = parse_deposit_rules(RULES).on(date(2026, 6, 1))
    # (10784 + 9001) / 2 = 9892.5 cents; twice that is 19785 exactly
    assert deposit_amount(rule, [10784, 9001], "half_up") == 19785
    # (10001 + 10000 + 10000) / 3 * 2 = 20000.67 -> 20001
    assert deposit_amount(rule, [10001, 10000, 10000], "half_up") == 20001
    assert deposit_amount(rule, [1000], "half_up") == 7500
    assert deposit_amount(rule, [], "half_up") == 7500


def test_simple_yearly_interest_for_the_days_held():
    # $150.00 at 1.25% for 183 days: 15000 * 0.0125 * 183 / 365 = 94.006 cents
    assert interest_cents(15000, Decimal("1.25"), 183, "half_up") == 94
    # a whole year: 187.5 cents, half up
    assert interest_cents(15000, Decimal("1.25"), 365, "half_up") == 188
    assert interest_cents(15000, Decimal("1.25"), 365, "half_even") == 188
    assert interest_cents(15000, Decimal("1.25"), 0, "half_up") == 0


def _with(path: list, value):
    document = {"versions": [dict(RULES["versions"][0])]}
    target = document["versions"][0]
    for key in path[:-1]:
        target[key] = dict(target[key])
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "place"),
    [
        (["amount"], {"fixed": 150}, "versions[0].amount.fixed"),
        (["amount"], {"fixed": "150.00", "average_bill": {}}, "versions[0].amount"),
        (
            ["amount", "average_bill"],
            {"multiple": "0", "bills": 3},
            "versions[0].amount.average_bill.multiple",
        ),
        (["who"], {}, "versions[0].who"),
        (
            ["who", "late_payments"],
            {"count": 0, "months": 12},
            "versions[0].who.late_payments.count",
        ),
        (["collect"], "on_request", "versions[0].collect"),
        (["refund"], {"after_months": 12, "method": "cash"}, "versions[0].refund.method"),
        (["interest"], {"annual_percent": "1.25"}, "versions[0].interest.ordinance"),
        (["effective"], "2026-13-01", "versions[0].effective"),
        (["color"], "blue", "versions[0].color"),
    ],
)
def test_a_wrong_rule_is_refused_naming_its_place(path, value, place):
    with pytest.raises(RuleError, match=rf"^{__import__('re').escape(place)}:"):
        parse_deposit_rules(_with(path, value))


def test_versions_out_of_order_are_refused():
    document = {"versions": list(reversed(RULES["versions"]))}
    with pytest.raises(RuleError, match=r"^versions\[1\]\.effective:"):
        parse_deposit_rules(document)


def test_the_worked_example_of_docs_deposits_md():
    """demo/rules/deposits.yaml, modelled on Enid, Oklahoma's deposit ordinance."""
    import yaml

    from tests.billing.billing_fixtures import RULES as DEMO

    rules = parse_deposit_rules(yaml.safe_load((DEMO / "deposits.yaml").read_text()))
    rule = rules.on(date(2026, 11, 3))
    assert reasons_required(rule, flags=["renter"], late_payments=0) == ("renter",)
    assert reasons_required(rule, flags=[], late_payments=2) == ("late_payments",)
    # a renter moving in after two bills of $107.84 and $90.01: twice their average
    assert deposit_amount(rule, [10784, 9001], "half_up") == 19785
    # a renter with no bill yet pays the minimum
    assert deposit_amount(rule, [], "half_up") == 10000
    # a whole year's interest at the illustrative 1.00%: 197.85 cents -> 198
    assert interest_cents(19785, rule.interest_percent, 365, "half_up") == 198
    assert (rule.refund_after_months, rule.refund_method, rule.collect) == (
        12,
        "credit",
        "before_service",
    )
