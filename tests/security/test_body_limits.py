"""Request bodies have a limit: a body over it is refused (413) before anything reads it, in the
app's error shape, while the readings upload and the CSV import keep the room they need."""

from __future__ import annotations

import io

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from core.extensions import db
from payments.models import StripeEvent
from tests.conftest import csrf_token
from tests.payments.signing import deliver

MB = 1024 * 1024


def test_a_signed_webhook_of_five_megabytes_is_refused_and_not_stored(app, client):
    event = {
        "id": "evt_huge",
        "object": "event",
        "type": "customer.updated",
        "created": 1_795_000_000,
        "data": {"object": {"id": "cus_1", "object": "customer", "description": "x" * 5 * MB}},
    }
    answer = deliver(client, event)
    assert answer.status_code == 413
    assert answer.is_json and list(answer.get_json()["errors"]) == ["_request"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 0


def test_an_api_body_over_the_limit_is_refused_as_json(client, api_headers):
    answer = client.post(
        "/api/v1/drawers",
        json={"opening_float_cents": 0, "note": "x" * MB},
        headers=api_headers("clerk"),
    )
    assert answer.status_code == 413
    assert answer.is_json and list(answer.get_json()["errors"]) == ["_request"]


def test_a_staff_form_over_the_limit_is_refused_with_a_page(signed_in):
    clerk = signed_in("clerk")
    page = clerk.get("/staff/counter/").text
    answer = clerk.post(
        "/staff/counter/open",
        data={"csrf_token": csrf_token(page), "opening_float": "1" * (2 * MB)},
    )
    assert answer.status_code == 413
    assert answer.mimetype == "text/html" and "<html" in answer.text


def test_the_limits_are_settings(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 1 * MB
    assert app.config["WEBHOOK_MAX_CONTENT_LENGTH"] < app.config["MAX_CONTENT_LENGTH"]
    assert app.config["UPLOAD_MAX_CONTENT_LENGTH"] > 20 * MB


def test_a_readings_file_larger_than_a_form_still_uploads(signed_in):
    clerk = signed_in("clerk")
    page = clerk.get("/staff/billing-runs/").text
    text = "meter_serial,read_on,reading\n" + "\n" * (3 * MB)
    # NOTE: the form is encoded here, in memory, as a browser sends it (the test client's own
    # encoding of a file this large leaves a temporary file open).
    boundary, body = encode_multipart(
        {"csrf_token": csrf_token(page), "file": FileStorage(io.BytesIO(text.encode()), "r.csv")}
    )
    answer = clerk.post(
        "/staff/billing-runs/readings",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert answer.status_code != 413
    assert "larger than" not in answer.text


def test_a_csv_import_larger_than_a_form_still_loads(client, api_headers):
    text = "meter_serial,read_on,reading\n" + "\n" * (3 * MB)
    answer = client.post(
        "/api/v1/imports/readings?dry_run=true",
        data=text.encode(),
        headers={**api_headers("clerk"), "Content-Type": "text/csv"},
    )
    assert answer.status_code != 413
