"""Schemathesis hooks of tests/integration/test_schemathesis.py, loaded by the `st` process it
starts (`SCHEMATHESIS_HOOKS`).

- **A check**: a request the document allows must not be refused for a rule the document
  states. Schemathesis's own `positive_data_acceptance` counts every 400 as "valid data
  rejected", but some refusals depend on what the schema cannot know: stored state (a page
  token of another listing, a task id that is not in the project), secrets (the current
  password), the clock (an expiry in the past). Each is a 400 with its own ErrorInfo reason,
  documented on the operation. The reasons below are the ones whose rule *is* in the
  document: JSON shape and values (the edge), protovalidate rules (the kit), update masks; and
  `STORE_REFUSED`, which is never the caller's fault. Positive data refused with one of them
  is a document that does not tell the truth.
- **A mapping**: in a generated update, `updateMask` names only fields the body sends. A mask
  naming a field the body leaves out clears that field, and a required field cannot be
  cleared: a rule between the query and the body that a JSON Schema cannot state. Bodies with
  their implied mask (no `updateMask`) are generated as they are.
- **A guard**: the run never names its own session in a path. ListSessions answers the
  session's id, schemathesis reuses answered values, and `DELETE /sessions/{id}` with it would
  revoke the token the rest of the run calls with (every later answer a 401).
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from schemathesis import HookContext

SESSION_ENV = "CODER_FUZZ_SESSION_ID"
"""The `sid` of the run's access token, set by the test."""

DOCUMENTED_RULE_REASONS = frozenset(
    {
        "MALFORMED_JSON",
        "JSON_TOO_DEEP",
        "INVALID_JSON_VALUE",
        "UNKNOWN_PARAMETER",
        "INVALID_REQUEST",
        "UPDATE_MASK_INVALID",
        "STORE_REFUSED",
    }
)
"""ErrorInfo reasons of refusals whose rule the OpenAPI document states (or, for the store,
that no valid request may meet)."""


def error_reasons(content: bytes) -> set[str]:
    """The ErrorInfo reasons of an error body `{code, message, details, requestId}`."""
    try:
        body = json.loads(content)
    except ValueError:
        return set()
    if not isinstance(body, dict) or not isinstance(body.get("details"), list):
        return set()
    return {
        str(detail.get("reason", ""))
        for detail in body["details"]
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("ErrorInfo")
    }


@schemathesis.check
def allowed_request_not_refused_by_a_documented_rule(
    ctx: Any, response: Any, case: schemathesis.Case[Any]
) -> bool | None:
    """A request generated from the schema (positive mode) answered 400 for a documented
    rule, or with no reason at all."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    reasons = error_reasons(response.content)
    if reasons == {"MALFORMED_JSON"} and isinstance(case.body, (bool, int, float, str, list)):
        # Every request body the document states is an object; the coverage phase labels a
        # scalar body (`0`) positive when it varies another part of the request.
        return None
    broken = reasons & DOCUMENTED_RULE_REASONS
    if broken or not reasons:
        raise AssertionError(
            "a request the document allows was refused for a rule the document states: "
            + (", ".join(sorted(broken)) or "no ErrorInfo reason")
        )
    return None


MASK_PARAMETER = "updateMask"


def another_session(session: str) -> str:
    """An id of the same shape as `session` that names no session: its last character changed."""
    return session[:-1] + ("1" if session.endswith("0") else "0")


def spare_own_session(case: schemathesis.Case[Any]) -> None:
    """Rename the run's own session wherever a path names it. A mapping rather than a filter:
    every phase (the coverage phase included, which reuses answered values without consulting
    `filter_path_parameters`) passes each case through `map_case`."""
    session = os.environ.get(SESSION_ENV, "")
    parameters = case.path_parameters
    if not session or not isinstance(parameters, dict):
        return
    for name, value in parameters.items():
        if value == session:
            parameters[name] = another_session(session)


@schemathesis.hook
def map_case(context: HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    spare_own_session(case)
    meta = case.meta
    query = case.query
    if meta is None or not meta.generation.mode.is_positive or not isinstance(query, dict):
        return case
    mask = query.get(MASK_PARAMETER)
    if not isinstance(mask, str) or not mask:
        return case
    sent = case.body if isinstance(case.body, dict) else {}
    kept = [path for path in mask.split(",") if path in sent]
    if kept:
        query[MASK_PARAMETER] = ",".join(kept)
    else:
        del query[MASK_PARAMETER]
    return case
