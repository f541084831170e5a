"""Property-based fuzzing of the edge with schemathesis: cases generated from the OpenAPI
document, sent with a valid bearer token, must get no 5xx and responses that match the schema.

Bounded for CI: at most 25 examples per operation. The streaming Ticks probe is left out (a
generated request may ask for 1000 ticks a minute apart), and so is WatchProject (a watch of a
project that exists never ends by itself), and so are domains this test's host does not serve
(their calls would rightly be 501)."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.tokens import TokenFactory

SERVED_TAGS = "^(PlanningService|OpsService)$"
MAX_EXAMPLES = 25


def fuzz(
    base_url: str,
    token: str,
    tags: str = SERVED_TAGS,
    exclude: tuple[str, ...] = ("OpsService_Ticks", "PlanningService_WatchProject"),
    minimum_operations: int = 11,
) -> list[str]:
    """Run every operation whose tag matches `tags`, except `exclude`; the failures found,
    one line each."""
    loaded = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schema = loaded.include(tag_regex=tags)
    for operation_id in exclude:
        schema = schema.exclude(operation_id=operation_id)
    headers = {"authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            run()
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert operations >= minimum_operations, "the schema lost its operations"
    return failures


@pytest.mark.timeout(300)
async def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    base_url: str, token: TokenFactory, org: str
) -> None:
    failures = await asyncio.to_thread(fuzz, base_url, token(org=org))
    assert not failures, "\n\n".join(failures)
