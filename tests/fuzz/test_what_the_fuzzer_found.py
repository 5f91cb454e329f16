"""What fuzzing the API found, each pinned as a plain request: these answered 500 (or broke
the API's own description) before they were fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.calendar import town_today
from core.extensions import db
from notices.models import Notice, NoticeBatch
from tests.billing.billing_fixtures import bill_households
from tests.conftest import account_data
from tests.fuzz.town import build_town

#: Far beyond any row: 2**70 does not even fit the databases' BIGINT.
BEYOND = 2**70
REASON = {"reason": "fuzzed request"}

LISTS = [
    "/api/v1/accounts",
    "/api/v1/audit-events",
    "/api/v1/job-runs",
    "/api/v1/readings?meter_id=M-1",
    "/api/v1/billing-runs",
    "/api/v1/invoices",
    "/api/v1/webhook-events",
]


def test_a_page_far_past_the_last_is_empty_not_an_error(client, api_headers):
    headers = api_headers("auditor")
    answers = {}
    for path in LISTS:
        query = f"page={10**18}&page_size=100"
        response = client.get(
            f"{path}&{query}" if "?" in path else f"{path}?{query}", headers=headers
        )
        answers[path] = (response.status_code, response.get_json())
    assert answers == {path: (200, []) for path in LISTS}


def test_job_runs_filtered_by_a_status_that_does_not_exist_are_refused_by_name(client, api_headers):
    response = client.get("/api/v1/job-runs?status=receipt", headers=api_headers("auditor"))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["status"]
    done = client.get("/api/v1/job-runs?status=succeeded", headers=api_headers("auditor"))
    assert done.status_code == 200


BY_ID = [
    ("GET", "/api/v1/levies/{id}", None),
    ("GET", "/api/v1/billing-runs/{id}", None),
    ("POST", "/api/v1/billing-runs/{id}/post", None),
    ("POST", "/api/v1/drawers/{id}/close", {"counted_cents": {}}),
    ("GET", "/api/v1/payments/{id}", None),
    ("POST", "/api/v1/payments/{id}/refunds", {"amount_cents": 100, **REASON}),
    ("POST", "/api/v1/payments/{id}/void", REASON),
    ("POST", "/api/v1/reconciliation-items/{id}/resolve", {"resolution": "fuzzed request"}),
    ("GET", "/api/v1/notices/{id}/pdf", None),
    ("POST", "/api/v1/refunds/{id}/notice", {}),
    ("GET", "/api/v1/notice-batches/{id}/pdf", None),
    ("POST", "/api/v1/notice-batches/{id}/mailed", None),
    ("POST", "/api/v1/reminder-pauses/{id}/resume", None),
]


def test_an_id_no_row_can_have_is_not_found(client, api_headers):
    headers = api_headers("admin")
    answers = {}
    for method, path, body in BY_ID:
        response = client.open(path.format(id=BEYOND), method=method, json=body, headers=headers)
        answers[f"{method} {path}"] = (response.status_code, list(response.get_json()["errors"]))
    assert answers == {f"{method} {path}": (404, ["_request"]) for method, path, _ in BY_ID}


def import_accounts(client, api_headers, data: bytes):
    """Send a file to the accounts import (a dry run)."""
    headers = {**api_headers("clerk"), "Content-Type": "text/csv"}
    return client.post("/api/v1/imports/accounts?dry_run=true", data=data, headers=headers)


HEADER = "holder_name,mail_street,mail_city,mail_state,mail_zip"


@pytest.mark.parametrize(
    ("data", "row"),
    [
        ("\x8c\rP\x9f<'^\x03\xc1", 1),  # what the fuzzer sent (a 500 then): a CR inside a field
        ('"' + "x" * 200_000, 1),  # a header field longer than the csv module reads
        (f"{HEADER}\n" + '"' + "x" * 200_000, 2),  # and a row's
    ],
)
def test_a_file_that_is_not_an_accounts_csv_is_refused_naming_the_row(
    client, api_headers, data, row
):
    response = import_accounts(client, api_headers, data.encode())
    assert response.status_code == 422
    messages = response.get_json()["errors"]["rows"]
    assert messages and all(m.startswith(f"row {row}") for m in messages), messages


def test_a_file_with_bare_carriage_returns_between_rows_imports(client, api_headers):
    data = f"{HEADER}\rAna Ruiz,1 Elm St,Maple Falls,WI,54901\r"
    response = import_accounts(client, api_headers, data.encode())
    assert response.status_code == 200
    assert response.get_json()["rows"] == 1


def test_penalties_are_not_assessed_for_a_day_still_to_come(app, client, api_headers):
    bill_households(app, "olson")  # with the demo penalty rules
    with app.app_context():
        tomorrow = town_today(app.config) + timedelta(days=1)
    response = client.post(
        "/api/v1/penalties/assess",
        json={"as_of": "9999-12-31", "dry_run": True},
        headers=api_headers("clerk"),
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["as_of"]
    response = client.post(
        "/api/v1/penalties/assess",
        json={"as_of": tomorrow.isoformat()},
        headers=api_headers("clerk"),
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM invoice_charge")) == 0


def test_invoice_lines_describe_their_decimal_quantity_and_rate_as_strings(
    app, client, api_headers
):
    [billed] = bill_households(app, "olson")
    line = client.get(
        f"/api/v1/invoices/{billed.invoice_number}", headers=api_headers("auditor")
    ).get_json()["lines"][0]
    spec = client.get("/api/v1/openapi.json").get_json()
    described = spec["components"]["schemas"]["InvoiceLine"]["properties"]
    for name in ("quantity", "unit_rate"):
        assert isinstance(line[name], str)
        assert described[name]["type"] == "string"


def test_each_file_download_answers_with_a_media_type_its_description_names(
    app, client, api_headers
):
    build_town(app)
    headers = api_headers("auditor")
    with app.app_context():
        notice_id = db.session.scalar(sa.select(Notice.id))
        batch_id = db.session.scalar(sa.select(NoticeBatch.id))
    paths = {
        "/api/v1/notices/{notice_id}/pdf": f"/api/v1/notices/{notice_id}/pdf",
        "/api/v1/notice-batches/{batch_id}/pdf": f"/api/v1/notice-batches/{batch_id}/pdf",
        "/api/v1/notice-batches/{batch_id}/manifest": f"/api/v1/notice-batches/{batch_id}/manifest",
        **{
            f"/api/v1/exports/{{dataset}} as {kind}": f"/api/v1/exports/ledger?format={kind}"
            for kind in ("csv", "xlsx", "jsonl")
        },
    }
    described = client.get("/api/v1/openapi.json").get_json()["paths"]
    for template, path in paths.items():
        response = client.get(path, headers=headers, buffered=True)
        documented = described[template.split(" as ")[0]]["get"]["responses"]["200"]["content"]
        assert response.status_code == 200, path
        assert response.mimetype in documented, (path, response.mimetype, list(documented))


def test_a_tax_year_no_levy_can_have_is_not_found_however_large(client, api_headers):
    headers = api_headers("auditor")
    years = [1899, 2201, 2**31, 2**63 - 1]
    answers = [client.get(f"/api/v1/levies/{year}", headers=headers).status_code for year in years]
    assert answers == [404] * len(years)


def test_text_with_a_nul_character_is_refused_naming_where_it_was(app, client, api_headers):
    headers = api_headers("clerk")
    created = client.post(
        "/api/v1/accounts", json=account_data(holder_name="Ana\x00Ruiz"), headers=headers
    )
    listed = client.get("/api/v1/invoices?account=%00&status=open", headers=headers)
    shown = client.get("/api/v1/accounts/1000%00", headers=headers)
    imported = import_accounts(client, api_headers, b"holder_name\nAna\x00Ruiz\n")
    answers = [(r.status_code, list(r.get_json()["errors"])) for r in (created, listed, shown)]
    assert answers == [(422, ["holder_name"]), (422, ["account"]), (422, ["number"])]
    assert (imported.status_code, list(imported.get_json()["errors"])) == (422, ["_request"])
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM account")) == 0
    anonymous = client.get("/api/v1/invoices?account=%00")
    assert anonymous.status_code == 401
