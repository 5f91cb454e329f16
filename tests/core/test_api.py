"""The API skeleton: one error shape, OpenAPI, health and readiness."""

import sqlalchemy as sa

from core.extensions import db
from tests.conftest import account_data


def test_a_bad_payload_gets_field_messages_and_changes_nothing(app, client, api_headers):
    headers = api_headers("clerk")
    bad = account_data(mail_zip="ABCDE", mail_state="Wisconsin", email="not-an-address")
    del bad["holder_name"]
    response = client.post("/api/v1/accounts", json=bad, headers=headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"holder_name", "mail_zip", "mail_state", "email"}
    assert errors["mail_zip"] == ["Use a ZIP code like 54901 or 54901-1234."]
    assert all(isinstance(m, list) and m for m in errors.values())
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM account")) == 0
        assert db.session.scalar(sa.text("SELECT count(*) FROM number_series")) == 0


def test_an_unknown_field_is_named(client, api_headers):
    response = client.post(
        "/api/v1/accounts", json=account_data(balance_cents=0), headers=api_headers("clerk")
    )
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"balance_cents": ["Unknown field."]}}


def test_malformed_json_is_a_400_in_the_same_shape(client, api_headers):
    headers = {**api_headers("clerk"), "Content-Type": "application/json"}
    response = client.post("/api/v1/accounts", data="{not json", headers=headers)
    assert response.status_code == 400
    assert list(response.get_json()) == ["errors"]


def test_a_clerk_creates_an_account_with_a_check_digit_and_an_access_code(client, api_headers):
    response = client.post("/api/v1/accounts", json=account_data(), headers=api_headers("clerk"))
    assert response.status_code == 201
    body = response.get_json()
    from core.checkdigit import is_valid_luhn

    assert len(body["number"]) == 8 and is_valid_luhn(body["number"])
    assert len(body["access_code"]) == 11 and body["access_code"][5] == "-"
    shown = client.get(f"/api/v1/accounts/{body['number']}", headers=api_headers("auditor"))
    assert shown.get_json()["holder_name"] == "Maria Olson"
    assert "access_code" not in shown.get_json()


def test_an_auditor_token_cannot_create_or_change(app, client, api_headers, session_account):
    headers = api_headers("auditor")
    assert client.post("/api/v1/accounts", json=account_data(), headers=headers).status_code == 403
    response = client.patch(
        f"/api/v1/accounts/{session_account}", json={"phone": "555-0101"}, headers=headers
    )
    assert response.status_code == 403
    assert response.get_json()["errors"]["_request"]
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM account")) == 1
        assert db.session.scalar(sa.text("SELECT phone FROM account")) is None


def test_no_token_is_a_401_with_a_challenge(client):
    response = client.get("/api/v1/accounts")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "errors" in response.get_json()


def test_an_unknown_account_is_a_404_naming_it(client, api_headers):
    response = client.get("/api/v1/accounts/12345678", headers=api_headers("clerk"))
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"_request": ["No account 12345678."]}}


def test_a_patch_changes_only_what_was_sent_and_is_audited(
    app, client, api_headers, session_account
):
    response = client.patch(
        f"/api/v1/accounts/{session_account}",
        json={"phone": "(920) 555-0101"},
        headers=api_headers("clerk"),
    )
    assert response.status_code == 200
    assert response.get_json()["mail_zip"] == "54901-2231"
    with app.app_context():
        summary = db.session.scalar(
            sa.text("SELECT summary FROM audit_event WHERE action = 'account.update'")
        )
    assert "555-0101" in str(summary)


def test_accounts_are_listed_with_pagination(client, api_headers, session_account):
    response = client.get(
        "/api/v1/accounts?q=maria&page=1&page_size=10", headers=api_headers("auditor")
    )
    assert response.status_code == 200
    assert [a["number"] for a in response.get_json()] == [session_account]
    assert '"total": 1' in response.headers["X-Pagination"]


def test_the_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/accounts" in spec["paths"]
    assert "/api/v1/ledger/trial-balance" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "errors" in spec["components"]["schemas"]["Error"]["properties"]


def test_the_browsable_reference_is_served_without_any_outside_host(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


def test_healthz_and_readyz_answer_when_the_database_is_current(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "reachable"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


def test_readyz_says_migrations_are_pending_when_the_database_is_behind(app, client):
    with app.app_context():
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'older'"))
        db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["status"] == "migrations pending"
    finally:
        with app.app_context():
            from core.api import migration_heads

            (head,) = migration_heads()
            db.session.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            db.session.commit()


def test_an_unknown_api_path_is_a_json_404(client, api_headers):
    assert (
        client.get("/api/v1/nothing-here").status_code == 401
    )  # nothing is revealed without a token
    response = client.get("/api/v1/nothing-here", headers=api_headers("auditor"))
    assert response.status_code == 404
    assert "errors" in response.get_json()


def test_a_change_the_database_refuses_is_a_409_and_writes_nothing(
    app, client, api_headers, session_account
):
    with app.app_context():  # a damaged number series would hand out the same number again
        db.session.execute(
            sa.text("UPDATE number_series SET last_number = 0 WHERE series = 'account'")
        )
        db.session.commit()
    response = client.post(
        "/api/v1/accounts", json=account_data(holder_name="Second"), headers=api_headers("clerk")
    )
    assert response.status_code == 409
    assert response.get_json()["errors"]["_request"]
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM account")) == 1
        assert (
            db.session.scalar(
                sa.text("SELECT count(*) FROM audit_event WHERE action = 'account.create'")
            )
            == 1
        )


def test_an_anonymous_request_is_refused_before_its_body_is_read(client):
    response = client.post("/api/v1/accounts", json={"mail_zip": "bad"})
    assert response.status_code == 401
    assert "mail_zip" not in response.get_json()["errors"]
