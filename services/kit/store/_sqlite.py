# ruff: noqa: S608 - SQL text is assembled from validated identifiers and constant fragments;
# every value is a bound parameter.
"""The embedded document store: one SQLite file, one table per container.

Each container is a table `(partition, id, body, etag, ts, expires_at)` keyed by
`(partition, id)`; `body` is the document's JSON without the system properties, which live in
their own columns. Declared index paths become expression indexes on
`json_extract(body, '$.path')` after the partition, so partition-scoped filters and sorts read
an index. Queries are compiled to parameterized SQL and paged by keyset.

Every write runs as one function on aiosqlite's connection thread. A write that reads before
it writes (patch, batch, conditional replace) is therefore one unit that no other coroutine's
statement can interleave with. Writes that arrive while others are being applied are committed
together (group commit): one transaction, each write inside a savepoint of its own, so each
still succeeds or fails alone, in arrival order, and the group pays for one commit. Reads of a
file database run on a read-only connection on the event-loop thread (`SqliteStore.read`).
The write-ahead log is copied back into the database file by a checkpoint on a third
connection, on a worker thread, every `CHECKPOINT_COMMITS` commits, so that no write waits
for one (SQLite's own automatic checkpoint runs inside the commit that fills the log).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import math
import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import mul
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import aiosqlite

from services.kit._clock import Clock, SystemClock
from services.kit._errors import (
    DocumentExists,
    DocumentNotFound,
    DomainError,
    EtagMismatch,
    FieldViolation,
    StoreRefused,
)
from services.kit._observability import get_logger

from ._api import (
    BatchOp,
    Container,
    ContainerSpec,
    Document,
    Order,
    Page,
    PatchOp,
    Query,
)
from ._documents import (
    batch_failure,
    check_batch,
    check_id,
    check_partition,
    check_patch,
    prepare_write,
)
from ._patch import apply_patch
from ._paths import (
    ID_PATH,
    check_container_name,
    declared_sorts,
    pointer_to_dotted,
    resolve_ordering,
)
from ._sqlite_query import (
    COLUMNS,
    NOT_EXPIRED,
    Tokens,
    after_sql,
    compile_where,
    decode_json,
    defined_sql,
    encode_json,
    target_of,
)

T = TypeVar("T")

_log = get_logger("coder.store")


def _dumps(body: Document) -> str:
    try:
        return encode_json(body)
    except (TypeError, ValueError) as error:
        raise StoreRefused(f"the document is not valid JSON: {error}") from error


def _new_etag() -> str:
    return uuid.uuid4().hex


def _table(name: str) -> str:
    return f'"c_{check_container_name(name)}"'


# --- vectors ---------------------------------------------------------------------------------


def _similarity(
    distance: str, query: Sequence[float], norm: float
) -> Callable[[list[float]], float]:
    if distance == "euclidean":
        return lambda vector: math.dist(query, vector)
    if distance == "dotproduct":
        return lambda vector: float(sum(map(mul, query, vector)))

    def cosine(vector: list[float]) -> float:
        length = math.sqrt(sum(map(mul, vector, vector)))
        if not norm or not length:
            return 0.0
        return float(sum(map(mul, query, vector))) / (norm * length)

    return cosine


def _is_vector(value: Any, dimensions: int) -> TypeGuard[list[float]]:
    return (
        isinstance(value, list)
        and len(value) == dimensions
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    )


# --- the store ---------------------------------------------------------------------------------


READ_BUDGET_STEPS = 50_000
"""SQLite virtual-machine steps a query may run on the event loop before it is moved to the
writer thread: an indexed page of 50 documents takes a few thousand (a fraction of a
millisecond), a scan of 10,000 documents a few hundred thousand. Counted rather than timed, so
that a busy machine does not send fast queries to the thread."""

_PROGRESS_STEPS = 1000
"""Steps between two calls of the progress handler that counts them."""

_SLOW_SKIPS = 32
"""Runs of a statement that went past the budget that then go straight to the thread."""

CHECKPOINT_COMMITS = 64
"""Commits (groups) between two background checkpoints of the write-ahead log. A commit adds a
few pages to the log per write (the document's and its indexes'), so the log stays within a
few thousand pages and a checkpoint copies a few megabytes at most."""

WAL_BACKSTOP_PAGES = 20_000
"""The log's size (pages) at which a commit checkpoints by itself, as SQLite does at 1,000 pages
by default: only if the background checkpoints fall behind."""


@dataclass(slots=True)
class _Write:
    """A write waiting for the next group commit."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class SqliteStore:
    """`DocumentStore` over one SQLite database file (or `:memory:`) through aiosqlite.

    Writes run on aiosqlite's thread. Reads of a file database run on a second, read-only
    connection on the event-loop thread (see `read`).
    """

    def __init__(
        self,
        path: str | Path,
        clock: Clock | None = None,
        *,
        read_budget_steps: int = READ_BUDGET_STEPS,
    ) -> None:
        self._path = str(path)
        self._clock: Clock = clock or SystemClock()
        self._db: aiosqlite.Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._tokens: Tokens | None = None
        self._containers: dict[str, SqliteContainer] = {}
        self._read_budget = max(1, read_budget_steps // _PROGRESS_STEPS)
        self._read_ticks = -1
        self._slow: dict[str, int] = {}
        self._pending: list[_Write] = []
        self._committer: asyncio.Task[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpoint_lock = asyncio.Lock()
        self._commits = 0

    @property
    def path(self) -> str:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        # Runs on the aiosqlite thread, which owns the connection from here on. Autocommit
        # mode: transactions are opened explicitly with BEGIN IMMEDIATE where a write needs one.
        raw = sqlite3.connect(self._path, isolation_level=None, cached_statements=512)
        raw.execute("PRAGMA busy_timeout = 5000")
        if self._path != ":memory:":
            raw.execute("PRAGMA journal_mode = WAL")
            raw.execute(f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}")
        raw.execute("PRAGMA synchronous = NORMAL")
        self._raw = raw
        return raw

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the connection thread, as one unit."""
        if self._db is None:
            raise RuntimeError("the store is not open")
        # aiosqlite has no public way to run a function on its thread; `_execute` is how its
        # own helpers do it, and running whole operations there is what makes them atomic.
        result: T = await self._db._execute(fn, *args)  # type: ignore[no-untyped-call]
        return result

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the write `fn(*args)` on the connection thread, atomically, and commit it.

        Writes queued while a group is being applied form the next group, committed in one
        transaction with a savepoint per write: an exception rolls back that write alone and
        reaches its caller; the others keep their effects. Under concurrency the commit, the
        costly part of a small write, is shared, and the thread is woken once per group.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Write(fn, args, future))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        result: T = await future
        return result

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    outcomes = await self.run(self._apply, group)
                except BaseException as error:
                    # The group's transaction did not commit: none of its writes stands.
                    cancelled = isinstance(error, asyncio.CancelledError)
                    for write in group:
                        if write.future.done():
                            continue
                        if cancelled:
                            write.future.cancel()
                        else:
                            write.future.set_exception(error)
                    if cancelled:
                        raise
                    continue
                for write, (failure, value) in zip(group, outcomes, strict=True):
                    if write.future.done():  # its caller gave up; the write stands regardless
                        continue
                    if failure is None:
                        write.future.set_result(value)
                    else:
                        write.future.set_exception(failure)
                self._committed()
        finally:
            self._committer = None

    def _committed(self) -> None:
        """Count a commit; every `CHECKPOINT_COMMITS`, start a checkpoint unless one runs."""
        self._commits += 1
        if (
            self._commits >= CHECKPOINT_COMMITS
            and self._checkpointer is not None
            and self._checkpointing is None
        ):
            self._commits = 0
            self._checkpointing = asyncio.create_task(self._checkpoint_in_background())

    async def _checkpoint_in_background(self) -> None:
        try:
            await self.checkpoint()
        except sqlite3.Error as error:  # the backstop checkpoints if these keep failing
            _log.warning("store.checkpoint_failed", error=repr(error))
        finally:
            self._checkpointing = None

    async def checkpoint(self) -> None:
        """Copy the committed pages of the write-ahead log into the database file now, on a
        worker thread, without blocking writers or readers (SQLite's PASSIVE checkpoint: what
        readers still need stays in the log for the next one). Nothing for `:memory:`."""
        async with self._checkpoint_lock:  # its connection serves one thread at a time
            connection = self._checkpointer
            if connection is not None:
                await asyncio.to_thread(_checkpoint, connection)

    def _apply(self, group: list[_Write]) -> list[tuple[BaseException | None, Any]]:
        raw = self.raw
        outcomes: list[tuple[BaseException | None, Any]] = []
        raw.execute("BEGIN IMMEDIATE")
        try:
            for write in group:
                raw.execute("SAVEPOINT write")
                try:
                    outcomes.append((None, write.fn(*write.args)))
                except Exception as error:
                    raw.execute("ROLLBACK TO write")
                    outcomes.append((error, None))
                raw.execute("RELEASE write")
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        return outcomes

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection; only for functions given to `run`."""
        if self._raw is None:
            raise RuntimeError("the store is not open")
        return self._raw

    def now(self) -> float:
        return self._clock.now().timestamp()

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            raise RuntimeError("the store is not open")
        return self._tokens

    async def open(self, specs: Sequence[ContainerSpec]) -> None:
        """Open the file (creating it and its folder) and create tables and indexes."""
        if self._db is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.Connection(self._connect, iter_chunk_size=64)
        key = await self.run(self._setup, list(specs))
        self._tokens = Tokens(key)
        if self._reader is None and self._path != ":memory:":
            # Point reads skip the hop to the writer thread: with WAL a second connection reads
            # the last committed state without blocking, and a primary-key lookup costs a few
            # microseconds, far less than handing it to another thread and waiting.
            self._reader = sqlite3.connect(self._path, isolation_level=None, cached_statements=256)
            self._reader.execute("PRAGMA query_only = 1")
            self._reader.execute("PRAGMA busy_timeout = 1000")
            self._reader.set_progress_handler(self._past_read_budget, _PROGRESS_STEPS)
        if self._checkpointer is None and self._path != ":memory:":
            # Used by one worker thread at a time (`checkpoint` runs them one after the other).
            self._checkpointer = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
            self._checkpointer.execute("PRAGMA busy_timeout = 1000")
        for spec in specs:
            self._containers[spec.name] = SqliteContainer(self, spec)
        await self.purge_expired()

    def _setup(self, specs: list[ContainerSpec]) -> bytes:
        raw = self.raw
        raw.execute("BEGIN IMMEDIATE")
        try:
            raw.execute(
                "CREATE TABLE IF NOT EXISTS _store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            raw.execute(
                "INSERT OR IGNORE INTO _store_meta VALUES ('token_key', ?)", (os.urandom(32).hex(),)
            )
            (key,) = raw.execute("SELECT value FROM _store_meta WHERE key = 'token_key'").fetchone()
            for spec in specs:
                _create_schema(raw, spec)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")
        return bytes.fromhex(key)

    def container(self, name: str) -> SqliteContainer:
        return self._containers[name]

    async def ping(self) -> None:
        await self.run(lambda: self.raw.execute("SELECT 1").fetchone())

    async def purge_expired(self) -> int:
        """Delete expired documents (reads already hide them); returns how many went."""
        now = self.now()
        tables = [container.table for container in self._containers.values()]

        def purge() -> int:
            removed = 0
            for table in tables:
                cursor = self.raw.execute(
                    f"DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= ?",
                    (now,),
                )
                removed += cursor.rowcount
            return removed

        return await self.run(purge)

    @property
    def reader(self) -> sqlite3.Connection | None:
        """A read-only connection for point reads on the event-loop thread (file databases)."""
        return self._reader

    def _past_read_budget(self) -> bool:
        # SQLite's progress handler, every _PROGRESS_STEPS steps: true interrupts the statement.
        # Outside `read` (point reads) the count stays negative and nothing is interrupted.
        if self._read_ticks < 0:
            return False
        self._read_ticks += 1
        return self._read_ticks > self._read_budget

    async def read(
        self, fn: Callable[[sqlite3.Connection, str, list[Any]], T], sql: str, params: list[Any]
    ) -> T:
        """`fn(connection, sql, params)`, a function that only reads, on the connection that
        answers soonest.

        First on the read-only connection on the event-loop thread: with WAL it sees every
        committed write, and an indexed page takes a fraction of a millisecond, less than the
        hop to the writer thread and back. A statement still running after the read budget
        (`READ_BUDGET_STEPS`) is interrupted and run again on the writer thread, so a query that
        scans does not hold up the loop, and its next few runs go there directly.
        """
        reader = self._reader
        skips = self._slow.get(sql, 0)
        if reader is not None and not skips:
            self._read_ticks = 0
            try:
                return fn(reader, sql, params)
            except sqlite3.OperationalError as error:
                if str(error) != "interrupted":
                    raise
                if len(self._slow) >= 1024:
                    self._slow.clear()
                skips = _SLOW_SKIPS + 1
            finally:
                self._read_ticks = -1
        if skips:
            self._slow[sql] = skips - 1
        return await self.run(fn, self.raw, sql, params)

    async def close(self) -> None:
        if self._committer is not None:
            await asyncio.shield(self._committer)
        if self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()
            self._raw = None


def _indexes(spec: ContainerSpec) -> dict[str, str]:
    """The secondary indexes of a container's table, by name.

    One index per declared sort, led by the partition and ending with the id tiebreak, so a
    partition-scoped filter on the first key, or a sorted page, reads the index in order.
    Inverse sorts share an index (SQLite scans it backwards).

    With sparse paths, those indexes leave out the documents that have one (outbox documents:
    a write of one then touches two indexes rather than every one), so they serve the queries
    that skip such documents with `F(path).defined(False)`, the term their WHERE repeats
    verbatim; each sparse path gets a partial index of its own, not led by the partition, for
    equality lookups across partitions.
    """
    table = _table(spec.name)
    indexes = {
        f"c_{spec.name}__expires": "(expires_at) WHERE expires_at IS NOT NULL",
    }
    sparse = [pointer_to_dotted(pointer) for pointer in spec.sparse_indexes]
    where = " AND ".join(defined_sql(path, False) for path in sparse)
    seen: set[tuple[Order, ...]] = set()
    for keys in declared_sorts(spec):
        inverse = tuple(Order(o.path, not o.descending) for o in keys)
        if inverse in seen or all(o.path in COLUMNS or o.path in sparse for o in keys):
            continue
        seen.add(keys)
        columns = ", ".join(
            f"{target_of(o.path).expr}{' DESC' if o.descending else ''}"
            for o in (*keys, Order(ID_PATH, keys[-1].descending))
        )
        partial = f" WHERE {where}" if where else ""
        digest = hashlib.sha256(f"{columns}{partial}".encode()).hexdigest()[:12]
        indexes[f"c_{spec.name}__{digest}"] = f"(partition, {columns}){partial}"
    for path in sparse:
        # Only documents that have the field are in it, and an equality on the path implies
        # IS NOT NULL, so SQLite uses it for `path = ? ORDER BY id` in any partition.
        expr = target_of(path).expr
        body = f"({expr}, id) WHERE {expr} IS NOT NULL"
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        indexes[f"c_{spec.name}__s{digest}"] = body
    return {
        name: f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} {body}'
        for name, body in indexes.items()
    }


def _create_schema(raw: sqlite3.Connection, spec: ContainerSpec) -> None:
    """Create the container's table and indexes; drop indexes of sorts no longer declared."""
    if spec.vector is not None:
        pointer_to_dotted(spec.vector.path)
    raw.execute(
        f"CREATE TABLE IF NOT EXISTS {_table(spec.name)} (partition TEXT NOT NULL, "
        "id TEXT NOT NULL, body TEXT NOT NULL, etag TEXT NOT NULL, ts INTEGER NOT NULL, "
        "expires_at REAL, PRIMARY KEY (partition, id))"
    )
    wanted = _indexes(spec)
    existing = raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (f"c_{spec.name}",)
    )
    for (name,) in existing.fetchall():
        if name.startswith(f"c_{spec.name}__") and name not in wanted:
            raw.execute(f'DROP INDEX "{name}"')
    for statement in wanted.values():
        raw.execute(statement)


class SqliteContainer(Container):
    """One container of a `SqliteStore`."""

    def __init__(self, store: SqliteStore, spec: ContainerSpec) -> None:
        self.spec = spec
        self.table = table = _table(spec.name)
        self._store = store
        key = "partition = ? AND id = ?"
        row = "(partition, id, body, etag, ts, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
        update = (
            f"UPDATE {table} SET body = ?, etag = ?, ts = ?, expires_at = ? "
            f"WHERE {key} AND {NOT_EXPIRED}"
        )
        set_columns = (
            "body = excluded.body, etag = excluded.etag, ts = excluded.ts, "
            "expires_at = excluded.expires_at"
        )
        self._sql_get = f"SELECT body, etag, ts, expires_at FROM {table} WHERE {key}"
        # A create may take over the key of an expired document that was not purged yet.
        self._sql_create = (
            f"INSERT INTO {table} {row} ON CONFLICT (partition, id) DO UPDATE SET {set_columns} "
            f"WHERE {table}.expires_at IS NOT NULL AND {table}.expires_at <= ?"
        )
        self._sql_upsert = (
            f"INSERT INTO {table} {row} ON CONFLICT (partition, id) DO UPDATE SET {set_columns}"
        )
        self._sql_update = update
        self._sql_update_if = f"{update} AND etag = ?"
        self._sql_delete = f"DELETE FROM {table} WHERE {key} AND {NOT_EXPIRED}"
        self._sql_delete_if = f"{self._sql_delete} AND etag = ?"
        self._sql_etag = f"SELECT etag FROM {table} WHERE {key} AND {NOT_EXPIRED}"
        self._vector_expr = (
            target_of(pointer_to_dotted(spec.vector.path)).expr if spec.vector is not None else ""
        )

    # --- writes, as functions run on the connection thread -----------------------------------

    def _row(self, body: Document, now: float) -> tuple[str, str, int, float | None]:
        ttl = body.get("ttl")
        if ttl is None:
            ttl = self.spec.default_ttl
        expires_at = None if ttl is None or ttl == -1 else now + ttl
        return _dumps(body), _new_etag(), int(now), expires_at

    def _missing_or_stale(self, partition: str, id: str, now: float) -> DomainError:
        found = self._store.raw.execute(self._sql_etag, (partition, id, now)).fetchone()
        if found is None:
            return DocumentNotFound(f"no document {id!r} in {self.spec.name}")
        return EtagMismatch(f"document {id!r} in {self.spec.name} was changed by another writer")

    def _create(self, partition: str, body: Document, now: float) -> Document:
        text, etag, ts, expires_at = self._row(body, now)
        cursor = self._store.raw.execute(
            self._sql_create, (partition, body["id"], text, etag, ts, expires_at, now)
        )
        if cursor.rowcount == 0:
            raise DocumentExists(f"document {body['id']!r} already exists in {self.spec.name}")
        return {**body, "_etag": etag, "_ts": ts}

    def _upsert(self, partition: str, body: Document, now: float) -> Document:
        text, etag, ts, expires_at = self._row(body, now)
        self._store.raw.execute(
            self._sql_upsert, (partition, body["id"], text, etag, ts, expires_at)
        )
        return {**body, "_etag": etag, "_ts": ts}

    def _replace(
        self, partition: str, body: Document, if_match: str | None, now: float
    ) -> Document:
        text, etag, ts, expires_at = self._row(body, now)
        params: tuple[Any, ...] = (text, etag, ts, expires_at, partition, body["id"], now)
        if if_match is None:
            cursor = self._store.raw.execute(self._sql_update, params)
        else:
            cursor = self._store.raw.execute(self._sql_update_if, (*params, if_match))
        if cursor.rowcount == 0:
            raise self._missing_or_stale(partition, body["id"], now)
        return {**body, "_etag": etag, "_ts": ts}

    def _patch(
        self, partition: str, id: str, ops: Sequence[PatchOp], if_match: str | None, now: float
    ) -> Document:
        found = self._store.raw.execute(self._sql_get, (partition, id)).fetchone()
        if found is None or (found[3] is not None and found[3] <= now):
            raise DocumentNotFound(f"no document {id!r} in {self.spec.name}")
        if if_match is not None and found[1] != if_match:
            raise EtagMismatch(f"document {id!r} in {self.spec.name} was changed by another writer")
        patched = prepare_write(partition, apply_patch(decode_json(found[0]), ops))
        return self._replace(partition, patched, found[1], now)

    def _delete(self, partition: str, id: str, if_match: str | None, now: float) -> None:
        if if_match is None:
            cursor = self._store.raw.execute(self._sql_delete, (partition, id, now))
        else:
            cursor = self._store.raw.execute(self._sql_delete_if, (partition, id, now, if_match))
        if cursor.rowcount == 0:
            raise self._missing_or_stale(partition, id, now)

    def _batch(self, partition: str, operations: Sequence[BatchOp], now: float) -> list[Document]:
        results: list[Document] = []
        for index, op in enumerate(operations):
            try:
                results.append(self._batch_op(partition, op, now))
            except DomainError as error:
                raise batch_failure(index, op, error) from error
        return results

    def _batch_op(self, partition: str, op: BatchOp, now: float) -> Document:
        if op.kind == "delete":
            self._delete(partition, check_id(op.id), op.if_match, now)
            return {}
        if op.kind == "patch":
            return self._patch(partition, check_id(op.id), op.patch, op.if_match, now)
        body = prepare_write(partition, op.document or {})
        if op.kind == "create":
            return self._create(partition, body, now)
        if op.kind == "upsert":
            return self._upsert(partition, body, now)
        return self._replace(partition, body, op.if_match, now)

    # --- Container -------------------------------------------------------------------------

    async def create(self, partition: str, document: Document) -> Document:
        body = prepare_write(partition, document)
        return await self._store.write(self._create, partition, body, self._store.now())

    async def upsert(self, partition: str, document: Document) -> Document:
        body = prepare_write(partition, document)
        return await self._store.write(self._upsert, partition, body, self._store.now())

    async def get(self, partition: str, id: str) -> Document | None:
        check_id(id)
        now = self._store.now()
        reader = self._store.reader
        if reader is not None:
            found = self._get(partition, id, reader)
        else:
            found = await self._store.run(self._get, partition, id)
        if found is None:
            return None
        document, expires_at = found
        if expires_at is not None and expires_at <= now:
            return None
        return document

    def _get(
        self, partition: str, id: str, connection: sqlite3.Connection | None = None
    ) -> tuple[Document, float | None] | None:
        connection = connection or self._store.raw
        found = connection.execute(self._sql_get, (partition, id)).fetchone()
        if found is None:
            return None
        document: Document = decode_json(found[0])
        document["_etag"] = found[1]
        document["_ts"] = found[2]
        return document, found[3]

    async def replace(
        self, partition: str, document: Document, *, if_match: str | None = None
    ) -> Document:
        body = prepare_write(partition, document)
        return await self._store.write(self._replace, partition, body, if_match, self._store.now())

    async def patch(
        self, partition: str, id: str, ops: Sequence[PatchOp], *, if_match: str | None = None
    ) -> Document:
        check_partition(partition)
        check_id(id)
        check_patch(ops)
        return await self._store.write(
            self._patch, partition, id, list(ops), if_match, self._store.now()
        )

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> None:
        check_partition(partition)
        check_id(id)
        await self._store.write(self._delete, partition, id, if_match, self._store.now())

    async def batch(self, partition: str, operations: Sequence[BatchOp]) -> list[Document]:
        check_batch(partition, operations)
        if not operations:
            return []
        return await self._store.write(self._batch, partition, list(operations), self._store.now())

    async def query(self, query: Query, *, partition: str | None) -> Page:
        if query.page_size is not None and query.page_size < 1:
            raise StoreRefused(
                "page size must be positive",
                violations=[FieldViolation("page_size", "must be at least 1")],
            )
        ordering = resolve_ordering(self.spec, query.ordering)
        clauses, params = compile_where(query.conditions, partition, self._store.now())
        fingerprint = b""
        if query.continuation is not None or query.page_size is not None:
            fingerprint = Tokens.fingerprint(self.table, partition, query, ordering)
        if query.continuation is not None:
            after = self._store.tokens.decode(fingerprint, query.continuation, len(ordering))
            sql, values = after_sql(ordering, after)
            clauses.append(sql)
            params.extend(values)
        sort_exprs = [target_of(order.path).expr for order in ordering]
        order_by = ", ".join(
            f"{expr} {'DESC' if order.descending else 'ASC'}"
            for expr, order in zip(sort_exprs, ordering, strict=True)
        )
        sql = (
            f"SELECT body, etag, ts, {', '.join(sort_exprs)} FROM {self.table} "
            f"WHERE {' AND '.join(clauses)} ORDER BY {order_by}"
        )
        if query.page_size is not None:
            sql += " LIMIT ?"
            params.append(query.page_size + 1)
        rows = await self._store.read(_fetch, sql, params)
        continuation = None
        if query.page_size is not None and len(rows) > query.page_size:
            rows = rows[: query.page_size]
            continuation = self._store.tokens.encode(fingerprint, rows[-1][1])
        return Page([document for document, _ in rows], continuation)

    async def count(self, query: Query, *, partition: str | None) -> int:
        clauses, params = compile_where(query.conditions, partition, self._store.now())
        sql = f"SELECT COUNT(*) FROM {self.table} WHERE {' AND '.join(clauses)}"
        return await self._store.read(_count, sql, params)

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
        if not _is_vector(list(vector), index.dimensions):
            raise StoreRefused(
                f"the query vector must have {index.dimensions} numbers",
                violations=[FieldViolation("vector", f"expected {index.dimensions} dimensions")],
            )
        if k < 1:
            return []
        check_partition(partition)
        conditions = where.conditions if where is not None else ()
        clauses, params = compile_where(conditions, partition, self._store.now())
        sql = f"SELECT id, {self._vector_expr} FROM {self.table} WHERE {' AND '.join(clauses)}"
        dimensions = index.dimensions
        query = [float(x) for x in vector]
        score = _similarity(index.distance, query, math.sqrt(sum(map(mul, query, query))))
        closest = heapq.nsmallest if index.distance == "euclidean" else heapq.nlargest

        def search() -> list[tuple[Document, float]]:
            scored = []
            for id, text in self._store.raw.execute(sql, params):
                candidate = decode_json(text) if isinstance(text, str) else None
                if _is_vector(candidate, dimensions):
                    scored.append((score(candidate), id))
            best = closest(k, scored, key=lambda pair: pair[0])
            if not best:
                return []
            marks = ", ".join("?" * len(best))
            documents = {}
            for id, body, etag, ts in self._store.raw.execute(
                f"SELECT id, body, etag, ts FROM {self.table} "
                f"WHERE partition = ? AND id IN ({marks})",
                (partition, *(id for _, id in best)),
            ):
                documents[id] = {**decode_json(body), "_etag": etag, "_ts": ts}
            return [(documents[id], value) for value, id in best if id in documents]

        return await self._store.run(search)


def _checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


def _fetch(
    connection: sqlite3.Connection, sql: str, params: list[Any]
) -> list[tuple[Document, tuple[Any, ...]]]:
    rows = []
    for body, etag, ts, *sort_values in connection.execute(sql, params):
        document: Document = decode_json(body)
        document["_etag"] = etag
        document["_ts"] = ts
        rows.append((document, tuple(sort_values)))
    return rows


def _count(connection: sqlite3.Connection, sql: str, params: list[Any]) -> int:
    return int(connection.execute(sql, params).fetchone()[0])
