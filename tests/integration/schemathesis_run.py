"""Schemathesis over the API the suite serves, run as its CLI (`st run`) against the
integration edge with an owner's token, so what the fuzzer finds is what a client following
the document would meet. The test modules `test_schemathesis*.py` each run one group of
operations on their own module's host, so xdist runs the groups side by side; every operation
not in a named group is in the first one (`REST_OF_THE_API`), so a new service is fuzzed
from the day it lands.

Phases: coverage (boundaries and wrong types of every parameter, unexpected methods), fuzzing
(`MAX_EXAMPLES` cases per operation, positive and negative) and stateful (chains along the
document's own links: a create, then the operations on what it created; no inferred links, so
every chain is one the document promises). Every check runs: no 5xx, answers, headers and
statuses as documented, schema-valid requests accepted and schema-violating ones refused
(ST201/ST202), `Allow` on 405, no use after delete, auth honoured. A 400 for a schema-valid
request passes only with a reason whose rule the document cannot state (the check in
`schemathesis_hooks`); every other 400 is a document that does not tell the truth.

Repeatable and bounded: a fixed seed, one worker per group, cheap password hashing (hundreds
of sign-ups and sign-ins; the hash's cost is not under test).

Left out: the Ticks stream (a generated request may ask for hours of ticks), the WatchProject
and WatchNotifications streams (a watch never ends by itself), OIDC (no provider
is configured here, so those routes rightly answer 404) and the OAuth token endpoint (its
refusals follow RFC 6749, not the API's error body).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.openapi import TENANT_PARAMETER
from tests.integration import schemathesis_hooks

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 50
SEED = 20261202
EXCLUDED = (
    "OpsService_Ticks",
    "PlanningService_WatchProject",
    "NotificationService_WatchNotifications",
    "Auth_Token",
    "Auth_OidcLogin",
    "Auth_OidcCallback",
)

POSITIVE_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "429"]
"""What a schema-valid request may get: schemathesis's defaults, plus 400 (judged by the hooks'
check by its reason) and 412 (an etag the fuzzer made up is not the stored one)."""
NEGATIVE_STATUSES = [
    *("400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"),
    # The front door's refusals of what is too large to read (a long query, a huge header).
    *("413", "414", "431"),
]


@pytest.fixture(scope="module", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Read by identity when the module's host starts (`services.identity.definition`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CODER_IDENTITY_ARGON2_TIME_COST", "1")
        patch.setenv("CODER_IDENTITY_ARGON2_MEMORY_KIB", "1024")
        patch.setenv("CODER_IDENTITY_ARGON2_PARALLELISM", "1")
        yield


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (already verified by whoever issued it to us)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def tenant_parameters(document: dict[str, Any]) -> set[str]:
    """The path parameters naming the caller's organization (edge.openapi.TENANT_PARAMETER):
    given the owner's, so the fuzzer reaches what is behind them (any other organization is a
    403 for this token, whatever the request)."""
    return {
        parameter["name"]
        for item in document["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"].endswith(TENANT_PARAMETER)
    }


def config(organization_id: str, tenant_names: set[str]) -> str:
    """The run's `schemathesis.toml`."""
    tenant = "\n".join(f'"path.{name}" = "{organization_id}"' for name in sorted(tenant_names))
    return f"""
[phases.stateful.inference]
algorithms = []

[parameters]
{tenant}

[checks.positive_data_acceptance]
expected-statuses = {json.dumps(POSITIVE_STATUSES)}

[checks.negative_data_rejection]
expected-statuses = {json.dumps(NEGATIVE_STATUSES)}
"""


GROUPS = {
    "prompt-usage": r"^/api/v1/(prompt|usage)/",
    "secret-ai-notification": r"^/api/v1/(secret|ai|notification)/",
    "knowledge": r"^/api/v1/(embeddings|knowledge|mcp)/",
}
"""Operations fuzzed apart from the rest, by path; each has a test module of its own."""
REST_OF_THE_API = ""
"""The group of every operation no named group holds (identity, planning, ops, sign-in, …)."""


async def fuzz(edge_url: str, tmp_path: Path, group: str) -> None:
    """Run schemathesis over `group`'s operations (a key of `GROUPS`, or `REST_OF_THE_API`)
    and fail with its report when it finds anything."""
    if group == REST_OF_THE_API:
        # One regex: given several times, the option keeps only the last.
        selection = ["--exclude-path-regex", "|".join(f"(?:{r})" for r in GROUPS.values())]
    else:
        selection = ["--include-path-regex", GROUPS[group]]
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as client:
        owner = await client.post(
            "/auth/register",
            json={
                "email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com",
                "password": "correct horse battery staple",
                "displayName": "Fuzz",
                "organizationName": "Fuzz",
                "returnRefreshToken": True,
            },
        )
        document = (await client.get("/openapi.json")).json()
    assert owner.status_code == 201, owner.text
    token = owner.json()["accessToken"]
    claimed = claims(token)
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(config(claimed["org"], tenant_parameters(document)))
    command = [
        str(ST),
        "--config-file",
        str(settings),
        "run",
        f"{edge_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        *selection,
        *(argument for name in EXCLUDED for argument in ("--exclude-operation-id", name)),
    ]
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": schemathesis_hooks.__name__,
        schemathesis_hooks.SESSION_ENV: claimed["sid"],
    }
    # The edge answers on this process's loop while the fuzzer runs in its own.
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    print(report)  # shown with the test's output: the phases, links covered and warnings
    assert process.returncode == 0, report[-20_000:]
    covered = re.search(r"API Links:\s+(\d+) covered", report)
    assert covered is not None and int(covered[1]) > 0, "no chain along the links ran"
