"""The API, fuzzed from its own OpenAPI description with every kind of caller.

schemathesis reads /api/v1/openapi.json from the app in-process (WSGI, no server) and
generates requests for every operation (the description must name every /api/v1 route):
data that fits the description and data that does not, sent anonymously and with a
clerk's, a supervisor's, an auditor's and an admin's token. Every answer must be a
non-5xx, with a status code, a content type and a body the description allows.
Generation is derandomized and keeps no example database, so CI replays the same cases;
every failure is reported at the end, with the operation, the caller and a command that
reproduces it. The test has its own app and town, emptied afterwards like any other.

Path parameters are drawn half the time from what the town really holds (its account,
invoice and receipt numbers, its ids), so the fuzzer reaches the records themselves and
not only their 404s; whatever the fuzzer creates along the way joins what it draws from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import InstrumentedAttribute

from accounts.imports import KINDS
from accounts.models import Account, Parcel
from billing.models import (
    BillingRun,
    Invoice,
    PayoffQuote,
    RatePlan,
    ReconnectionOrder,
    ShutoffOrder,
    TaxYearLevy,
)
from core.apidoc import API_PREFIX
from core.audit import Actor
from core.auth import create_api_token
from core.extensions import db
from ledger.export_datasets import DATASETS
from notices.models import Notice, NoticeBatch, ReminderPause
from payments.models import (
    BankDeposit,
    CashDrawer,
    Payment,
    Receipt,
    ReconciliationItem,
    Refund,
)
from tests.fuzz.town import build_town

#: None is the anonymous caller.
CALLERS = (None, "clerk", "supervisor", "auditor", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Examples per operation, caller and kind of data: 60 operations x 5 callers x (5 + 3) is
#: 2,400 cases, about 20 seconds on either database.
EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}
#: The fewest generated cases a run must send.
AT_LEAST = 1_000

#: Path parameters filled from the town: a column to draw from, or a fixed list of names.
POOLS: dict[str, InstrumentedAttribute | list[str]] = {
    "parcel_number": Parcel.parcel_number,
    "code": RatePlan.code,
    "tax_year": TaxYearLevy.tax_year,
    "run_id": BillingRun.id,
    "drawer_id": CashDrawer.id,
    "payment_id": Payment.id,
    "item_id": ReconciliationItem.id,
    "notice_id": Notice.id,
    "refund_id": Refund.id,
    "batch_id": NoticeBatch.id,
    "pause_id": ReminderPause.id,
    "kind": sorted(KINDS),
    "dataset": sorted(DATASETS),
}
#: The API's description and its browsable reference: not operations of the API itself.
DOCUMENTATION = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/assets/{filename}"}
#: `{number}` is an account's, an invoice's, a receipt's or a bank deposit's, by its path.
NUMBERS = {
    "/invoices/": Invoice.number,
    "/receipts/": Receipt.number,
    "/accounts/": Account.number,
    "/bank-deposits/": BankDeposit.number,
    "/payoff-quotes/": PayoffQuote.number,
    "/shutoff-orders/": ShutoffOrder.number,
    "/reconnection-orders/": ReconnectionOrder.number,
}


def api_routes(app: Flask) -> set[str]:
    """Every /api/v1 route of the app as "METHOD /path/{name}", but the API's own documentation."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        if path.startswith(f"{API_PREFIX}/") and path not in DOCUMENTATION:
            routes |= {f"{method} {path}" for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def tokens(app: Flask) -> dict[str | None, dict[str, str]]:
    """Authorization headers for each caller (none for the anonymous one)."""
    headers: dict[str | None, dict[str, str]] = {None: {}}
    with app.app_context():
        for role in CALLERS[1:]:
            _token, secret = create_api_token(
                db.session, Actor.system("fuzz"), name=f"fuzz {role}", role=role
            )
            headers[role] = {"Authorization": f"Bearer {secret}"}
        db.session.commit()
    return headers


def known_values(app: Flask, operation) -> dict[str, list]:
    """What the town holds now for each of the operation's path parameters (20 at most each)."""
    known = {}
    for name in re.findall(r"{(\w+)}", operation.path):
        pool = POOLS.get(name)
        if name == "number":
            pool = next(column for part, column in NUMBERS.items() if part in operation.path)
        if pool is not None and not isinstance(pool, list):
            with app.app_context():
                pool = list(db.session.scalars(sa.select(pool).order_by(pool).limit(20)))
        if pool:
            known[name] = pool
    return known


def from_the_town(strategy: st.SearchStrategy, known: dict[str, list]) -> st.SearchStrategy:
    """Cases whose path parameters are, half the time each, a value the town holds."""

    @st.composite
    def cases(draw):
        case = draw(strategy)
        for name, values in known.items():
            if draw(st.booleans()):
                case.path_parameters[name] = draw(st.sampled_from(values))
        return case

    return cases()


@dataclass
class Tally:
    """What the fuzzer sent and what broke."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz(app: Flask, operation, mode: GenerationMode, caller: str | None, tally: Tally, headers):
    """Run one operation's cases for one caller and kind of data; record what breaks."""

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    # NOTE: the town is read once per run: what the fuzzer creates joins it for the next run,
    # and hypothesis sees the same choices each time it replays a case.
    @given(
        case=from_the_town(
            operation.as_strategy(generation_mode=mode), known_values(app, operation)
        )
    )
    def run(case):
        tally.cases += 1
        # buffered: the test client reads the body and closes it, as a WSGI server does.
        case.call_and_validate(headers=headers, checks=CHECKS, buffered=True)

    try:
        run()
    except (Failure, FailureGroup, FlakyFailure) as failure:
        tally.failures.append(f"{operation.label} as {caller or 'anonymous'} ({mode}):\n{failure}")


def test_no_caller_gets_a_server_error_or_an_answer_its_description_does_not_allow(app):
    build_town(app)
    headers = tokens(app)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    for operation in operations:
        for caller in CALLERS:
            for mode in EXAMPLES:
                fuzz(app, operation, mode, caller, tally, headers[caller])
    assert not tally.failures, f"{len(tally.failures)} failures:\n\n" + "\n\n".join(tally.failures)
    assert {operation.label for operation in operations} == api_routes(app)
    assert tally.cases >= AT_LEAST
