"""The smaller holes: a search that takes its wildcards literally, pages and files no cache
keeps, no demo town where it would open a published password, 405s that say what is allowed."""

from __future__ import annotations

import pytest

from tests.billing.billing_fixtures import bill_households
from tests.portal.conftest import quick_pay


def test_the_account_search_takes_wildcards_as_typed(app, api_headers):
    bill_households(app, "percy", "underwood")
    client = app.test_client()
    auditor = api_headers("auditor")
    for wildcard in ("%", "_", "%e%"):
        found = client.get(f"/api/v1/accounts?q={wildcard}", headers=auditor)
        assert found.status_code == 200 and found.get_json() == [], wildcard
    assert len(client.get("/api/v1/accounts?q=perc", headers=auditor).get_json()) == 1


@pytest.mark.parametrize("path", ["/signin", "/register", "/reset", "/pay", "/login"])
def test_sign_in_pages_are_kept_by_no_cache(client, path):
    answer = client.get(path)
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]


def test_a_residents_bill_pdf_is_kept_by_no_cache(app):
    (billed,) = bill_households(app, "quinn")
    client = app.test_client()
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    pdf = client.get(f"/my/bills/{billed.invoice_number}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "no-store" in pdf.headers["Cache-Control"] and "no-cache" not in pdf.headers[
        "Cache-Control"
    ].replace("no-store", "")


def test_the_demo_town_is_not_loaded_in_production(app, runner):
    app.config["MUNIBILL_ENV"] = "production"
    loaded = runner.invoke(args=["demo", "load"])
    assert loaded.exit_code != 0 and "MUNIBILL_ENV=production" in loaded.output


def test_a_405_names_the_methods_the_address_takes(client, api_headers):
    answer = client.delete("/api/v1/ledger/trial-balance", headers=api_headers("clerk"))
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET"}
    page = client.put("/pay")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]
