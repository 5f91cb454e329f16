"""Every HTML page and form, walked with hostile input as every kind of visitor: no 5xx.

For each visitor (nobody, a quick-pay resident, a registered resident, each staff role) the
walk opens every page of the app that answers GET (paths with parameters filled once with
the town's own values and once with hostile ones), reads every form on it, and sends it with
each field in turn set to each hostile string, the page's own CSRF token kept; a form that
is sent by GET gets the same strings as query parameters. Every answer must be below 500.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from tests.billing.billing_fixtures import bill_households
from tests.conftest import sign_in
from tests.portal.conftest import quick_pay
from tests.security.conftest import register_resident, resident_sign_in

#: A NUL byte, digits that are not ASCII, a number beyond any parser's patience, text longer
#: than any column, an exponent, SQL and HTML, wildcards, a path out of the folder.
HOSTILE = [
    "a\x00b",
    "²",
    "١٢٣",
    "9" * 4301,
    "x" * 600,
    "1e999999",
    "';DROP TABLE account;--<script>alert(1)</script>",
    "%_",
    "../../etc/passwd",
    "-1",
]
#: Forms that end the visit; they are sent last, once.
ENDINGS = ("/logout", "/signout", "/staff/logout", "/portal/signout")
#: Not pages: the API, Stripe's webhooks, static files, health checks.
NOT_PAGES = ("/api/", "/webhooks/", "/static/", "/healthz", "/readyz", "/payments/static")


class Forms(HTMLParser):
    """The forms of a page: (action, method, {field: value})."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        """A form opens; its fields join it."""
        attrs = dict(attrs)
        if tag == "form":
            self._fields = {}
            self.forms.append(
                (attrs.get("action") or "", (attrs.get("method") or "get").lower(), self._fields)
            )
        elif (
            tag in ("input", "select", "textarea")
            and self._fields is not None
            and attrs.get("name")
        ):
            self._fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        """A form closes."""
        if tag == "form":
            self._fields = None


def pages(app, town) -> list[str]:
    """Every GET page of the app, its path parameters filled from the town and with hostile ones."""
    real = {"number": town.number, "invoice": town.invoice_number}
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES):
            continue
        names = list(rule.arguments)
        if not names:
            found.append(rule.rule)
            continue
        for values in (
            {n: _real(n, rule.rule, real) for n in names},
            dict.fromkeys(names, "1000001²"),
        ):
            try:
                found.append(_build(rule.rule, values))
            except ValueError:
                continue
    return sorted(set(found))


def _real(name: str, rule: str, real: dict) -> str:
    """A value the town holds for a path parameter."""
    if name == "number":
        return real["invoice"] if "/bills/" in rule or "/invoices/" in rule else real["number"]
    return "1"


def _build(rule: str, values: dict) -> str:
    """A path from a rule and its parameters' values."""
    path = rule
    for name, value in values.items():
        path, count = re.subn(r"<(?:[^:<>]+:)?" + name + ">", value, path)
        if not count:
            raise ValueError(name)
    return path


def walk(client, paths: list[str], sent: list[str]) -> list[str]:
    """Open every page and send every form with hostile fields; the answers of 500 and above.
    What was sent is added to `sent` ("METHOD path")."""
    broken, endings = [], []
    for path in paths:
        page = client.get(path)
        if page.status_code >= 500:
            broken.append(f"GET {path}: {page.status_code}")
            continue
        if page.mimetype != "text/html":
            continue
        parser = Forms()
        parser.feed(page.text)
        for action, method, fields in parser.forms:
            target = urlsplit(action or path).path or path
            if target.startswith(ENDINGS):
                endings.append((target, method, fields))
                continue
            broken += _send(client, target, method, fields)
            sent.append(f"{method.upper()} {target}")
    for target, method, fields in endings:
        broken += _send(client, target, method, fields, hostile=HOSTILE[:1])
    return broken


def _send(client, target, method, fields, hostile=HOSTILE) -> list[str]:
    """A form sent once per field and hostile string."""
    broken = []
    free = [name for name in fields if name != "csrf_token"]
    for name in free or [None]:
        for text in hostile:
            data = dict(fields)
            if name:
                data[name] = text
            if method == "post":
                answer = client.post(target, data=data)
            else:
                answer = client.get(f"{target}?{urlencode(data)}")
            if answer.status_code >= 500:
                broken.append(
                    f"{method.upper()} {target} {name}={text[:12]!r}: {answer.status_code}"
                )
    return broken


@pytest.fixture
def town(app):
    """One billed household, registered online too."""
    (billed,) = bill_households(app, "walker")
    register_resident(app, billed.number)
    return billed


@pytest.mark.parametrize(
    "visitor", ["nobody", "quick pay", "registered", "clerk", "supervisor", "auditor", "admin"]
)
def test_no_page_or_form_answers_hostile_input_with_a_server_error(app, town, make_staff, visitor):
    client = app.test_client()
    if visitor == "quick pay":
        assert quick_pay(client, town.number, town.access_code).status_code == 303
    elif visitor == "registered":
        assert resident_sign_in(client).status_code in (302, 303)
    elif visitor != "nobody":
        sign_in(client, make_staff(visitor))
    paths, sent = pages(app, town), []
    broken = walk(client, paths, sent)
    assert not broken, "\n".join(broken[:40])
    # the walk reached the forms a visitor of this kind has
    least = {"nobody": 4, "quick pay": 6, "registered": 8}.get(visitor, 10)
    assert len(set(sent)) >= least, sorted(set(sent))
