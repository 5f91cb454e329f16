"""/api/v1/service-orders and friends: orders carried out at once, refusals as field messages."""

from __future__ import annotations

import sqlalchemy as sa

from accounts.locations import ServiceOrder
from billing.models import Invoice
from core.extensions import db
from tests.billing.order_fixtures import rented_house, two_houses

FORWARDING = {"street": "88 Harbor Rd", "city": "Duluth", "state": "MN", "zip": "55802"}


def _house(app, both: bool = False):
    with app.app_context():
        houses = two_houses(db.session) if both else (rented_house(db.session),)
        facts = [
            {"location": h.location.id, "tenant": h.tenant.number, "owner": h.landlord.number}
            for h in houses
        ]
        db.session.commit()
    return facts


def test_a_clerk_enters_a_stop_and_the_final_bill_is_posted(app, client, api_headers):
    (house,) = _house(app)
    answer = client.post(
        "/api/v1/service-orders",
        json={
            "kind": "stop",
            "location_id": house["location"],
            "account": house["tenant"],
            "effective_on": "2026-11-15",
            "reading": 20000,
            "forwarding": FORWARDING,
        },
        headers=api_headers("clerk"),
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "confirmed"
    with app.app_context():
        final = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == answer.json["final_invoice"])
        )
        assert final.is_final and final.total_cents == 3080
    location = client.get(
        f"/api/v1/service-locations/{house['location']}", headers=api_headers("auditor")
    ).json
    assert [r["account"] for r in location["responsibilities"]] == [house["tenant"], house["owner"]]
    assert location["responsibilities"][0]["ends_on"] == "2026-11-15"


def test_a_stop_within_a_billed_period_is_refused_under_its_field(app, client, api_headers):
    (house,) = _house(app)
    answer = client.post(
        "/api/v1/service-orders",
        json={
            "kind": "stop",
            "location_id": house["location"],
            "account": house["tenant"],
            "effective_on": "2026-10-20",
        },
        headers=api_headers("clerk"),
    )
    assert answer.status_code == 422
    assert "within the period already billed" in answer.json["errors"]["effective_on"][0]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceOrder)) == 0


def test_unknown_accounts_and_bad_readings_are_refused_naming_the_field(app, client, api_headers):
    (house,) = _house(app)
    body = {"kind": "stop", "location_id": house["location"], "effective_on": "2026-11-15"}
    unknown = client.post(
        "/api/v1/service-orders", json={**body, "account": "99999997"}, headers=api_headers("clerk")
    )
    assert unknown.status_code == 422
    assert unknown.json["errors"]["account"] == ["no account 99999997"]
    negative = client.post(
        "/api/v1/service-orders",
        json={**body, "account": house["tenant"], "reading": -5},
        headers=api_headers("clerk"),
    )
    assert negative.status_code == 422, negative.json
    assert "reading" in str(negative.json["errors"])


def test_an_auditor_reads_orders_but_cannot_enter_one(app, client, api_headers):
    (house,) = _house(app)
    answer = client.post(
        "/api/v1/service-orders",
        json={
            "kind": "stop",
            "location_id": house["location"],
            "account": house["tenant"],
            "effective_on": "2026-11-15",
        },
        headers=api_headers("auditor"),
    )
    assert answer.status_code == 403
    assert client.get("/api/v1/service-orders", headers=api_headers("auditor")).json == []


def test_a_transfer_then_the_final_balance_follows_the_household(app, client, api_headers):
    old, new = _house(app, both=True)
    moved = client.post(
        "/api/v1/service-orders",
        json={
            "kind": "transfer",
            "location_id": old["location"],
            "new_location_id": new["location"],
            "account": old["tenant"],
            "holder_name": "Olson household",
            "effective_on": "2026-11-15",
            "reading": 20000,
            "forwarding": FORWARDING,
        },
        headers=api_headers("clerk"),
    ).json
    answer = client.post(
        f"/api/v1/invoices/{moved['final_invoice']}/balance-transfers",
        json={"to_account": moved["new_account"], "reason": "Same household, moved in town"},
        headers=api_headers("clerk"),
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["amount_cents"] == 3080
    balance = client.get(
        f"/api/v1/accounts/{moved['new_account']}/balance", headers=api_headers("auditor")
    ).json
    assert balance["receivable_cents"] == 3080
    closed = client.post(
        f"/api/v1/invoices/{moved['final_invoice']}/balance-transfers",
        json={"to_account": moved["new_account"], "reason": "again"},
        headers=api_headers("clerk"),
    )
    assert closed.status_code == 422 and "owes nothing" in closed.json["errors"]["invoice"][0]
