"""CSRF: every form carries its token, and every state change without it is refused.

The routes are read from the URL map (as the role matrix does), so a new POST route is
checked the day it is added. Browsers holding each kind of session post to every route
without a token: every one is refused with 400 and nothing changes. The API (token auth)
and the Stripe webhook (its own signature) are exempt, and neither accepts a session
cookie in place of its own credentials.
"""

from __future__ import annotations

from html.parser import HTMLParser

from flask import Flask, request
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFError

from core import errors
from tests.conftest import csrf_token, sign_in
from tests.core.test_role_matrix import Route, Tables, Town, build_town, discover, url_builder
from tests.portal.conftest import quick_pay
from tests.security.conftest import register_resident, resident_sign_in

#: The only routes that take a state change without a CSRF token, and what protects them.
EXEMPT = {
    "webhooks.stripe_webhook": "Stripe's signature of the body (payments.gateway.verify_webhook)",
    "twilio_webhooks.inbound": "Twilio's signature of the URL and form (notices.sms_gateway)",
    "twilio_webhooks.status": "Twilio's signature of the URL and form (notices.sms_gateway)",
}


#: Routes that answer files or JSON, never a page with a form.
DOWNLOADS = (".pdf", ".csv", ".zip", ".json", "<path:filename>")


def is_exempt(route: Route) -> bool:
    """The API (a bearer token, never a cookie) and the listed routes."""
    return route.api or route.endpoint in EXEMPT


def count_csrf_refusals(app: Flask) -> list[str]:
    """Record every request Flask-WTF refuses for its CSRF token (then answer as the app
    does), so a 400 for another reason cannot pass for a CSRF refusal."""
    refused: list[str] = []

    def refuse(error: CSRFError):
        refused.append(request.path)
        return errors.handle_http_exception(error)

    app.register_error_handler(CSRFError, refuse)
    return refused


def browsers(app: Flask, make_staff, town: Town) -> dict[str, FlaskClient]:
    """A browser with each kind of session: none, staff, quick pay, registered resident."""
    anonymous = app.test_client()
    anonymous.get("/pay")  # a session cookie, as any visitor has
    staff = app.test_client()
    assert sign_in(staff, make_staff("admin")).status_code == 302
    quick = app.test_client()
    assert quick_pay(quick, town.number, town.access_code).status_code == 303
    register_resident(app, town.number)
    resident = app.test_client()
    assert resident_sign_in(resident).status_code == 303
    return {
        "anonymous": anonymous,
        "staff (admin)": staff,
        "quick pay": quick,
        "registered resident": resident,
    }


def test_every_state_change_without_its_csrf_token_is_refused_in_every_kind_of_session(
    app, make_staff
):
    """Each browser posts to every route with no token (and once with another browser's
    token): each is refused by the CSRF check, and no table changes."""
    town = build_town(app)
    url = url_builder(app, town)
    changing = [r for r in discover(app) if r.changes and not is_exempt(r)]
    assert {"auth.login", "auth.logout", "portal.quick_pay", "portal.pay"} <= {
        r.endpoint for r in changing
    }
    refused = count_csrf_refusals(app)
    clients = browsers(app, make_staff, town)
    foreign = csrf_token(app.test_client().get("/pay").text)
    tables = Tables(app)
    failures = []
    for name, client in clients.items():
        before = tables.digest()
        sent = [("POST", "/my/signout", {"csrf_token": foreign}, "with another browser's token")]
        sent += [(r.method, url(r), {}, str(r)) for r in changing]
        for method, path, data, what in sent:
            count = len(refused)
            response = client.open(path, method=method, data=data)
            if response.status_code != 400 or len(refused) != count + 1:
                failures.append(f"{what} as {name}: {response.status_code}")
        after = tables.digest()
        changed = [table for table in after if after[table] != before[table]]
        if changed:
            failures.append(f"{name}: posts without a token changed {', '.join(changed)}")
    assert not failures, "accepted without a CSRF token:\n" + "\n".join(failures)


class Forms(HTMLParser):
    """The POST forms of a page, each with the names of its inputs."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._open = {"action": attributes.get("action", ""), "inputs": set()}
            if (attributes.get("method") or "get").lower() == "post":
                self.forms.append(self._open)
        elif tag in ("input", "button", "select", "textarea") and self._open is not None:
            self._open["inputs"].add(attributes.get("name"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def test_every_post_form_on_every_page_carries_a_csrf_token(app, make_staff, stripe_settings):
    """Every page any kind of session can open is read, and each POST form in it is checked:
    a form without its token would be refused, so it cannot work either."""
    app.config.update(stripe_settings)
    town = build_town(app)
    url = url_builder(app, town)
    pages = [
        r
        for r in discover(app)
        if r.method == "GET" and not r.api and not r.rule.endswith(DOWNLOADS)
    ]
    forms_seen = 0
    missing = []
    for name, client in browsers(app, make_staff, town).items():
        for route in pages:
            response = client.get(url(route))
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            parser = Forms()
            parser.feed(response.text)
            for form in parser.forms:
                forms_seen += 1
                if "csrf_token" not in form["inputs"]:
                    missing.append(f"{route} as {name}: the form to {form['action']!r}")
            if "data-csrf-token" in response.text:
                assert 'data-csrf-token=""' not in response.text, f"{route}: an empty token"
    assert forms_seen > 20, "too few forms were found for the walk to mean anything"
    assert not missing, "POST forms without a CSRF token:\n" + "\n".join(missing)


def test_the_api_and_the_webhook_take_no_session_cookie_for_their_own_credentials(app, make_staff):
    """The API is exempt from CSRF because it trusts only a bearer token, the webhook
    because it trusts only Stripe's signature: a signed-in browser's cookie (and its CSRF
    token) opens no API route, passes for no signature, and changes nothing."""
    town = build_town(app)
    url = url_builder(app, town)
    clients = browsers(app, make_staff, town)
    api = [r for r in discover(app) if r.api and not r.public]
    assert len(api) > 30
    event = {"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {}}}
    tables = Tables(app)
    before = tables.digest()
    let_in = []
    for name, client in clients.items():
        headers = {"X-CSRFToken": csrf_token(client.get("/pay").text)}
        for route in api:
            response = client.open(url(route), method=route.method, json={}, headers=headers)
            if response.status_code != 401:
                let_in.append(f"{route} as {name}: {response.status_code}")
        response = client.post("/webhooks/stripe", json=event, headers=headers)
        if response.status_code != 400:
            let_in.append(f"the webhook as {name}: {response.status_code}")
    assert not let_in, "taken on a session cookie:\n" + "\n".join(let_in)
    assert tables.digest() == before
