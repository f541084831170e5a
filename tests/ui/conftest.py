"""One real `coder dev` (every service, the edge and the built web UI on free ports, state in a
temporary folder) for the whole UI end-to-end run, and the owner account it created. Sign-in
through OpenID Connect is configured as the tests of identity and the edge configure it, with a
real provider process (tests/fixtures/oidc_provider.py) named `mock`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.ai.providers import LocalProvider, local_provider
from tests.cli.processes import Output, free_port
from tests.fixtures.oidc_provider import oidc_provider_process
from tests.mcp.external import External, serving_external

ROOT = Path(__file__).resolve().parents[2]
OIDC_CLIENT_ID = "coder-ui-e2e"
OIDC_CLIENT_SECRET = "ui-e2e-secret"
UI = ROOT / "ui"
CHROMIUM = Path("/usr/bin/chromium")


def npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", "--prefix", str(UI), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"},
    )


def require_ui_dependencies() -> None:
    if not (UI / "node_modules" / ".bin" / "next").exists():
        pytest.fail("the UI's npm dependencies are missing: run `make ui-deps`")


@dataclass(frozen=True)
class Suite:
    """A running `coder dev`: where its UI and edge answer, and the owner's credentials."""

    ui_url: str
    edge_url: str
    owner_email: str
    owner_password: str
    oidc_issuer: str
    output: Output


T = TypeVar("T")


def in_thread(serving: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """What an async context manager serves, kept running on its own event loop in a thread
    until the generator is closed."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    holder: list[T] = []

    async def serve() -> None:
        async with serving() as served:
            holder.append(served)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), f"{serving.__name__} did not start"
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@pytest.fixture(scope="session")
def model_provider() -> Iterator[LocalProvider]:
    """The local model server of the AI tests (OpenAI's and Anthropic's wire protocols), for
    the playground to stream from through the AI service."""
    yield from in_thread(local_provider)


@pytest.fixture(scope="session")
def mcp_server() -> Iterator[External]:
    """The MCP tests' external server (echo, explode, wait), for the registry page to register
    and its tool to be tried through the gateway."""
    yield from in_thread(serving_external)


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    """A real OpenID Connect provider (oidc-provider-mock) in its own process."""
    with oidc_provider_process() as issuer:
        yield issuer


def oidc_environment(issuer: str, ui_url: str) -> dict[str, str]:
    """Identity accepts the provider's ID tokens; the edge runs the browser flow with it (and
    the UI shows its button, from the same variable); the provider sends the browser back to
    the UI's BFF, which fronts the edge's /auth (docs: ui/README.md, Sign-in)."""
    return {
        "CODER_IDENTITY_OIDC_PROVIDERS": json.dumps(
            {"mock": {"issuer": issuer, "client_id": OIDC_CLIENT_ID}}
        ),
        "CODER_EDGE_OIDC_PROVIDERS": json.dumps(
            {
                "mock": {
                    "discoveryUrl": f"{issuer}/.well-known/openid-configuration",
                    "clientId": OIDC_CLIENT_ID,
                    "clientSecret": OIDC_CLIENT_SECRET,
                }
            }
        ),
        "CODER_EDGE_PUBLIC_URL": f"{ui_url}/api",
    }


@pytest.fixture(scope="session")
def built_ui() -> Path:
    """`npm run build` (ESLint with no warnings, the type check, `next build`) must pass."""
    require_ui_dependencies()
    built = npm("run", "build", timeout=900)
    assert built.returncode == 0, built.stdout[-8000:] + built.stderr[-8000:]
    return UI / ".next" / "BUILD_ID"


@pytest.fixture(scope="session")
def suite(
    built_ui: Path, oidc_issuer: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    data = tmp_path_factory.mktemp("coder-dev")
    port, edge_port, ui_port = free_port(), free_port(), free_port()
    ui_url = f"http://127.0.0.1:{ui_port}"
    env = {
        **os.environ,
        "CODER_DATA_DIR": str(data),
        "CODER_LOG_LEVEL": "warning",
        "CODER_DEV_UI_PORT": str(ui_port),
        "CODER_DEV_TEMPORAL_PORT": str(free_port()),
        # Every browser of the run signs in through the UI's server, so the edge sees one
        # client IP for all of them; its per-IP sign-in limits are for the internet.
        "CODER_EDGE_AUTH_LOGIN_LIMIT": "1000",
        "CODER_EDGE_AUTH_LIMIT": "10000",
        "NO_COLOR": "1",
        **oidc_environment(oidc_issuer, ui_url),
    }
    for name in ("CODER_STORE_URL", "CODER_BUS_URL", "CODER_CACHE_URL", "CODER_DEV_COMPANIONS"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "dev", "--port", str(port), "--edge-port", str(edge_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = Output(process)
    try:
        password = output.wait_for(r"password: (\S+)", within=90).group(1)
        output.wait_for(re.escape(f"coder: open {ui_url} in a browser"), within=90)
        yield Suite(
            ui_url,
            f"http://127.0.0.1:{edge_port}",
            "owner@coder.localhost",
            password,
            oidc_issuer,
            output,
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()
