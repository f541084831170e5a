"""The document store port: Cosmos DB semantics, two backends (sqlite, cosmos).

Every document is a JSON object with a string `id`, stored in a container under a partition
key. The partition key is the organization id, or `SYSTEM_PARTITION` for platform-wide
documents. Reads return the stored document with two system properties added, `_etag`
(opaque version) and `_ts` (last write, epoch seconds), as Cosmos DB does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

Document: TypeAlias = dict[str, Any]

SYSTEM_PARTITION = "_system"
PARTITION_KEY_PATH = "/organizationId"
"""Every container is partitioned on this document field; the store sets it on write."""

DOC_TYPE_FIELD = "docType"
"""Marks documents of the bus machinery (outbox events, inbox markers) that share a container
with a service's entities; entity documents never carry it."""


@dataclass(frozen=True, slots=True)
class VectorIndex:
    """A vector field searched by `Container.nearest`."""

    path: str
    dimensions: int
    distance: Literal["cosine", "euclidean", "dotproduct"] = "cosine"


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """What a service declares about one of its containers, at start-up.

    `indexes` are the scalar JSON paths (`/projectId`, `/status`) the service filters or sorts on;
    the sqlite backend builds expression indexes for them, the cosmos backend puts them in the
    container's indexing policy. A query may order by one of these paths; ordering by several
    fields needs that combination declared in `sorts` (Cosmos DB serves a multi-field ORDER BY
    only from a composite index, so both backends refuse an undeclared one).

    `default_ttl` (seconds) is the expiry of documents without their own `ttl`; a document's
    integer `ttl` field overrides it (-1 never expires), as in Cosmos DB. Per-document `ttl`
    works on every container, with or without a default.

    `sparse_indexes` are paths that only a few documents of the container have (the bus's
    `docType` marker) and that a query across partitions (`partition=None`: platform jobs such
    as the outbox relay) looks up by equality, in `id` order. The sqlite backend gives each an
    index over just the documents that have the field, not led by the partition, and keeps
    those documents out of the container's other indexes, so writing one touches two indexes
    rather than all; a query uses those other indexes when it skips the marked documents with
    `F(path).defined(False)` (as repositories do with `ENTITIES_ONLY`), and still gives the
    same results without it, reading the partition instead. Cosmos DB indexes every path.

    `outbox=True` says the container also holds bus documents (the transactional outbox's
    events, written in the same batch as the state change, and inbox markers): their `docType`
    path is declared, as an index and a sparse index, and the process's outbox relay watches
    the container.
    """

    name: str
    indexes: tuple[str, ...] = ()
    default_ttl: int | None = None
    vector: VectorIndex | None = None
    sorts: tuple[tuple[Order, ...], ...] = ()
    sparse_indexes: tuple[str, ...] = ()
    outbox: bool = False

    def __post_init__(self) -> None:
        marker = f"/{DOC_TYPE_FIELD}"
        if self.outbox and marker not in self.indexes:
            object.__setattr__(self, "indexes", (*self.indexes, marker))
        if self.outbox and marker not in self.sparse_indexes:
            object.__setattr__(self, "sparse_indexes", (*self.sparse_indexes, marker))


# --- query builder -------------------------------------------------------------------------

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "array_contains", "starts_with", "defined"]


@dataclass(frozen=True, slots=True)
class Condition:
    """One predicate on a document field, addressed by a dotted path (`status`, `a.b`)."""

    path: str
    op: Op
    value: Any = None


class F:
    """A field reference that builds conditions: `F("status").in_(["to_do"])`."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return Condition(self.path, "eq", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return Condition(self.path, "ne", value)

    def __lt__(self, value: Any) -> Condition:
        return Condition(self.path, "lt", value)

    def __le__(self, value: Any) -> Condition:
        return Condition(self.path, "le", value)

    def __gt__(self, value: Any) -> Condition:
        return Condition(self.path, "gt", value)

    def __ge__(self, value: Any) -> Condition:
        return Condition(self.path, "ge", value)

    def __hash__(self) -> int:
        return hash(self.path)

    def in_(self, values: Sequence[Any]) -> Condition:
        return Condition(self.path, "in", tuple(values))

    def contains(self, value: Any) -> Condition:
        """The array at this path contains `value` (ARRAY_CONTAINS)."""
        return Condition(self.path, "array_contains", value)

    def startswith(self, prefix: str) -> Condition:
        return Condition(self.path, "starts_with", prefix)

    def defined(self, present: bool = True) -> Condition:
        """The field is present (IS_DEFINED) or, with `present=False`, absent."""
        return Condition(self.path, "defined", present)


@dataclass(frozen=True, slots=True)
class Order:
    """One sort key of a query, addressed by a dotted path like `Condition`."""

    path: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """An immutable query: AND of conditions, ordering, page size and continuation.

    Build it fluently: `Query().where(F("projectId") == pid).order_by("createTime", desc=True)
    .limit(50)`. Ordering always ends with `id`, in the direction of the last sort key, so
    pages are stable; without `order_by` results come in `id` order.
    """

    conditions: tuple[Condition, ...] = ()
    ordering: tuple[Order, ...] = ()
    page_size: int | None = None
    continuation: str | None = None

    def where(self, *conditions: Condition) -> Query:
        return Query(self.conditions + conditions, self.ordering, self.page_size, self.continuation)

    def order_by(self, path: str, *, desc: bool = False) -> Query:
        order = (*self.ordering, Order(path, desc))
        return Query(self.conditions, order, self.page_size, self.continuation)

    def limit(self, page_size: int) -> Query:
        return Query(self.conditions, self.ordering, page_size, self.continuation)

    def after(self, continuation: str | None) -> Query:
        return Query(self.conditions, self.ordering, self.page_size, continuation or None)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query: its documents and the token of the next page (None at the end)."""

    items: list[Document]
    continuation: str | None = None


# --- writes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatchOp:
    """One Cosmos-style patch operation on a path (`/status`, `/labels/-`)."""

    op: Literal["add", "set", "replace", "remove", "incr"]
    path: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class BatchOp:
    """One operation of an atomic batch inside one partition of one container."""

    kind: Literal["create", "upsert", "replace", "patch", "delete"]
    document: Document | None = None
    id: str | None = None
    if_match: str | None = None
    patch: tuple[PatchOp, ...] = field(default=())

    @staticmethod
    def create(document: Document) -> BatchOp:
        return BatchOp("create", document=document)

    @staticmethod
    def upsert(document: Document) -> BatchOp:
        return BatchOp("upsert", document=document)

    @staticmethod
    def replace(document: Document, *, if_match: str | None = None) -> BatchOp:
        return BatchOp("replace", document=document, if_match=if_match)

    @staticmethod
    def patch_doc(id: str, ops: Sequence[PatchOp], *, if_match: str | None = None) -> BatchOp:
        return BatchOp("patch", id=id, patch=tuple(ops), if_match=if_match)

    @staticmethod
    def delete(id: str, *, if_match: str | None = None) -> BatchOp:
        return BatchOp("delete", id=id, if_match=if_match)


MAX_BATCH_OPERATIONS = 100
"""Cosmos DB's limit on a transactional batch; both backends refuse larger batches."""

MAX_PATCH_OPERATIONS = 10
"""Cosmos DB's limit on the operations of one patch; both backends refuse longer patches."""


class Container(Protocol):
    """One container of documents. Every method is scoped to one partition unless it says not."""

    spec: ContainerSpec

    async def create(self, partition: str, document: Document) -> Document:
        """Insert; `DocumentExists` when the id is taken in that partition."""
        ...

    async def upsert(self, partition: str, document: Document) -> Document:
        """Insert or overwrite unconditionally."""
        ...

    async def get(self, partition: str, id: str) -> Document | None:
        """The document, or None when absent (or expired)."""
        ...

    async def replace(
        self, partition: str, document: Document, *, if_match: str | None = None
    ) -> Document:
        """Overwrite an existing document; `DocumentNotFound`, or `EtagMismatch` when
        `if_match` is given and the stored `_etag` differs (nothing is written)."""
        ...

    async def patch(
        self, partition: str, id: str, ops: Sequence[PatchOp], *, if_match: str | None = None
    ) -> Document:
        """Apply patch operations atomically; same errors as `replace`. At most
        `MAX_PATCH_OPERATIONS`; `replace`/`remove` of an absent node, `incr` of a non-number
        and any path under `/id`, `/organizationId` or `/_…` are `InvalidArgument`."""
        ...

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> None:
        """Remove; `DocumentNotFound`, or `EtagMismatch` on a stale `if_match`."""
        ...

    async def query(self, query: Query, *, partition: str | None) -> Page:
        """One page of matching documents. `partition=None` queries across partitions
        (platform jobs such as the outbox relay only; services always pass one)."""
        ...

    async def count(self, query: Query, *, partition: str | None) -> int:
        """How many documents match (ordering and paging ignored)."""
        ...

    async def batch(self, partition: str, operations: Sequence[BatchOp]) -> list[Document]:
        """Apply all operations or none (Cosmos transactional batch). Returns the written
        documents in order (deletes give an empty dict). The first failing operation's error
        is raised and nothing is written."""
        ...

    async def nearest(
        self,
        partition: str,
        vector: Sequence[float],
        k: int,
        *,
        where: Query | None = None,
    ) -> list[tuple[Document, float]]:
        """The k documents closest to `vector` on the container's vector index, with their
        distance score (cosine similarity for cosine, as Cosmos' VectorDistance returns)."""
        ...


class DocumentStore(Protocol):
    """A database of containers. Created at start-up, closed at shutdown."""

    async def open(self, specs: Sequence[ContainerSpec]) -> None:
        """Connect and create (or update) the given containers; idempotent."""
        ...

    def container(self, name: str) -> Container:
        """A container opened earlier; KeyError if it was not declared."""
        ...

    async def ping(self) -> None:
        """Raise when the backend is not reachable (used by readiness)."""
        ...

    async def close(self) -> None: ...
