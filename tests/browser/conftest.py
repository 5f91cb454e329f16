"""Fixtures for browser tests: Debian's Chromium driven by Playwright (never `playwright
install`), the app served on 127.0.0.1 with localstripe posting its webhooks to it, a
billed household and a clerk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.billing.billing_fixtures import BilledAccount, bill_households
from tests.live_server import serve
from tests.payments import conftest as payments_fixtures
from tests.payments.localstripe_server import register_webhook

#: localstripe (one process per session, wiped before each test) and the Stripe settings of
#: an app that talks to it, as the payments tests have them.
localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots of every page a test sees (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: The longest any single wait in a browser test may take.
TIMEOUT_MS = 20_000
# NOTE: assertions wait as long as actions do: a loaded CI machine settles a payment, or
# answers a card form through Stripe, in more than the five seconds Playwright allows.
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class LiveApp:
    """The app served on 127.0.0.1 and the address it answers on."""

    app: Flask
    url: str


@dataclass
class Browsing:
    """A browser page on the live app, and the script errors and CSP violations it met."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> None:
        """Save the whole page, 1280 px wide, as test-artifacts/<name>.png."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def live_app(app, stripe_settings) -> Iterator[LiveApp]:
    """The app on localstripe's settings, served on 127.0.0.1, receiving localstripe's webhooks."""
    app.config.update(stripe_settings)
    with serve(app) as url:
        register_webhook(
            stripe_settings["STRIPE_API_BASE"],
            "munibill",
            f"{url}/webhooks/stripe",
            stripe_settings["STRIPE_WEBHOOK_SECRET"],
            ["payment_intent.succeeded", "payment_intent.payment_failed"],
        )
        yield LiveApp(app, url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, once for the session."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def open_context(browser: Browser, url: str, locale: str = "en-US") -> tuple[Browsing, object]:
    """A fresh browser context 1280 px wide on an app at url, noting script errors and CSP
    violations; returns the browsing and the context to close."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    browsing = Browsing(page, url)

    def csp_violation(message: ConsoleMessage) -> None:
        """Keep what the Content-Security-Policy blocked (a refused 402 is no error here)."""
        if message.type == "error" and "Content Security Policy" in message.text:
            browsing.errors.append(f"console: {message.text}")

    page.on("pageerror", lambda error: browsing.errors.append(f"script error: {error}"))
    page.on("console", csp_violation)
    return browsing, context


@pytest.fixture
def browsing(browser, live_app) -> Iterator[Browsing]:
    """A fresh browser context 1280 px wide on the live app; closed before the app stops."""
    browsing, context = open_context(browser, live_app.url)
    yield browsing
    context.close()


@pytest.fixture
def billed_account(app) -> BilledAccount:
    """One household with one open utility bill."""
    (billed,) = bill_households(app, "olson")
    return billed


@pytest.fixture
def clerk(make_staff) -> str:
    """A clerk's e-mail (the password is tests.conftest.PASSWORD)."""
    return make_staff("clerk")
