"""Fixtures for payments: a real localstripe on 127.0.0.1, wiped before each test,
the Stripe settings a test app is built with, and a gateway pointed at it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from payments.gateway import StripeGateway
from tests.payments.localstripe_server import LocalStripeServer, wipe

#: Test keys: localstripe accepts any key of the right shape.
STRIPE_SECRET_KEY = "sk_test_munibill_localstripe"
STRIPE_PUBLISHABLE_KEY = "pk_test_munibill_localstripe"
STRIPE_WEBHOOK_SECRET = "whsec_munibill_localstripe"


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> Iterator[str]:
    """One localstripe process for the session, with fresh state; yields its base URL."""
    server = LocalStripeServer(tmp_path_factory.mktemp("localstripe"))
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def localstripe_fresh(localstripe) -> str:
    """localstripe emptied of every object and webhook endpoint; returns its base URL."""
    wipe(localstripe)
    return localstripe


@pytest.fixture
def stripe_settings(localstripe_fresh) -> dict[str, str]:
    """The Stripe settings (as in core/settings.py) of an app that talks to localstripe."""
    return {
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "STRIPE_API_BASE": localstripe_fresh,
        "STRIPE_JS_URL": f"{localstripe_fresh}/js.stripe.com/v3/",
    }


@pytest.fixture
def gateway(stripe_settings) -> Iterator[StripeGateway]:
    """A gateway on the wiped localstripe, without network retries; closed afterwards."""
    with StripeGateway(
        api_key=stripe_settings["STRIPE_SECRET_KEY"],
        api_base=stripe_settings["STRIPE_API_BASE"],
        timeout_seconds=10,
        max_network_retries=0,
    ) as gateway:
        yield gateway


def unreachable_stripe_settings() -> dict:
    """Stripe settings that point at a port nobody listens on, without retries: an outage."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    return {
        "STRIPE_SECRET_KEY": "sk_test_outage",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_outage",
        "STRIPE_API_BASE": f"http://127.0.0.1:{closed}",
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_SECONDS": 2,
    }
