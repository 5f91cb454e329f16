"""The payment-plan rule as data: a document validated in full, loaded by `munibill plans
rule`, shown back as the same document; a wrong one is refused naming its place."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from billing.arrangement_rules import parse_plan_rule
from billing.computed import RuleError
from billing.models import PlanRule
from core.extensions import db

RULE = {
    "effective": "2026-01-01",
    "classes": ["utility", "tax"],
    "min_down": {"percent": "10", "amount": "25.00"},
    "max_installments": 6,
    "max_included": "5000.00",
    "grace_days": 10,
    "pause": {"penalties": True, "reminders": False},
    "residents_may_request": True,
}


def test_a_rule_document_reads_as_its_fields():
    fields = parse_plan_rule(RULE)
    assert fields["min_down_percent"] == Decimal("10")
    assert (fields["min_down_cents"], fields["max_included_cents"]) == (2500, 500_000)
    assert fields["pause_penalties"] and not fields["pause_reminders"]


@pytest.mark.parametrize(
    "change, place",
    [
        ({"classes": ["water"]}, "classes"),
        ({"min_down": {"percent": "120"}}, "min_down.percent"),
        ({"min_down": {"amount": 25}}, "min_down.amount"),
        ({"max_installments": 0}, "max_installments"),
        ({"grace_days": -1}, "grace_days"),
        ({"pause": {"penalties": "yes"}}, "pause.penalties"),
        ({"shutoff": True}, "rule.shutoff"),
    ],
)
def test_a_wrong_rule_is_refused_naming_its_place(change, place):
    with pytest.raises(RuleError, match=rf"^{place}: "):
        parse_plan_rule(RULE | change)


def test_the_cli_loads_a_rule_and_shows_it_back(app, runner, tmp_path):
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump(RULE))
    dry = runner.invoke(args=["plans", "rule", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanRule)) == 0
    loaded = runner.invoke(args=["plans", "rule", str(path)])
    assert loaded.exit_code == 0, loaded.output
    shown = runner.invoke(args=["plans", "show-rule", "--on", "2026-06-01"])
    assert yaml.safe_load(shown.output) == RULE
    path.write_text(yaml.safe_dump(RULE | {"max_installments": 500}))
    refused = runner.invoke(args=["plans", "rule", str(path)])
    assert refused.exit_code != 0 and "max_installments" in refused.output


def test_the_api_loads_the_rule_and_makes_a_plan_or_says_why_not(app, client, api_headers):
    from datetime import UTC, datetime

    import time_machine

    from tests.billing.billing_fixtures import bill_households

    (billed,) = bill_households(app, "olson")
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    bad = client.post("/api/v1/plan-rule", json=RULE | {"grace_days": 400}, headers=clerk)
    assert bad.status_code == 422 and "grace_days" in bad.json["errors"]
    assert client.post("/api/v1/plan-rule", json=RULE, headers=auditor).status_code == 403
    loaded = client.post("/api/v1/plan-rule", json=RULE, headers=clerk)
    assert loaded.status_code == 200 and loaded.json["max_included"] == "5000.00"
    with time_machine.travel(datetime(2026, 11, 30, 18, 0, tzinfo=UTC), tick=False):
        assert client.get("/api/v1/plan-rule", headers=auditor).json == RULE
        ask = {
            "account_number": billed.number,
            "classes": ["utility"],
            "down_payment_cents": billed.owed_cents // 2,
            "installments": 7,
        }
        refused = client.post("/api/v1/plans", json=ask, headers=clerk)
        assert refused.status_code == 422
        assert refused.json["errors"] == {
            "installments": ["A plan may have at most 6 installments, not 7."]
        }
        made = client.post("/api/v1/plans", json=ask | {"installments": 2}, headers=clerk)
        assert made.status_code == 201, made.json
        assert made.json["status"] == "proposed"
        assert sum(i["amount_cents"] for i in made.json["installments"]) == billed.owed_cents
        listed = client.get("/api/v1/plans?status=proposed", headers=auditor).json
        assert [p["account_number"] for p in listed] == [billed.number]
