"""The billing API: rules, imports, runs and invoices; every refusal in one error shape."""

import json

import sqlalchemy as sa
import yaml

from billing.models import Account, Invoice, MeterReading
from core.extensions import db
from tests.billing.billing_fixtures import RULES, household, load_rules

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
