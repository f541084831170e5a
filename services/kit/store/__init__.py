"""The document store: Cosmos DB semantics over SQLite (embedded) or Cosmos DB (distributed).

A process opens one store at start-up with `open_store(settings.resolved_store_url())`,
declares its containers with `await store.open(specs)`, and hands the store to repositories.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from services.kit._clock import Clock

from ._api import (
    DOC_TYPE_FIELD,
    MAX_BATCH_OPERATIONS,
    MAX_PATCH_OPERATIONS,
    PARTITION_KEY_PATH,
    SYSTEM_PARTITION,
    BatchOp,
    Condition,
    Container,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Op,
    Order,
    Page,
    PatchOp,
    Query,
    VectorIndex,
)
from ._documents import is_valid_id, reservation_id
from ._sqlite import SqliteStore

if TYPE_CHECKING:
    from ._cosmos import CosmosStore

__all__ = [
    "DOC_TYPE_FIELD",
    "MAX_BATCH_OPERATIONS",
    "MAX_PATCH_OPERATIONS",
    "PARTITION_KEY_PATH",
    "SYSTEM_PARTITION",
    "BatchOp",
    "Condition",
    "Container",
    "ContainerSpec",
    "CosmosStore",
    "Document",
    "DocumentStore",
    "F",
    "Op",
    "Order",
    "Page",
    "PatchOp",
    "Query",
    "SqliteStore",
    "VectorIndex",
    "is_valid_id",
    "open_store",
    "reservation_id",
]

COSMOS_KEY_ENV = "CODER_COSMOS_KEY"
_SUPPORTED = "sqlite:///<path>, cosmos://<host>:<port>/<database>, cosmos+https://…"


def __getattr__(name: str) -> Any:
    # The Cosmos SDK takes half a second to import; an embedded process never needs it.
    if name == "CosmosStore":
        from ._cosmos import CosmosStore

        return CosmosStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _query_params(query: str) -> dict[str, str]:
    # Not parse_qs: it turns '+' into a space, and Cosmos keys are base64 ('+', '/', '=').
    params = {}
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        params[unquote(name)] = unquote(value)
    return params


def _flag(params: dict[str, str], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"store URL parameter {name}={value!r} is not a boolean")


def open_store(url: str, clock: Clock | None = None) -> DocumentStore:
    """The store a URL names (not opened yet: call `await store.open(specs)`).

    - `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`;
    - `cosmos://host:port/database?key=…` over HTTPS; `tls=false` for plain HTTP (test
      servers), `verify=false` to accept a self-signed certificate (the emulator);
      `cosmos+https://…` is the same as `cosmos://`. The key comes from the URL or, when
      absent there, from the `CODER_COSMOS_KEY` environment variable.

    `clock` drives document expiry in the sqlite store; Cosmos DB keeps its own time.
    """
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        if not rest.startswith("/"):
            raise ValueError(f"a sqlite store URL looks like sqlite:///<path>, got {url!r}")
        path = rest[1:]
        if not path:
            raise ValueError("the sqlite store URL has no path")
        return SqliteStore(path if path == ":memory:" else Path(path), clock=clock)
    if scheme in ("cosmos", "cosmos+https"):
        from ._cosmos import CosmosStore

        parts = urlsplit(url)
        params = _query_params(parts.query)
        database = parts.path.strip("/")
        if not parts.hostname or not database:
            raise ValueError(f"a cosmos store URL looks like cosmos://host:port/database: {url!r}")
        key = params.get("key") or os.environ.get(COSMOS_KEY_ENV)
        if not key:
            raise ValueError(f"the cosmos store needs a key: ?key=… or {COSMOS_KEY_ENV}")
        tls = _flag(params, "tls", True)
        if scheme == "cosmos+https" and not tls:
            raise ValueError("cosmos+https:// cannot be combined with tls=false")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = f":{parts.port}" if parts.port else ""
        endpoint = f"{'https' if tls else 'http'}://{host}{port}/"
        return CosmosStore(endpoint, key, database, verify_tls=_flag(params, "verify", True))
    raise ValueError(f"unsupported store URL {url!r}; supported: {_SUPPORTED}")
