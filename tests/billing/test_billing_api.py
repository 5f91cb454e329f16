"""The billing API: rules, imports, runs and invoices; every refusal in one error shape."""

import json
from datetime import date

import sqlalchemy as sa
import yaml

from accounts.models import Account, MeterReading
from billing.models import Invoice
from core.extensions import db
from ledger.balances import account_receivable
from tests.billing.billing_fixtures import RULES, bill_households, household, load_rules

NORMAL = [1000, 5000, 9000, 13000, 18400]


def _plan(name: str) -> dict:
    """A demo rule file as the JSON a client would send (dates as ISO strings)."""
    return json.loads(json.dumps(yaml.safe_load((RULES / f"{name}.yaml").read_text()), default=str))


def _town(app, registers=NORMAL):
    with app.app_context():
        plans = load_rules(db.session)
        household(db.session, plans, "olson", registers)
        db.session.commit()


def test_a_rate_plan_is_loaded_and_a_bad_one_is_refused_naming_the_place(client, api_headers):
    headers = api_headers("clerk")
    assert (
        client.post("/api/v1/rate-plans", json=_plan("water"), headers=headers).status_code == 200
    )
    shown = client.get("/api/v1/rate-plans/MF-WATER", headers=headers).get_json()
    assert shown["service_kind"] == "water" and len(shown["document"]["versions"]) == 2
    bad = _plan("water")
    bad["versions"][0]["components"][1]["blocks"][1]["up_to"] = 2
    response = client.post("/api/v1/rate-plans", json=bad, headers=headers)
    assert response.status_code == 422
    ((place, messages),) = response.get_json()["errors"].items()
    assert place == "versions[0].components[1].blocks[1].up_to" and messages


def test_imports_take_csv_bodies_and_report_every_bad_row(app, client, api_headers):
    headers = {**api_headers("clerk"), "Content-Type": "text/csv"}
    body = "holder_name,mail_street,mail_city,mail_state,mail_zip\nAna Lopez,1 Elm,Maple Falls,WI,5490\n"
    response = client.post("/api/v1/imports/accounts", data=body, headers=headers)
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": {
            "rows": ["row 2, mail_zip: Use a ZIP code like 54901 or 54901-1234. (got '5490')"]
        }
    }
    fixed = body.replace(",5490\n", ",54901\n")
    dry = client.post(
        "/api/v1/imports/accounts?dry_run=true", data=fixed, headers=headers
    ).get_json()
    assert dry == {"kind": "accounts", "rows": 1, "created": 1, "updated": 0, "dry_run": True}
    assert client.post("/api/v1/imports/accounts", data=fixed, headers=headers).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 1
    assert client.post("/api/v1/imports/meters", data=fixed, headers=headers).status_code == 404


def test_a_run_is_previewed_then_posted_then_the_invoice_explains_itself(app, client, api_headers):
    _town(app)
    headers = api_headers("clerk")
    request = {
        "kind": "utility",
        "cycle": "2026-10",
        "issue_date": "2026-11-02",
        "due_date": "2026-11-23",
    }
    preview = client.post("/api/v1/billing-runs", json=request, headers=headers).get_json()
    assert preview["status"] == "previewed" and preview["report"]["invoices"] == 1
    assert preview["report"]["total_cents"] == 10784
    posted = client.post(f"/api/v1/billing-runs/{preview['id']}/post", headers=headers).get_json()
    assert posted["status"] == "posted" and posted["invoices_posted"] == 1
    again = client.post(f"/api/v1/billing-runs/{preview['id']}/post", headers=headers).get_json()
    assert again["invoices_posted"] == 1
    listed = client.get(
        "/api/v1/invoices?status=open&kind=utility", headers=api_headers("auditor")
    ).get_json()
    assert [i["total_cents"] for i in listed] == [10784]
    detail = client.get(f"/api/v1/invoices/{listed[0]['number']}", headers=headers).get_json()
    assert sum(line["amount_cents"] for line in detail["lines"]) == detail["total_cents"]
    assert (
        detail["lines"][1]["quantity"] == "3.0000"
        and detail["lines"][1]["unit_rate"] == "4.44000000"
    )


def test_bad_run_requests_are_named(client, api_headers):
    headers = api_headers("clerk")
    response = client.post(
        "/api/v1/billing-runs",
        json={"kind": "water", "cycle": "Oct", "issue_date": "x"},
        headers=headers,
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"kind", "cycle", "issue_date", "due_date"}


def test_only_a_supervisor_voids_and_the_reason_is_required(app, client, api_headers):
    _town(app, [1000, 5000, 9000, 13000, 81000])
    clerk = api_headers("clerk")
    run = client.post(
        "/api/v1/billing-runs",
        json={
            "kind": "utility",
            "cycle": "2026-10",
            "issue_date": "2026-11-02",
            "due_date": "2026-11-23",
        },
        headers=clerk,
    ).get_json()
    client.post(f"/api/v1/billing-runs/{run['id']}/post", headers=clerk)
    with app.app_context():
        number = db.session.scalar(sa.select(Invoice.number))
    assert (
        client.post(
            f"/api/v1/invoices/{number}/void", json={"reason": "misread"}, headers=clerk
        ).status_code
        == 403
    )
    supervisor = api_headers("supervisor")
    assert (
        client.post(f"/api/v1/invoices/{number}/void", json={}, headers=supervisor).status_code
        == 422
    )
    voided = client.post(
        f"/api/v1/invoices/{number}/void", json={"reason": "misread meter"}, headers=supervisor
    )
    assert voided.status_code == 200 and voided.get_json()["status"] == "void"
    with app.app_context():
        db.session.execute(
            sa.update(MeterReading).where(MeterReading.reading == 81000).values(reading=18400)
        )
        db.session.commit()
    reissued = client.post(f"/api/v1/invoices/{number}/reissue", headers=supervisor)
    assert reissued.status_code == 201
    assert reissued.get_json()["replaces"] == number and reissued.get_json()["total_cents"] == 10784
    memo = client.post(
        f"/api/v1/invoices/{reissued.get_json()['number']}/credit-memos",
        json={"amount_cents": 99999, "reason": "goodwill"},
        headers=supervisor,
    )
    assert memo.status_code == 422 and "amount_cents" in memo.get_json()["errors"]


def test_the_openapi_document_lists_the_billing_api(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/rate-plans",
        "/api/v1/levies",
        "/api/v1/penalty-rules",
        "/api/v1/imports/{kind}",
        "/api/v1/billing-runs",
        "/api/v1/billing-runs/{run_id}/post",
        "/api/v1/invoices/{number}",
        "/api/v1/parcels",
        "/api/v1/readings",
        "/api/v1/penalties/assess",
    ):
        assert path in paths, path


def test_a_meter_without_a_read_in_the_month_is_an_exception_not_a_crash(app, client, api_headers):
    with app.app_context():
        plans = load_rules(db.session)
        billed = household(db.session, plans, "olson", NORMAL).number
        # one read, in September, and none in October: nothing to bill and nothing to estimate from
        held = household(db.session, plans, "nguyen", [None, None, None, 13000, None]).number
        db.session.commit()
    headers = api_headers("clerk")
    request = {
        "kind": "utility",
        "cycle": "2026-10",
        "issue_date": "2026-11-02",
        "due_date": "2026-11-23",
    }
    response = client.post("/api/v1/billing-runs", json=request, headers=headers)
    assert response.status_code == 200, response.text
    report = response.get_json()["report"]
    assert (report["invoices"], report["held"]) == (1, 1)
    assert [(e["account"], e["meter"], e["code"], e["held"]) for e in report["exceptions"]] == [
        (held, "W-nguyen", "missing_reading", True),
        (held, "W-nguyen", "no_history", True),
    ]
    assert all(e["note"] for e in report["exceptions"])
    run_id = response.get_json()["id"]
    posted = client.post(f"/api/v1/billing-runs/{run_id}/post", headers=headers)
    assert posted.status_code == 200 and posted.get_json()["invoices_posted"] == 1
    with app.app_context():
        assert db.session.scalars(sa.select(Account.number).join(Invoice)).all() == [billed]


def test_an_accounts_balance_is_its_position_by_class_on_the_day_asked(app, client, api_headers):
    (billed,) = bill_households(app, "abara")
    auditor = api_headers("auditor")
    before = client.get(
        f"/api/v1/accounts/{billed.number}/balance?as_of=2026-11-01", headers=auditor
    )
    assert before.status_code == 200
    assert before.get_json()["receivable_cents"] == 0 and before.get_json()["classes"] == []
    late = client.get(f"/api/v1/accounts/{billed.number}/balance?as_of=2026-12-03", headers=auditor)
    body = late.get_json()
    assert body["receivable_cents"] == billed.owed_cents == body["past_due_cents"]
    assert body["days_past_due"] == 10  # due November 23
    assert {c["service"] for c in body["classes"]} == {"water", "sewer", "trash"}
    assert sum(c["owed_cents"] for c in body["classes"]) == billed.owed_cents
    with app.app_context():
        account_id = db.session.scalar(sa.select(Account.id).where(Account.number == billed.number))
        assert body["receivable_cents"] == account_receivable(
            db.session, account_id, date(2026, 12, 3)
        )
    missing = client.get("/api/v1/accounts/99999997/balance", headers=auditor)
    assert missing.status_code == 404
    bad = client.get(f"/api/v1/accounts/{billed.number}/balance?as_of=yesterday", headers=auditor)
    assert bad.status_code == 422 and "as_of" in bad.get_json()["errors"]
