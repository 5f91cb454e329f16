"""The API fuzzed statefully: schemathesis follows the OpenAPI links from what an operation
creates (an account, a drawer, a payment, a refund, a billing run, a rate plan, a levy, a
batch, a pause) to the operations that take it, as every kind of caller, and no step may get
a server error or an answer its description does not allow.

Like the per-operation fuzz test beside it: in-process (WSGI), derandomized, no example
database, its own town.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.core.failures import Failure, FailureGroup

from tests.fuzz.test_api_fuzz import CALLERS, CHECKS, tokens
from tests.fuzz.town import build_town

#: Scenarios per caller and the most steps one may take.
SCENARIOS = 12
STEPS = 8


def test_following_the_links_no_caller_gets_a_server_error(app):
    build_town(app)
    headers = tokens(app)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert len(schema.operations_with_incoming_links()) >= 20
    workflow = schema.as_state_machine()
    failures, steps = [], []
    for caller in CALLERS:

        class Caller(workflow):
            """The workflow as one caller, with its token."""

            token = headers[caller]

            def get_call_kwargs(self, case):
                """The caller's token, and a body read whole as a WSGI server reads it."""
                return {"headers": self.token, "buffered": True}

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                """The same checks as the per-operation fuzz test."""
                steps.append(case.operation.label)
                case.validate_response(response, checks=CHECKS)

        try:
            run_state_machine_as_test(
                Caller,
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=STEPS,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        except (Failure, FailureGroup, FlakyFailure) as failure:
            failures.append(f"as {caller or 'anonymous'}:\n{failure}")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
    # the scenarios went somewhere: linked operations were reached, not only the creating ones
    assert len(steps) >= len(CALLERS) * SCENARIOS
    reached = set(steps) & schema.operations_with_incoming_links()
    assert len(reached) >= 5, sorted(reached)
