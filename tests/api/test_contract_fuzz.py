"""Property-based fuzzing of every documented operation (schemathesis), with valid tokens.

No 5xx, every response matches the documented schema, every error is problem+json. The budget is
bounded (``ENGAGEMENT_FUZZ_EXAMPLES`` cases per operation) so that it runs in CI.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

FUZZ_EXAMPLES = int(os.environ.get("ENGAGEMENT_FUZZ_EXAMPLES", "15"))
# participant and staff operations (everything under /v1) get more of the budget than public ones
V1_EXAMPLES = 2 * FUZZ_EXAMPLES
NEGATIVE_EXAMPLES = FUZZ_EXAMPLES


def _headers_for(path: str, make_participant, login_as) -> dict[str, str]:
    if path.startswith(("/v1/admin", "/v1/research")):
        return login_as(staff=("admin", "coordinator", "researcher"))
    if path.startswith("/v1"):
        return login_as(make_participant(age=19))
    return {}


def test_every_operation_keeps_its_contract(app, make_participant, login_as):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        headers = _headers_for(operation.path, make_participant, login_as)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=V1_EXAMPLES if operation.path.startswith("/v1") else FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def holds_contract(case):
            # Schema-valid requests may still break a business rule (an outdated consent version, answers
            # that fail the questionnaire's own rules) and get a documented 409/422; every other check stays
            # (no 5xx, documented status codes, content types, headers and bodies, auth not ignored).
            response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
            if response.status_code >= 400:
                content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
                assert content_type[0].startswith("application/problem+json"), operation.label

        holds_contract()


def test_invalid_requests_to_participant_and_staff_operations_are_refused_with_a_problem(
    app, make_participant, login_as
):
    """Negative mode: bodies, queries and path parameters that break the documented schema. Each must
    be refused (4xx problem+json, never 2xx or 5xx), whoever sends it."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.startswith("/v1")]
    assert operations
    fuzzed: list[str] = []
    for operation in operations:
        headers = _headers_for(operation.path, make_participant, login_as)

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=NEGATIVE_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def refused(case):
            response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, operation.label
            if response.status_code >= 400:
                content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
                assert content_type[0].startswith("application/problem+json"), operation.label

        try:
            refused()
        except Unsatisfiable:  # nothing to break: no body, query or path parameter
            continue
        fuzzed.append(operation.label)
    assert len(fuzzed) >= len(operations) // 2, fuzzed
