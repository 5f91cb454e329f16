"""Deposits through the CLI and the API: rules loaded like the other rules, bad input refused
with the place named, the register tied to the ledger."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import yaml

from billing.models import Deposit, DepositRuleSet
from core.extensions import db
from tests.billing.billing_fixtures import bill_households

DEMO_RULES = Path(__file__).resolve().parents[2] / "demo" / "rules" / "deposits.yaml"


def test_the_demo_rules_load_from_the_cli_and_a_dry_run_stores_nothing(app, runner):
    dry = runner.invoke(args=["deposits", "rules", str(DEMO_RULES), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "valid deposit rules; nothing was stored" in dry.output
    loaded = runner.invoke(args=["deposits", "rules", str(DEMO_RULES)])
    assert loaded.exit_code == 0, loaded.output
    with app.app_context():
        (row,) = db.session.scalars(sa.select(DepositRuleSet)).all()
        version = row.document["versions"][0]
        assert version["amount"]["average_bill"] == {
            "multiple": "2",
            "bills": 12,
            "minimum": "100.00",
        }


def test_a_wrong_rules_file_is_refused_naming_the_file_and_place(app, runner, tmp_path):
    document = yaml.safe_load(DEMO_RULES.read_text())
    document["versions"][0]["refund"]["method"] = "cash"
    path = tmp_path / "deposits.yaml"
    path.write_text(yaml.safe_dump(document))
    refused = runner.invoke(args=["deposits", "rules", str(path)])
    assert refused.exit_code != 0
    assert (
        f"{path}: versions[0].refund.method: must be one of credit, check, card" in refused.output
    )


def test_hold_apply_refund_and_tie_from_the_cli(app, runner):
    (olson,) = bill_households(app, "olson")
    held = runner.invoke(
        args=[
            "deposits", "hold", olson.number, "--amount", "40.00", "--held-since", "2026-01-05",
            "--offset-gl", "1010", "--source", "counter", "--reference", "R-77",
        ]
    )  # fmt: skip
    assert held.exit_code == 0, held.output
    assert f"$40.00 held for account {olson.number}" in held.output
    refused = runner.invoke(
        args=["deposits", "hold", olson.number, "--amount", "40.001", "--offset-gl", "1010",
              "--source", "counter"]
    )  # fmt: skip
    assert refused.exit_code != 0 and "amount:" in refused.output
    unknown = runner.invoke(
        args=["deposits", "hold", olson.number, "--amount", "40.00", "--offset-gl", "1999",
              "--source", "counter"]
    )  # fmt: skip
    assert (
        unknown.exit_code != 0 and "offset_gl_code: no active GL account '1999'" in unknown.output
    )
    applied = runner.invoke(args=["deposits", "apply", olson.invoice_number])
    assert applied.exit_code == 0, applied.output
    assert f"$40.00 of deposits applied to {olson.invoice_number}" in applied.output
    tie = runner.invoke(args=["deposits", "tie"])
    assert tie.exit_code == 0 and "Register $0.00 (0 held); GL 2020 $0.00: ties." in tie.output
    with app.app_context():
        (deposit,) = db.session.scalars(sa.select(Deposit)).all()
        assert (deposit.status.value, deposit.held_cents) == ("applied", 0)
    again = runner.invoke(
        args=["deposits", "refund", str(deposit.id), "--method", "check", "--reason", "moving"]
    )
    assert (
        again.exit_code != 0
        and f"deposit: deposit {deposit.id} is applied, not held" in again.output
    )


def test_the_api_loads_rules_and_lists_an_accounts_deposits(app, client, api_headers, runner):
    (olson,) = bill_households(app, "olson")
    writer, reader = api_headers("clerk"), api_headers("auditor")
    assert client.get("/api/v1/deposit-rules", headers=reader).status_code == 404
    document = yaml.safe_load(DEMO_RULES.read_text())
    document["versions"][0]["amount"] = {"fixed": 150}
    refused = client.post("/api/v1/deposit-rules", json=document, headers=writer)
    assert refused.status_code == 422
    assert "versions[0].amount.fixed" in refused.get_json()["errors"]
    document["versions"][0]["amount"] = {"fixed": "150.00"}
    loaded = client.post("/api/v1/deposit-rules", json=document, headers=writer)
    assert loaded.status_code == 200, loaded.get_json()
    shown = client.get("/api/v1/deposit-rules", headers=reader).get_json()
    assert shown["document"]["versions"][0]["amount"] == {"fixed": "150.00"}
    runner.invoke(
        args=["deposits", "hold", olson.number, "--amount", "150.00", "--held-since",
              "2026-01-05", "--offset-gl", "1010", "--source", "counter"]
    )  # fmt: skip
    (deposit,) = client.get(f"/api/v1/accounts/{olson.number}/deposits", headers=reader).get_json()
    assert (deposit["amount_cents"], deposit["held_cents"], deposit["status"]) == (
        15000,
        15000,
        "held",
    )
    assert deposit["held_since"] == "2026-01-05"
    assert client.get("/api/v1/accounts/00000000/deposits", headers=reader).status_code == 404
