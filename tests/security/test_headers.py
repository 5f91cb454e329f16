"""Security headers on every kind of answer: HTML pages, API JSON, PDFs, static files and
error pages (400, 401, 404, 405, 429, 500), with HSTS in production and only there."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.billing.billing_fixtures import bill_households
from tests.conftest import sign_in
from tests.portal.conftest import quick_pay
from tests.security.conftest import https_client

HSTS_MIN_SECONDS = 180 * 24 * 3600


def answers(app: Flask, client: FlaskClient, make_staff, api_headers) -> dict[str, object]:
    """One answer of each kind, by what it is."""

    @app.route("/staff/raises-on-purpose")
    def raises_on_purpose():
        raise RuntimeError("a bug, on purpose")

    (home,) = bill_households(app, "olson")
    found = {
        "quick pay page": client.get("/pay"),
        "health check": client.get("/healthz"),
        "API docs page": client.get("/api/v1/docs"),
        "API JSON": client.get("/api/v1/me", headers=api_headers("auditor")),
        "API 401": client.get("/api/v1/me"),
        "API 404": client.get("/api/v1/nothing-here", headers=api_headers("auditor")),
        "static file": client.get("/portal/static/" + static_file(app)),
        "404 page": client.get("/nothing-here"),
        "405 page": client.get("/logout"),
        "400 CSRF page": client.post("/pay", data={}),
    }
    found["API 403"] = client.post("/api/v1/accounts", json={}, headers=api_headers("auditor"))
    assert quick_pay(client, home.number, home.access_code).status_code == 303
    found["resident's bill page"] = client.get("/my/bill")
    found["bill PDF"] = client.get(f"/my/bills/{home.invoice_number}.pdf")
    found["portal 404"] = client.get("/my/notices/999999.pdf")
    assert sign_in(client, make_staff("clerk")).status_code == 302
    found["staff page"] = client.get("/staff/accounts/")
    found["500 page"] = client.get("/staff/raises-on-purpose")
    for response in found.values():
        response.close()  # a file is served as a stream: let it go
    statuses = {response.status_code for response in found.values()}
    assert {200, 400, 401, 403, 404, 405, 500} <= statuses, statuses
    assert found["bill PDF"].mimetype == "application/pdf"
    assert found["API JSON"].mimetype == "application/json"
    return found


def static_file(app: Flask) -> str:
    """Any file the portal serves from its static folder."""
    folder = app.blueprints["portal"].static_folder
    return next(p.name for p in Path(folder).iterdir() if p.is_file())


def check(found: dict[str, object]) -> list[str]:
    """The headers every answer must carry; what each lacks."""
    problems = []
    for name, response in found.items():
        headers = response.headers
        policy = headers.get("Content-Security-Policy", "")
        directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";") if d.strip()}
        if directives.get("frame-ancestors") != "frame-ancestors 'none'":
            problems.append(f"{name}: CSP without frame-ancestors 'none': {policy!r}")
        if "default-src" not in directives or "object-src" not in directives:
            problems.append(f"{name}: CSP without default-src and object-src: {policy!r}")
        if "'unsafe-inline'" in directives.get("script-src", ""):
            problems.append(f"{name}: scripts may run inline")
        if headers.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"{name}: no X-Content-Type-Options: nosniff")
        if headers.get("X-Frame-Options") != "DENY":
            problems.append(f"{name}: no X-Frame-Options: DENY")
    return problems


def test_production_answers_of_every_kind_carry_the_security_headers_and_hsts(
    production_app, make_staff, api_headers
):
    app = production_app
    found = answers(app, https_client(app), make_staff, api_headers)
    problems = check(found)
    for name, response in found.items():
        hsts = response.headers.get("Strict-Transport-Security", "")
        fields = dict(
            (part.strip().split("=") + [""])[:2] for part in hsts.split(";") if part.strip()
        )
        if int(fields.get("max-age") or 0) < HSTS_MIN_SECONDS:
            problems.append(f"{name}: no HSTS of at least 180 days: {hsts!r}")
    assert not problems, "\n".join(problems)


def test_over_plain_http_the_same_headers_but_no_hsts(app, client, make_staff, api_headers):
    """HSTS sent from a plain-http address (development, a test) would pin that host to
    https for a year; everything else is the same."""
    found = answers(app, client, make_staff, api_headers)
    problems = check(found)
    problems += [
        f"{name}: HSTS over plain http"
        for name, response in found.items()
        if "Strict-Transport-Security" in response.headers
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/login", "/pay", "/api/v1/me", "/staff/", "/my/bill"])
def test_signed_in_and_lookup_pages_are_never_cached(client, path):
    assert "no-store" in client.get(path).headers.get("Cache-Control", "")
