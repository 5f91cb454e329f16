"""/api/v1/billing-cycles, /api/v1/service-kinds and runs of a cycle's period through the API."""

import sqlalchemy as sa

from billing.models import Invoice
from core.extensions import db
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import trash_household

CYCLES = "/api/v1/billing-cycles"


def test_a_cycle_is_created_given_periods_and_accounts_and_its_period_billed(
    app, client, api_headers
):
    headers = api_headers("clerk")
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        number = trash_household(db.session, trash, "api").number
        db.session.commit()
    made = client.post(
        CYCLES,
        json={"code": "b2", "name": "Bimonthly east", "frequency": "bimonthly"},
        headers=headers,
    )
    assert made.status_code == 201 and made.get_json()["code"] == "B2"
    calendar = client.post(
        f"{CYCLES}/B2/calendar",
        json={"first_start": "2026-09-01", "until": "2026-12-31", "due_days_after_bill": 20},
        headers=headers,
    )
    assert calendar.status_code == 200, calendar.get_json()
    assert [(p["period_start"], p["period_end"]) for p in calendar.get_json()["periods"]] == [
        ("2026-09-01", "2026-10-31"),
        ("2026-11-01", "2026-12-31"),
    ]
    overlap = client.post(
        f"{CYCLES}/B2/periods",
        json={
            "periods": [
                {
                    "period_start": "2026-10-15",
                    "period_end": "2026-10-31",
                    "read_date": "2026-10-31",
                    "bill_date": "2026-11-01",
                    "due_date": "2026-11-20",
                }
            ]
        },
        headers=headers,
    )
    assert overlap.status_code == 422
    assert (
        "overlaps stored period 2026-09-01..2026-10-31"
        in overlap.get_json()["errors"]["periods.0"][0]
    )
    missing = client.post(f"{CYCLES}/B2/accounts", json={"accounts": ["99999997"]}, headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["errors"] == {"accounts.0": ["no account 99999997"]}
    moved = client.post(f"{CYCLES}/B2/accounts", json={"accounts": [number]}, headers=headers)
    assert moved.get_json() == {"cycle": "B2", "moved": 1, "accounts": 1}
    due = client.get(f"{CYCLES}/due?through=2026-11-07", headers=headers).get_json()
    assert [(p["cycle"], p["period_start"]) for p in due] == [("B2", "2026-09-01")]
    run = client.post(
        "/api/v1/billing-runs",
        json={
            "kind": "utility",
            "billing_cycle": "B2",
            "period_start": "2026-09-01",
            "issue_date": "2026-11-01",
            "due_date": "2026-11-21",
        },
        headers=headers,
    ).get_json()
    assert run["report"]["invoices"] == 1 and run["report"]["total_cents"] == 2 * 1825
    assert client.post(f"/api/v1/billing-runs/{run['id']}/post", headers=headers).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Invoice.total_cents)) == 3650
    wrong = client.post(
        "/api/v1/billing-runs",
        json={
            "kind": "utility",
            "billing_cycle": "B2",
            "period_start": "2026-09-02",
            "issue_date": "2026-11-01",
            "due_date": "2026-11-21",
        },
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.get_json()["errors"] == {
        "period_start": ["cycle B2 has no period starting 2026-09-02"]
    }
    assert client.get(f"{CYCLES}/NOPE", headers=headers).status_code == 404
    auditor = client.post(
        CYCLES,
        json={"code": "X", "name": "X", "frequency": "monthly"},
        headers=api_headers("auditor"),
    )
    assert auditor.status_code == 403


def test_cycle_csv_imports_refuse_an_overlapping_calendar_naming_the_rows(client, api_headers):
    headers = {**api_headers("clerk"), "Content-Type": "text/csv"}
    body = (
        "cycle,name,frequency,period_start,period_end,read_date,bill_date,due_date\n"
        "R9,Route 9,custom,2026-10-01,2026-11-15,2026-11-15,2026-11-17,2026-12-08\n"
        "R9,,,2026-11-15,2026-12-31,2026-12-31,2027-01-04,2027-01-25\n"
    )
    refused = client.post(f"{CYCLES}/imports/calendars", data=body, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["rows"] == [
        "row 3: the period 2026-11-15..2026-12-31 overlaps row 2 (2026-10-01..2026-11-15)"
    ]
    fixed = body.replace("R9,,,2026-11-15", "R9,,,2026-11-16")
    done = client.post(f"{CYCLES}/imports/calendars", data=fixed, headers=headers)
    assert done.status_code == 200 and done.get_json()["rows"] == 2


def test_a_service_kind_is_added_by_a_supervisor_with_its_gl_accounts(client, api_headers):
    body = {"code": "irrigation", "name": "Irrigation", "metered": True}
    clerk = client.post("/api/v1/service-kinds", json=body, headers=api_headers("clerk"))
    assert clerk.status_code == 403
    headers = api_headers("supervisor")
    added = client.post("/api/v1/service-kinds", json=body, headers=headers)
    assert added.status_code == 201
    shown = added.get_json()
    assert shown["metered"] is True and shown["revenue_gl"].startswith("40")
    assert shown["receivable_gl"].startswith("11")
    again = client.post("/api/v1/service-kinds", json=body, headers=headers)
    assert again.get_json()["errors"] == {"code": ["service irrigation already exists"]}
    wrong = client.post(
        "/api/v1/service-kinds",
        json={"code": "fire_line", "name": "Fire line", "receivable_gl": shown["revenue_gl"]},
        headers=headers,
    )
    assert wrong.status_code == 422 and "receivable_gl" in wrong.get_json()["errors"]
    codes = [k["code"] for k in client.get("/api/v1/service-kinds", headers=headers).get_json()]
    assert "irrigation" in codes and "water" in codes
