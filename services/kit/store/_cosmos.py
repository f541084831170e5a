# ruff: noqa: S608 - query text is assembled from validated field names and constant fragments;
# every value is a named parameter.
"""The distributed document store: Azure Cosmos DB for NoSQL through the async Python SDK.

Every container is partitioned on `/organizationId`. Queries are parameterized SQL built from
the `Query` conditions; pages use the SDK's continuation tokens; conditional writes send the
caller's etag with `MatchConditions.IfNotModified`; batches are Cosmos transactional batches.

Every partition-scoped query also filters on `c.organizationId`: Cosmos DB routes the query by
the partition key header alone, but the filter costs nothing there and is what makes the
Cosmos DB test server (which ignores that header) scope the query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from azure.core import MatchConditions
from azure.core.async_paging import AsyncItemPaged, AsyncPageIterator
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import (
    CosmosBatchOperationError,
    CosmosHttpResponseError,
    CosmosResourceNotFoundError,
)

from services.kit._errors import (
    DocumentExists,
    DocumentNotFound,
    DomainError,
    EtagMismatch,
    FieldViolation,
    StoreRefused,
)

from ._api import (
    PARTITION_KEY_PATH,
    BatchOp,
    Condition,
    Container,
    ContainerSpec,
    Document,
    Order,
    Page,
    PatchOp,
    Query,
)
from ._documents import (
    PARTITION_FIELD,
    batch_failure,
    check_batch,
    check_id,
    check_partition,
    check_patch,
    prepare_write,
    strip_cosmos_properties,
)
from ._paths import (
    check_condition,
    check_container_name,
    composite_orders,
    dotted_to_pointer,
    field_segments,
    pointer_to_dotted,
    resolve_ordering,
)

# Keywords of the Cosmos DB query language; a property with one of these names must be read as
# c["name"], not c.name.
_RESERVED = frozenset(
    {
        "and", "array", "as", "asc", "between", "by", "case", "cast", "convert", "cross",
        "desc", "distinct", "else", "end", "escape", "exists", "false", "for", "from", "group",
        "having", "in", "inner", "insert", "into", "is", "join", "left", "like", "limit", "not",
        "null", "offset", "on", "or", "order", "outer", "over", "right", "select", "set",
        "then", "top", "true", "udf", "undefined", "update", "value", "when", "where", "with",
    }
)  # fmt: skip

_RANGE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _property(path: str) -> str:
    """`a.b` → `c.a.b` (bracketed where a segment is a keyword)."""
    expression = "c"
    for segment in field_segments(path):
        expression += f'["{segment}"]' if segment.lower() in _RESERVED else f".{segment}"
    return expression


class _Parameters:
    """Collects query parameters and hands out their names (`@p0`, `@p1`, …)."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []

    def add(self, value: Any) -> str:
        name = f"@p{len(self.values)}"
        self.values.append(
            {"name": name, "value": list(value) if isinstance(value, tuple) else value}
        )
        return name


def _condition(condition: Condition, params: _Parameters) -> str:
    check_condition(condition)
    target, op, value = _property(condition.path), condition.op, condition.value
    if op == "eq":
        return f"{target} = {params.add(value)}"
    if op == "ne":
        return f"{target} != {params.add(value)}"
    if op in _RANGE:
        return f"{target} {_RANGE[op]} {params.add(value)}"
    if op == "in":
        if not value:
            return "false"
        return f"{target} IN ({', '.join(params.add(item) for item in value)})"
    if op == "array_contains":
        return f"ARRAY_CONTAINS({target}, {params.add(value)})"
    if op == "starts_with":
        return f"STARTSWITH({target}, {params.add(value)})"
    return f"IS_DEFINED({target})" if value else f"NOT IS_DEFINED({target})"


def _where(conditions: Sequence[Condition], partition: str | None, params: _Parameters) -> str:
    clauses = []
    if partition is not None:
        clauses.append(f"c.{PARTITION_FIELD} = {params.add(partition)}")
    clauses += [_condition(condition, params) for condition in conditions]
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _order_by(ordering: Sequence[Order]) -> str:
    keys = ", ".join(
        f"{_property(order.path)} {'DESC' if order.descending else 'ASC'}" for order in ordering
    )
    return f" ORDER BY {keys}"


def indexing_policy(spec: ContainerSpec) -> dict[str, Any]:
    """Index every path (Cosmos' recommended opt-out policy), add a composite index for each
    declared sort with its id tiebreak, and a vector index kept out of the range index."""
    excluded = [{"path": '/"_etag"/?'}]
    policy: dict[str, Any] = {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": excluded,
        "compositeIndexes": [
            [
                {
                    "path": dotted_to_pointer(order.path),
                    "order": "descending" if order.descending else "ascending",
                }
                for order in orders
            ]
            for orders in composite_orders(spec)
        ],
    }
    if spec.vector is not None:
        pointer_to_dotted(spec.vector.path)
        excluded.append({"path": f"{spec.vector.path}/*"})
        policy["vectorIndexes"] = [{"path": spec.vector.path, "type": "quantizedFlat"}]
    return policy


def vector_embedding_policy(spec: ContainerSpec) -> dict[str, Any] | None:
    if spec.vector is None:
        return None
    embedding = {
        "path": spec.vector.path,
        "dataType": "float32",
        "distanceFunction": spec.vector.distance,
        "dimensions": spec.vector.dimensions,
    }
    return {"vectorEmbeddings": [embedding]}


def _policy_shape(policy: dict[str, Any]) -> tuple[Any, ...]:
    """What of an indexing policy this store manages, comparable across Cosmos' echo of it."""
    composites = {
        tuple((index["path"], index.get("order", "ascending")) for index in composite)
        for composite in policy.get("compositeIndexes", [])
    }
    excluded = {entry["path"] for entry in policy.get("excludedPaths", [])}
    vectors = {(entry["path"], entry.get("type")) for entry in policy.get("vectorIndexes", [])}
    return frozenset(composites), frozenset(excluded), frozenset(vectors)


def _error(status: int | None, message: str, what: str) -> DomainError | None:
    if status == 404:
        return DocumentNotFound(f"no {what}")
    if status == 409:
        return DocumentExists(f"{what} already exists")
    if status == 412:
        return EtagMismatch(f"{what} was changed by another writer")
    if status in (400, 413):
        return StoreRefused(f"Cosmos DB refused the request on {what}: {message}")
    return None


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn Cosmos DB's answers for one document into the store's domain errors."""
    try:
        yield
    except CosmosHttpResponseError as error:
        domain = _error(error.status_code, str(error.message), what)
        if domain is None:
            raise
        raise domain from error


def _conditional(if_match: str | None) -> dict[str, Any]:
    if if_match is None:
        return {}
    return {"etag": if_match, "match_condition": MatchConditions.IfNotModified}


def _patch_operations(ops: Sequence[PatchOp]) -> list[dict[str, Any]]:
    return [
        {"op": op.op, "path": op.path}
        if op.op == "remove"
        else {"op": op.op, "path": op.path, "value": op.value}
        for op in ops
    ]


def _clean(item: dict[str, Any]) -> Document:
    return strip_cosmos_properties(dict(item))


class CosmosStore:
    """`DocumentStore` over one Cosmos DB database (created when missing)."""

    def __init__(self, endpoint: str, key: str, database: str, *, verify_tls: bool = True) -> None:
        self._endpoint = endpoint
        self._key = key
        self._database_name = database
        self._verify_tls = verify_tls
        self._client: CosmosClient | None = None
        self._database: DatabaseProxy | None = None
        self._containers: dict[str, CosmosContainer] = {}

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def database_name(self) -> str:
        return self._database_name

    @property
    def verify_tls(self) -> bool:
        return self._verify_tls

    @property
    def database(self) -> DatabaseProxy:
        if self._database is None:
            raise RuntimeError("the store is not open")
        return self._database

    async def open(self, specs: Sequence[ContainerSpec]) -> None:
        """Connect, then create the database and each container, or bring an existing
        container's indexing policy and default TTL up to date (its vector embedding policy
        is fixed at creation by Cosmos DB)."""
        if self._client is None:
            # A local endpoint over plain HTTP (a test server) advertises https:// addresses
            # for its regions that it does not serve; only discover regions over HTTPS.
            self._client = CosmosClient(
                self._endpoint,
                credential=self._key,
                connection_verify=self._verify_tls,
                enable_endpoint_discovery=self._endpoint.startswith("https://"),
            )
            self._database = await self._client.create_database_if_not_exists(self._database_name)
        for spec in specs:
            proxy = await self._ensure_container(spec)
            self._containers[spec.name] = CosmosContainer(proxy, spec)

    async def _ensure_container(self, spec: ContainerSpec) -> ContainerProxy:
        check_container_name(spec.name)
        policy = indexing_policy(spec)
        default_ttl = spec.default_ttl if spec.default_ttl is not None else -1
        partition_key = PartitionKey(path=PARTITION_KEY_PATH)
        # Cosmos DB honours a document's own `ttl` only when the container has a default;
        # -1 turns expiry on without expiring anything by default.
        proxy = await self.database.create_container_if_not_exists(
            id=spec.name,
            partition_key=partition_key,
            indexing_policy=policy,
            default_ttl=default_ttl,
            vector_embedding_policy=vector_embedding_policy(spec),
        )
        properties = await proxy.read()
        current_policy = properties.get("indexingPolicy", {})
        if properties.get("defaultTtl") == default_ttl and _policy_shape(
            current_policy
        ) == _policy_shape(policy):
            return proxy
        return await self.database.replace_container(
            proxy,
            partition_key=partition_key,
            indexing_policy=policy,
            default_ttl=default_ttl,
            vector_embedding_policy=properties.get("vectorEmbeddingPolicy"),
        )

    def container(self, name: str) -> CosmosContainer:
        return self._containers[name]

    async def ping(self) -> None:
        await self.database.read()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client, self._database = self._client, None, None
            await client.close()


class CosmosContainer(Container):
    """One container of a `CosmosStore`."""

    def __init__(self, proxy: ContainerProxy, spec: ContainerSpec) -> None:
        self.spec = spec
        self._proxy = proxy
        self._vector_property = (
            _property(pointer_to_dotted(spec.vector.path)) if spec.vector is not None else ""
        )

    def _what(self, id: str) -> str:
        return f"document {id!r} in {self.spec.name}"

    async def create(self, partition: str, document: Document) -> Document:
        body = prepare_write(partition, document)
        with _translated(self._what(body["id"])):
            return _clean(await self._proxy.create_item(body=body))

    async def upsert(self, partition: str, document: Document) -> Document:
        body = prepare_write(partition, document)
        with _translated(self._what(body["id"])):
            return _clean(await self._proxy.upsert_item(body=body))

    async def get(self, partition: str, id: str) -> Document | None:
        check_partition(partition)
        check_id(id)
        try:
            return _clean(await self._proxy.read_item(item=id, partition_key=partition))
        except CosmosResourceNotFoundError:
            return None
        except CosmosHttpResponseError as error:
            # The Cosmos DB test server (@vercel/cosmosdb-server) answers a read of a missing
            # document with 500 ("Cannot read properties of undefined"); Cosmos DB answers 404.
            # A query by id gives the right answer from either, so a 500 falls back to one.
            if error.status_code != 500:
                raise
        query = Query().where(Condition("id", "eq", id))
        page = await self.query(query, partition=partition)
        return page.items[0] if page.items else None

    async def replace(
        self, partition: str, document: Document, *, if_match: str | None = None
    ) -> Document:
        body = prepare_write(partition, document)
        with _translated(self._what(body["id"])):
            return _clean(
                await self._proxy.replace_item(item=body["id"], body=body, **_conditional(if_match))
            )

    async def patch(
        self, partition: str, id: str, ops: Sequence[PatchOp], *, if_match: str | None = None
    ) -> Document:
        check_partition(partition)
        check_id(id)
        check_patch(ops)
        with _translated(self._what(id)):
            return _clean(
                await self._proxy.patch_item(
                    item=id,
                    partition_key=partition,
                    patch_operations=_patch_operations(ops),
                    **_conditional(if_match),
                )
            )

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> None:
        check_partition(partition)
        check_id(id)
        with _translated(self._what(id)):
            await self._proxy.delete_item(
                item=id, partition_key=partition, **_conditional(if_match)
            )

    async def batch(self, partition: str, operations: Sequence[BatchOp]) -> list[Document]:
        check_batch(partition, operations)
        if not operations:
            return []
        batch = [self._batch_operation(partition, op) for op in operations]
        try:
            results = await self._proxy.execute_item_batch(
                batch_operations=batch, partition_key=partition
            )
        except CosmosBatchOperationError as error:
            index = error.error_index
            op = operations[index]
            what = self._what(op.id or (op.document or {}).get("id", "?"))
            domain = _error(error.status_code, str(error.message), what)
            if domain is None:
                raise
            raise batch_failure(index, op, domain) from error
        return [_clean(result.get("resourceBody") or {}) for result in results]

    @staticmethod
    def _batch_operation(partition: str, op: BatchOp) -> tuple[Any, ...]:
        condition = {"if_match_etag": op.if_match} if op.if_match is not None else {}
        if op.kind == "delete":
            return ("delete", (check_id(op.id),), condition)
        if op.kind == "patch":
            return ("patch", (check_id(op.id), _patch_operations(op.patch)), condition)
        body = prepare_write(partition, op.document or {})
        if op.kind == "replace":
            return ("replace", (body["id"], body), condition)
        return (op.kind, (body,))

    def _items(
        self,
        sql: str,
        params: _Parameters,
        partition: str | None,
        page_size: int | None = None,
    ) -> AsyncItemPaged[dict[str, Any]]:
        if partition is None:
            return self._proxy.query_items(
                query=sql, parameters=params.values, max_item_count=page_size
            )
        return self._proxy.query_items(
            query=sql,
            parameters=params.values,
            partition_key=partition,
            max_item_count=page_size,
        )

    def _sql(self, select: str, query: Query, partition: str | None) -> tuple[str, _Parameters]:
        params = _Parameters()
        return f"SELECT {select} FROM c{_where(query.conditions, partition, params)}", params

    async def query(self, query: Query, *, partition: str | None) -> Page:
        if query.page_size is not None and query.page_size < 1:
            raise StoreRefused(
                "page size must be positive",
                violations=[FieldViolation("page_size", "must be at least 1")],
            )
        ordering = resolve_ordering(self.spec, query.ordering)
        sql, params = self._sql("*", query, partition)
        items = self._items(sql + _order_by(ordering), params, partition, query.page_size)
        with _translated(f"a query of {self.spec.name}"):
            if query.page_size is None and query.continuation is None:
                return Page([_clean(item) async for item in items])
            # `by_page` is typed as a plain iterator; it is an AsyncPageIterator, which carries
            # the token of the next page.
            pages = cast(AsyncPageIterator[dict[str, Any]], items.by_page(query.continuation))
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                return Page([])
            except (ValueError, TypeError, KeyError) as error:
                raise StoreRefused(
                    "the continuation token is invalid",
                    violations=[FieldViolation("page_token", "not a token of this query")],
                ) from error
            documents = [_clean(item) async for item in page]
        return Page(documents, pages.continuation_token or None)

    async def count(self, query: Query, *, partition: str | None) -> int:
        sql, params = self._sql("VALUE COUNT(1)", query, partition)
        total = 0
        with _translated(f"a count of {self.spec.name}"):
            # Summed: a cross-partition count may arrive as one partial count per partition.
            async for value in self._items(sql, params, partition):
                total += cast(int, value)
        return total

    async def nearest(
        self,
        partition: str,
        vector: Sequence[float],
        k: int,
        *,
        where: Query | None = None,
    ) -> list[tuple[Document, float]]:
        index = self.spec.vector
        if index is None:
            raise StoreRefused(f"container {self.spec.name!r} has no vector index")
        values = list(vector)
        if len(values) != index.dimensions or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in values
        ):
            raise StoreRefused(
                f"the query vector must have {index.dimensions} numbers",
                violations=[FieldViolation("vector", f"expected {index.dimensions} dimensions")],
            )
        check_partition(partition)
        if k < 1:
            return []
        params = _Parameters()
        top = params.add(k)
        embedding = params.add([float(x) for x in values])
        distance = f"VectorDistance({self._vector_property}, {embedding})"
        conditions = where.conditions if where is not None else ()
        # No ASC/DESC: Cosmos DB orders VectorDistance most-similar first for every metric.
        sql = (
            f"SELECT TOP {top} c AS document, {distance} AS score FROM c"
            f"{_where(conditions, partition, params)} ORDER BY {distance}"
        )
        with _translated(f"a vector search of {self.spec.name}"):
            rows = [row async for row in self._items(sql, params, partition)]
        return [(_clean(row["document"]), float(row["score"])) for row in rows]
