"""Fixtures for the residents' portal: billed households and a browser-like client that
looks up a bill by quick pay."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.billing.billing_fixtures import BilledAccount, bill_households
from tests.conftest import csrf_token


@pytest.fixture
def households(app) -> list[BilledAccount]:
    """Two households with one open utility bill each."""
    return bill_households(app, "olson", "nguyen")


@pytest.fixture
def billed(households) -> BilledAccount:
    """The first household."""
    return households[0]


def quick_pay(client: FlaskClient, number: str, code: str, **extra):
    """Post the quick-pay form as a browser would (with the page's CSRF token)."""
    page = client.get("/pay")
    data = {"csrf_token": csrf_token(page.text), "method": "code", "account": number, "code": code}
    data.update(extra)
    return client.post("/pay", data=data)


@pytest.fixture
def resident(client, billed) -> FlaskClient:
    """A client with a quick-pay session on the first household."""
    response = quick_pay(client, billed.number, billed.access_code)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def smtp(app):
    """A real SMTP server on 127.0.0.1 that the app sends to; `.handler.envelopes` holds mail."""
    from tests.notices.test_mail import Handler, start

    controller, server = start(Handler())
    app.config.update(
        SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_STARTTLS=False, SMTP_USER=""
    )
    yield server
    controller.stop()
