"""The role matrix, checked on every route of the URL map for every kind of caller.

The routes are read from `app.url_map`, never listed here: a new route is walked (and must
hold to the matrix) the day it is added. Only the few routes that are public on purpose are
named, each with its reason. One walk over one billed town makes every request once per
caller; the rules of docs/roles.md are then checked over the answers, and every breach is
reported together, with the route, the caller and (for a 500) the line that raised.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from accounts.imports import KINDS
from accounts.models import Account
from billing.models import Invoice
from core.apidoc import API_PREFIX
from core.audit import Actor
from core.auth import PERMISSIONS, SAFE_METHODS
from core.db import Base, utcnow
from core.extensions import db
from core.models import Role
from notices import content
from notices.issuing import issue_and_deliver
from payments.counter import open_drawer, take_counter_payment
from payments.models import Tender
from portal import questions
from portal.web import TOKEN_KEY
from tests.billing.billing_fixtures import bill_households
from tests.conftest import TODAY, csrf_token, sign_in
from tests.payments import conftest as payments_fixtures
from tests.portal.conftest import quick_pay

#: localstripe, as the payments tests have it: card pages reach a real Stripe API.
localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

STAFF_PREFIX = "/staff/"
PORTAL_PREFIX = "/my/"
WALKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STAFF_ROLES = tuple(role.value for role in (Role.AUDITOR, Role.CLERK, Role.SUPERVISOR, Role.ADMIN))
REPO = Path(__file__).resolve().parents[2]
ROLES_DOC = REPO / "docs" / "roles.md"

#: Routes that anyone may reach on purpose, and why. Nothing else is public.
PUBLIC: dict[str, str] = {
    "index": "the front page only redirects to quick pay",
    "auth.login": "staff sign-in (any_role: any principal may post it)",
    "auth.logout": "staff sign-out (any_role: any principal may post it)",
    "webhooks.stripe_webhook": "Stripe calls it without a session; it checks its own signature",
    "twilio_webhooks.inbound": "Twilio posts replies (STOP, HELP) without a session; it checks "
    "Twilio's signature",
    "twilio_webhooks.status": "Twilio posts delivery statuses without a session; it checks "
    "Twilio's signature",
    "health.healthz": "liveness probe for the load balancer",
    "health.readyz": "readiness probe for the load balancer",
    "api-docs.openapi_json": "the API's published description",
    "api-docs.openapi_swagger_ui": "the API's documentation page",
    "swagger_ui_assets.swagger_asset": "scripts and styles of the documentation page",
    "portal.quick_pay": "residents find a bill by account number and access code",
    "portal.language": "anyone may pick the pages' language",
    "portal.sign_out": "ends whatever portal session the browser holds, if any",
    "portal_account.register": "residents create an online account",
    "portal_account.verify": "the link in the e-mail that confirms an address",
    "portal_account.resend": "sends the confirmation e-mail again",
    "portal_account.sign_in": "registered residents sign in",
    "portal_account.reset_request": "residents ask for a password reset e-mail",
    "portal_account.reset": "the link in the password reset e-mail",
    "portal_reports.shutoff_report_page": "the monthly shutoff counts the town publishes "
    "(counts only, no household named)",
}
#: Staff routes that any signed-in staff user may see without a named permission, and why.
SIGNED_IN_ONLY: dict[str, str] = {
    "staff.home": "the staff home page shows only who is signed in (login_required)",
}
#: Columns that reading requests may change: when a token or a session was last used.
VOLATILE_COLUMNS = {
    ("api_token", "last_used_at"),
    ("portal_session", "last_seen_at"),
    ("staff_session", "last_seen_at"),
}


@dataclass(frozen=True)
class Route:
    """One method of one rule of the URL map."""

    rule: str
    endpoint: str
    method: str
    #: What core.auth.requires asks for, or None where the view is not wrapped by it.
    permission: str | None
    #: core.auth.any_role: exempt from the read-only rule (sign-in, sign-out).
    any_role: bool

    @property
    def changes(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def api(self) -> bool:
        return self.rule.startswith(API_PREFIX + "/")

    @property
    def staff(self) -> bool:
        return self.rule.startswith(STAFF_PREFIX)

    @property
    def portal(self) -> bool:
        return self.rule.startswith(PORTAL_PREFIX)

    @property
    def public(self) -> bool:
        return self.endpoint in PUBLIC

    def needs(self) -> set[str]:
        """The permissions a principal must hold: the view's own, and write to change anything."""
        needed = {self.permission} if self.permission else set()
        if self.changes and not self.any_role:
            needed.add("write")
        return needed

    def __str__(self) -> str:
        return f"{self.method} {self.rule} ({self.endpoint})"


def discover(app: Flask) -> list[Route]:
    """Every walked method of every rule but static files; sign-in/out last (they end sessions)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in WALKED_METHODS:
            if method in rule.methods:
                found.append(
                    Route(
                        rule.rule,
                        rule.endpoint,
                        method,
                        getattr(view, "required_permission", None),
                        bool(getattr(view, "any_role", False)),
                    )
                )
    ends_sessions = {"auth.login", "auth.logout"}
    return sorted(found, key=lambda r: (r.endpoint in ends_sessions, r.any_role, r.rule, r.method))


# --- The town, and filling a rule's arguments ----------------------------------------------


@dataclass
class Town:
    """One billed household with a little of everything a URL can name."""

    number: str
    invoice_number: str
    access_code: str
    receipt_number: str
    #: Ids by the name of the URL argument that takes them; any other int argument is 1.
    ids: dict[str, int]


def build_town(app: Flask) -> Town:
    """A billed household with a disputed bill, a counter payment and a bill notice."""
    billed = bill_households(app, "olson")[0]
    clerk = Actor.system("counter clerk")
    with app.app_context():
        session = db.session
        account = session.scalar(sa.select(Account).where(Account.number == billed.number))
        invoice = session.scalar(sa.select(Invoice).where(Invoice.number == billed.invoice_number))
        question = questions.ask(
            session,
            Actor("resident", None, f"quickpay:{account.number}", None),
            account=account,
            invoice=invoice,
            kind="dispute",
            message="The October reading looks too high.",
            reply_to="",
            language="en",
            resident_id=None,
            now=utcnow(),
        )
        drawer = open_drawer(session, clerk)
        receipt = take_counter_payment(
            session,
            clerk,
            drawer=drawer,
            account=account,
            amount_cents=1000,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[],
            on=TODAY,
        )
        notice = issue_and_deliver(
            session,
            app.config,
            clerk,
            content.bill(session, app.config, invoice),
            account=account,
            deliver="download",
            invoice_id=invoice.id,
        )
        session.commit()
        ids = {
            "id": question.id,
            "pause_id": question.pause_id,
            "drawer_id": drawer.id,
            "payment_id": receipt.payment_id,
            "notice_id": notice.id,
            "run_id": invoice.billing_run_id,
            "tax_year": 2025,
        }
        return Town(billed.number, billed.invoice_number, billed.access_code, receipt.number, ids)


def url_builder(app: Flask, town: Town) -> Callable[[Route], str]:
    """A URL for a route: the town's numbers and ids where an argument names them, else a
    placeholder of the converter's type."""

    def string(rule: str, name: str) -> str:
        """A string argument: the town's account, invoice or receipt number, or a placeholder."""
        if name == "number":
            if "/receipts/" in rule:
                return town.receipt_number
            if "/invoices/" in rule or "/bills/" in rule:
                return town.invoice_number
            return town.number
        return {
            "code": "MF-WATER",
            "kind": next(iter(KINDS)),
            "filename": "placeholder.css",
        }.get(name, "placeholder")

    def url(route: Route) -> str:
        """The route's own rule (not another of its endpoint's), filled in."""
        rule = next(r for r in app.url_map.iter_rules(route.endpoint) if r.rule == route.rule)
        values = {}
        for name, converter in rule._converters.items():
            if type(converter).__name__ == "IntegerConverter":
                values[name] = town.ids.get(name, 1)
            else:
                values[name] = string(route.rule, name)
        built = rule.build(values, append_unknown=False)
        assert built is not None, f"cannot build {route} from {values}"
        return built[1]

    return url


# --- Callers ------------------------------------------------------------------------------


@dataclass
class Caller:
    """One kind of caller: a browser (with its CSRF token) or an API client (with a token)."""

    name: str
    client: FlaskClient
    #: The staff role, if any.
    role: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Sign in again (after a sign-out route ended the session); None for anonymous.
    start: Callable[[FlaskClient], None] | None = None
    session_key: str | None = None
    csrf: str = ""

    @property
    def token(self) -> bool:
        return bool(self.headers)

    def begin(self) -> None:
        """Sign in (if this caller ever does) and keep a CSRF token of the session."""
        if self.start is not None:
            self.start(self.client)
        if not self.token:
            self.csrf = csrf_token(self.client.get("/pay").text)

    def still_signed_in(self) -> bool:
        """False once a sign-out route has ended the session this caller started."""
        if self.session_key is None:
            return True
        with self.client.session_transaction() as session:
            return self.session_key in session

    def holds(self, permissions: set[str]) -> bool:
        """True when the caller's role grants every one of the permissions."""
        return self.role is not None and permissions <= PERMISSIONS[Role(self.role)]

    def call(self, route: Route, url: str):
        """The request as this caller sends it: state changes with an empty body."""
        body = {}
        if route.changes:
            body = {"json": {}} if self.token else {"data": {"csrf_token": self.csrf}}
        return self.client.open(url, method=route.method, headers=self.headers, **body)


def staff_session(app: Flask, make_staff, role: str) -> Caller:
    """A browser signed in as a new staff user of the role."""
    email = make_staff(role)

    def start(client: FlaskClient) -> None:
        """Sign in through the real form."""
        response = sign_in(client, email)
        assert response.status_code == 302, f"{role} could not sign in"

    return Caller(
        f"{role} (staff session)", app.test_client(), role, start=start, session_key="_user_id"
    )


def resident_session(app: Flask, town: Town) -> Caller:
    """A browser with a quick-pay session on the town's account (a resident, not staff)."""

    def start(client: FlaskClient) -> None:
        """Look the bill up by quick pay."""
        response = quick_pay(client, town.number, town.access_code)
        assert response.status_code == 303, "the resident could not look up the bill"

    return Caller(
        "resident (quick-pay session)", app.test_client(), start=start, session_key=TOKEN_KEY
    )


# --- What a request did -------------------------------------------------------------------


@dataclass
class Answer:
    """What one caller got from one route."""

    route: Route
    caller: Caller
    status: int
    location: str
    #: Tables whose rows the request changed (only measured where nothing may change).
    changed: list[str]
    #: For a 5xx: the exception and the line of our code that raised it.
    error: str

    def redirect_to(self, path: str) -> bool:
        """True for a redirect to the path (whatever its query)."""
        return 300 <= self.status < 400 and urlsplit(self.location).path == path

    def __str__(self) -> str:
        where = f" -> {self.location}" if self.location else ""
        changed = f"; changed {', '.join(self.changed)}" if self.changed else ""
        error = f"; {self.error}" if self.error else ""
        return f"{self.route} as {self.caller.name}: {self.status}{where}{changed}{error}"


class Tables:
    """Digests of every table's rows (but the columns that reading touches), to tell whether
    a request changed anything."""

    def __init__(self, app: Flask):
        with app.app_context():
            self.engine = db.engine
        quote = self.engine.dialect.identifier_preparer.quote
        self.queries = {}
        for table in Base.metadata.sorted_tables:
            columns = [
                c.name for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS
            ]
            order = [c.name for c in table.primary_key.columns]
            self.queries[table.name] = (
                f"SELECT {', '.join(map(quote, columns))} FROM {quote(table.name)}"
                f" ORDER BY {', '.join(map(quote, order))}"
            )

    def digest(self) -> dict[str, str]:
        """One digest per table."""
        with self.engine.connect() as connection:
            return {
                name: hashlib.sha256(
                    repr(connection.exec_driver_sql(sql).all()).encode()
                ).hexdigest()
                for name, sql in self.queries.items()
            }


def raised_at(records: list[logging.LogRecord]) -> str:
    """The exception of a logged 500 and the deepest line of our own code in its traceback."""
    for record in reversed(records):
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frames = [
                frame
                for frame in traceback.extract_tb(record.exc_info[2])
                if frame.filename.startswith(str(REPO)) and "/.venv/" not in frame.filename
            ]
            line = ""
            if frames:
                frame = frames[-1]
                where = Path(frame.filename).relative_to(REPO)
                line = f" at {where}:{frame.lineno} in {frame.name}: {frame.line}"
            return f"{type(error).__name__}: {str(error)[:200]}{line}"
    return "no exception was logged"


def must_not_change(route: Route, caller: Caller) -> bool:
    """Requests that must be refused, so they must change nothing."""
    if not route.changes or route.any_role:
        return False
    if caller.role == Role.AUDITOR.value:
        return True
    return caller.role is None and (route.staff or route.api) and not route.public


def walk(
    app: Flask,
    routes: list[Route],
    callers: list[Caller],
    url: Callable[[Route], str],
    caplog: pytest.LogCaptureFixture,
) -> list[Answer]:
    """Send every route to every caller once (API tokens only to the API); a caller whose
    session a sign-out route ended signs in again before the next route."""
    answers = []
    tables = Tables(app)
    before: dict[str, str] = {}
    for caller in callers:
        caller.begin()
        for route in routes:
            if caller.token and not route.api:
                continue
            measured = must_not_change(route, caller)
            if measured:
                before = tables.digest()
            caplog.clear()
            response = caller.call(route, url(route))
            changed = []
            if measured:
                after = tables.digest()
                changed = [name for name in after if after[name] != before[name]]
            error = raised_at(caplog.records) if response.status_code >= 500 else ""
            answers.append(
                Answer(
                    route,
                    caller,
                    response.status_code,
                    response.headers.get("Location", ""),
                    changed,
                    error,
                )
            )
            if route.changes and not caller.still_signed_in():
                caller.begin()
    return answers


# --- The rules ----------------------------------------------------------------------------


def never_a_server_error(answers: list[Answer]) -> list[str]:
    """No route answers any caller with a 5xx, whatever the placeholder or empty body."""
    return [f"5xx: {a}" for a in answers if a.status >= 500]


def auditors_change_nothing(answers: list[Answer]) -> list[str]:
    """An auditor's state change is refused (403; 401 for a session cookie on the API, which
    the API never trusts) and leaves every table as it was."""
    failures = []
    for a in answers:
        if a.caller.role != Role.AUDITOR.value or not a.route.changes or a.route.any_role:
            continue
        expected = 401 if a.route.api and not a.caller.token else 403
        if a.status != expected or a.changed:
            failures.append(f"auditor not refused ({expected} expected): {a}")
    return failures


def staff_pages_need_a_staff_principal(answers: list[Answer]) -> list[str]:
    """Under /staff and the API, nobody without a staff principal gets in: anonymous callers
    get 401 or the sign-in page, and a resident's portal session counts for nothing."""
    failures = []
    anonymous = {}
    for a in answers:
        if not (a.route.staff or a.route.api) or a.route.public or a.caller.role is not None:
            continue
        if a.caller.session_key is None:
            anonymous[a.route] = a
            if not (a.status == 401 or a.redirect_to("/login")) or a.changed:
                failures.append(f"anonymous let in: {a}")
    for a in answers:
        if a.route in anonymous and a.caller.session_key == TOKEN_KEY:
            other = anonymous[a.route]
            if (a.status, a.location) != (other.status, other.location) or a.changed:
                failures.append(f"resident treated unlike anonymous ({other.status}): {a}")
    return failures


def portal_pages_need_a_portal_session(answers: list[Answer]) -> list[str]:
    """Under /my/, a browser without a portal session is sent to quick pay (or refused), be it
    anonymous or signed in as staff."""
    failures = []
    for a in answers:
        if not a.route.portal or a.caller.session_key == TOKEN_KEY or a.caller.token:
            continue
        if a.caller.role == Role.AUDITOR.value and a.route.changes:
            continue  # refused by the read-only rule: auditors_change_nothing checks it
        if not (a.redirect_to("/pay") or a.status in (401, 404)):
            failures.append(f"portal page without a portal session: {a}")
    return failures


def permissions_are_respected(answers: list[Answer]) -> list[str]:
    """A staff role lacking what a route needs gets 403; a role holding it is not refused."""
    failures = []
    for a in answers:
        if a.caller.role is None or a.route.any_role or (a.route.api and not a.caller.token):
            continue
        if a.route.public:
            continue  # no role opens it: a webhook answers by its own signature check
        needed = a.route.needs()
        if not needed:
            continue
        if not a.caller.holds(needed) and a.status != 403:
            failures.append(f"needs {sorted(needed)}, got {a.status} not 403: {a}")
        if a.caller.holds(needed) and a.status in (401, 403):
            failures.append(f"holds {sorted(needed)} but refused: {a}")
    return failures


RULES = (
    never_a_server_error,
    auditors_change_nothing,
    staff_pages_need_a_staff_principal,
    portal_pages_need_a_portal_session,
    permissions_are_respected,
)


# --- The tests ----------------------------------------------------------------------------


def test_every_route_answers_every_caller_as_the_role_matrix_says(
    app, make_staff, api_headers, stripe_settings, caplog
):
    app.config.update(stripe_settings)
    caplog.set_level(logging.ERROR)
    town = build_town(app)
    routes = discover(app)
    callers = [Caller("anonymous", app.test_client()), resident_session(app, town)]
    for role in STAFF_ROLES:
        callers.append(staff_session(app, make_staff, role))
        callers.append(Caller(f"{role} (API token)", app.test_client(), role, api_headers(role)))

    answers = walk(app, routes, callers, url_builder(app, town), caplog)

    failures = [f"[{rule.__name__}] {line}" for rule in RULES for line in rule(answers)]
    assert not failures, f"{len(failures)} breaches of the role matrix:\n" + "\n".join(failures)


def test_every_staff_and_api_route_names_the_permission_it_needs(app):
    """A route under /staff or the API without core.auth.requires (and not public or listed as
    signed-in only) fails here, so a new route cannot forget its permission check."""
    missing = [
        str(route)
        for route in discover(app)
        if (route.staff or route.api)
        and route.permission is None
        and route.endpoint not in PUBLIC
        and (route.changes or route.endpoint not in SIGNED_IN_ONLY)
    ]
    assert not missing, "routes without a required permission:\n" + "\n".join(missing)


def test_the_exceptions_name_real_routes_and_only_sign_in_out_and_password_are_any_role(app):
    """A stale exception fails here, and so does a new any_role view (exempt from the
    read-only rule): docs/roles.md says signing in and out, and changing one's own password
    (an auditor too must be able to), are the only exceptions."""
    routes = discover(app)
    endpoints = {route.endpoint for route in routes}
    assert set(PUBLIC) | set(SIGNED_IN_ONLY) <= endpoints
    assert {route.endpoint for route in routes if route.any_role} == {
        "auth.login",
        "auth.logout",
        "staff.password",
    }


def test_the_permissions_of_each_role_are_those_of_the_roles_document():
    """The permission table of docs/roles.md, read as a table, is what core.auth grants."""
    lines = iter(ROLES_DOC.read_text().splitlines())
    header = next(line for line in lines if line.startswith("| permission |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][1:]
    granted: dict[str, set[str]] = {role: set() for role in roles}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        permission = re.match(r"\*\*(\w+)\*\*", cells[0])
        for role, cell in zip(roles, cells[1:], strict=True):
            if permission and cell == "✓":
                granted[role].add(permission.group(1))
    assert granted == {role.value: set(PERMISSIONS[role]) for role in PERMISSIONS}
