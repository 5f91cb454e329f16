"""Convenience fee rules through the API and the CLI: a rule kept as a new version, bad rules
refused by field with nothing changed, and the fee of a payment asked by channel and method."""

from __future__ import annotations

import json

from core.extensions import db
from payments.convenience_fees import rules_in_force

CARD_ONLINE = {
    "channel": "online",
    "method": "card",
    "kind": "percentage",
    "percent": "2.35",
    "minimum_cents": 150,
    "cap_cents": 5000,
    "charge_as": "separate_charge",
    "refund": "pro_rata",
}


def test_a_clerk_sets_a_rule_and_anyone_who_reads_sees_it_and_the_fee_it_gives(
    app, client, api_headers
):
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    assert (
        client.post("/api/v1/convenience-fee-rules", json=CARD_ONLINE, headers=auditor).status_code
        == 403
    )
    made = client.post("/api/v1/convenience-fee-rules", json=CARD_ONLINE, headers=clerk)
    assert made.status_code == 201, made.text
    rule = made.get_json()
    assert (rule["percent"], rule["charge_as"], rule["in_force"]) == (
        "2.35",
        "separate_charge",
        True,
    )
    again = client.post(
        "/api/v1/convenience-fee-rules", json={**CARD_ONLINE, "percent": "2.5"}, headers=clerk
    )
    (in_force,) = client.get("/api/v1/convenience-fee-rules", headers=auditor).get_json()
    assert in_force["id"] == again.get_json()["id"] != rule["id"]
    quote = client.get(
        "/api/v1/convenience-fee?channel=online&method=card&amount_cents=10784", headers=auditor
    ).get_json()
    assert (quote["fee_cents"], quote["rule_id"]) == (270, in_force["id"])
    bank = client.get(
        "/api/v1/convenience-fee?channel=online&method=bank_account&amount_cents=10784",
        headers=auditor,
    ).get_json()
    assert (bank["fee_cents"], bank["rule_id"]) == (0, None)


def test_bad_rules_are_refused_by_field_and_change_nothing(app, client, api_headers):
    clerk = api_headers("clerk")
    for body, field, words in [
        ({**CARD_ONLINE, "percent": "3.25"}, "percent", "legal limit"),
        ({**CARD_ONLINE, "minimum_cents": 600, "cap_cents": 500}, "cap_cents", "below the minimum"),
        ({**CARD_ONLINE, "kind": "flat", "flat_cents": -50}, "flat_cents", "negative"),
        ({**CARD_ONLINE, "cap_cents": 12.5}, "cap_cents", ""),
        (
            {
                **CARD_ONLINE,
                "kind": "tiered",
                "tiers": [
                    {"from_cents": 0, "to_cents": 10000, "flat_cents": 100},
                    {"from_cents": 5000, "to_cents": None, "flat_cents": 200},
                ],
            },
            "tiers",
            "overlap",
        ),
        ({**CARD_ONLINE, "method": "bank_account"}, "charge_as", "card rules only"),
    ]:
        answer = client.post("/api/v1/convenience-fee-rules", json=body, headers=clerk)
        assert answer.status_code == 422, (field, answer.text)
        errors = answer.get_json()["errors"]
        found = errors.get("json", errors)
        assert field in found, (field, errors)
        assert words in json.dumps(found[field]), (field, errors)
    with app.app_context():
        assert rules_in_force(db.session) == []


def test_the_cli_keeps_a_rule_from_a_file_and_refuses_a_bad_one(app, tmp_path):
    runner = app.test_cli_runner()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({**CARD_ONLINE, "channel": "counter"}))
    bad.write_text(json.dumps({**CARD_ONLINE, "percent": "-1"}))
    kept = runner.invoke(args=["payments", "fee-rule", str(good), "--by", "finance office"])
    assert kept.exit_code == 0, kept.output
    assert "in force for counter card" in kept.output
    refused = runner.invoke(args=["payments", "fee-rule", str(bad), "--by", "finance office"])
    assert refused.exit_code != 0 and "percent: a fee cannot be negative" in refused.output
    listed = runner.invoke(args=["payments", "fee-rules"])
    (line,) = listed.output.strip().splitlines()
    assert json.loads(line)["channel"] == "counter"
