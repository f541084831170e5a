"""Fixtures of the document store conformance suite: one `Harness` per backend.

- sqlite: a fresh database file per test, on a manual clock so expiry needs no waiting;
- cosmos: the Cosmos DB test server (`@vercel/cosmosdb-server`, installed by `npm ci` in
  `scripts/cosmosdb/`), started once per session on a free port; each test gets a fresh
  database. Without the server the cosmos cases are skipped on a laptop but fail under CI,
  where a silently skipped backend would hide bugs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.kit._clock import ManualClock
from services.kit.store import (
    ContainerSpec,
    CosmosStore,
    DocumentStore,
    Order,
    SqliteStore,
    VectorIndex,
)

REPO = Path(__file__).resolve().parents[3]
COSMOS_SERVER_CLI = REPO / "scripts/cosmosdb/node_modules/@vercel/cosmosdb-server/lib/cli.js"
# The Cosmos DB emulator's published well-known key; the test server accepts any key.
COSMOS_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)
READY_MARKER = "Ready to accept HTTP connections at "

ITEMS = ContainerSpec(
    "items",
    indexes=("/status", "/priority", "/labels", "/title", "/n", "/kind"),
    sorts=((Order("status"), Order("priority", descending=True)),),
)
EXPIRING_TTL = 60
EXPIRING = ContainerSpec("expiring", indexes=("/kind",), default_ttl=EXPIRING_TTL)
VECTORS = {
    distance: ContainerSpec(
        f"vectors-{distance}",
        indexes=("/kind",),
        vector=VectorIndex("/embedding", 3, distance),
    )
    for distance in ("cosine", "euclidean", "dotproduct")
}
MARKED = ContainerSpec("marked", indexes=("/title",), sparse_indexes=("/marker",))
"""Entities and a few documents marked by `marker`, as outbox documents are by `docType`."""
SPECS = [ITEMS, EXPIRING, *VECTORS.values(), MARKED]


@dataclass
class Harness:
    """A store opened with `SPECS`, which backend it is, and its clock (sqlite only)."""

    backend: str
    store: DocumentStore
    clock: ManualClock | None

    def skip_on_cosmos(self, gap: str) -> None:
        """Skip this case on the cosmos backend, naming what the test server lacks."""
        if self.backend == "cosmos":
            pytest.skip(f"cosmosdb-server {gap}")

    def elapse(self, seconds: float) -> None:
        if self.clock is None:
            raise RuntimeError("only the sqlite backend runs on a manual clock")
        self.clock.advance(seconds)


def _missing_server(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the cosmos backend)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cosmos_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of a Cosmos DB test server running for this session."""
    node = shutil.which("node")
    if node is None:
        _missing_server("node is not installed")
    if not COSMOS_SERVER_CLI.exists():
        _missing_server(
            "the Cosmos DB test server is not installed: run `npm ci` in scripts/cosmosdb"
        )
    log = tmp_path_factory.mktemp("cosmosdb") / "server.log"
    with log.open("w") as output:
        # Port 0: the server takes a free port and prints it, so no port can be raced for.
        server = subprocess.Popen(
            [str(node), str(COSMOS_SERVER_CLI), "--no-ssl", "--host", "127.0.0.1", "-p", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://{_wait_ready(server, log)}/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(server: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith(READY_MARKER):
                return line.removeprefix(READY_MARKER).strip()
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    pytest.fail(f"the Cosmos DB test server did not start:\n{log.read_text()}")


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    store: DocumentStore
    clock = None
    if request.param == "sqlite":
        clock = ManualClock()
        store = SqliteStore(tmp_path / "store.db", clock=clock)
    else:
        endpoint = request.getfixturevalue("cosmos_endpoint")
        # The server keeps data in memory and dies with the session: no database cleanup.
        store = CosmosStore(endpoint, COSMOS_KEY, f"test-{uuid.uuid4().hex[:12]}")
    await store.open(SPECS)
    try:
        yield Harness(request.param, store, clock)
    finally:
        await store.close()
