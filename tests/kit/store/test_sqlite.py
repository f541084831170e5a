"""What only the sqlite backend promises: its storage layout, index use, purge and reopen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.kit._clock import ManualClock
from services.kit._errors import DocumentExists
from services.kit.store import BatchOp, ContainerSpec, F, Query, SqliteStore
from services.kit.store._sqlite import CHECKPOINT_COMMITS

from .conftest import EXPIRING, EXPIRING_TTL, ITEMS, MARKED, SPECS

ORG = "org-a"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "store.db", clock=clock)
    await store.open(SPECS)
    try:
        yield store
    finally:
        await store.close()


async def statements_of(
    store: SqliteStore, query: Query, container: str = ITEMS.name, partition: str | None = ORG
) -> list[str]:
    """The SQL (values inlined) that running `query` on a container executes, on either
    connection."""
    statements: list[str] = []
    assert store.reader is not None
    store.reader.set_trace_callback(statements.append)
    await store.run(store.raw.set_trace_callback, statements.append)
    try:
        await store.container(container).query(query, partition=partition)
    finally:
        await store.run(store.raw.set_trace_callback, None)
        store.reader.set_trace_callback(None)
    return [s for s in statements if s.startswith("SELECT")]


@contextlib.asynccontextmanager
async def writer_statements(store: SqliteStore) -> AsyncIterator[list[str]]:
    """The statements the writer connection runs inside the block."""
    statements: list[str] = []
    await store.run(store.raw.set_trace_callback, statements.append)
    try:
        yield statements
    finally:
        await store.run(store.raw.set_trace_callback, None)


async def plan_of(store: SqliteStore, sql: str) -> str:
    rows = await store.run(lambda: store.raw.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
    return " | ".join(row[3] for row in rows)


class TestStorage:
    async def test_body_holds_the_document_without_system_properties(
        self, store: SqliteStore
    ) -> None:
        created = await store.container(ITEMS.name).create(ORG, {"id": "t1", "title": "x"})

        row = await store.run(
            lambda: store.raw.execute('SELECT body, etag, ts FROM "c_items"').fetchone()
        )

        assert json.loads(row[0]) == {"id": "t1", "title": "x", "organizationId": ORG}
        assert (row[1], row[2]) == (created["_etag"], created["_ts"])

    async def test_a_filtered_sorted_page_reads_an_expression_index(
        self, store: SqliteStore
    ) -> None:
        query = Query().where(F("status") == "open").order_by("priority", desc=True).limit(10)

        (sql,) = await statements_of(store, query)
        plan = await plan_of(store, sql)

        assert "USING INDEX c_items__" in plan
        assert "TEMP B-TREE" not in plan

    async def test_an_equality_filter_in_id_order_reads_an_expression_index(
        self, store: SqliteStore
    ) -> None:
        (sql,) = await statements_of(store, Query().where(F("status") == "open").limit(10))
        plan = await plan_of(store, sql)

        assert "USING INDEX c_items__" in plan
        assert "<expr>=?" in plan
        assert "TEMP B-TREE" not in plan


class TestSparseIndexes:
    async def test_an_equality_across_partitions_reads_the_sparse_index(
        self, store: SqliteStore
    ) -> None:
        query = Query().where(F("marker") == "x").order_by("id").limit(10)

        (sql,) = await statements_of(store, query, MARKED.name, None)
        plan = await plan_of(store, sql)

        assert "USING INDEX c_marked__s" in plan
        assert "TEMP B-TREE" not in plan

    async def test_a_query_skipping_marked_documents_reads_an_entity_index(
        self, store: SqliteStore
    ) -> None:
        query = Query().where(F("marker").defined(False)).order_by("title").limit(10)

        (sql,) = await statements_of(store, query, MARKED.name)
        plan = await plan_of(store, sql)

        assert "USING INDEX c_marked__" in plan
        assert "c_marked__s" not in plan
        assert "TEMP B-TREE" not in plan

    async def test_marked_documents_are_left_out_of_the_entity_indexes(
        self, store: SqliteStore
    ) -> None:
        rows = await store.run(
            lambda: store.raw.execute(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'c_marked' "
                "AND type = 'index' AND name NOT LIKE '%expires' AND sql IS NOT NULL"
            ).fetchall()
        )
        entity = [sql for name, sql in rows if not name.startswith("c_marked__s")]

        assert entity
        assert all("WHERE json_type(body, '$.marker') IS NULL" in sql for sql in entity)
        assert not any("'$.marker')," in sql for sql in entity)


class TestReads:
    async def test_a_page_is_read_on_the_event_loop_connection(self, store: SqliteStore) -> None:
        await store.container(ITEMS.name).create(ORG, {"id": "t1", "status": "open"})

        async with writer_statements(store) as on_writer:
            page = await store.container(ITEMS.name).query(
                Query().where(F("status") == "open"), partition=ORG
            )

        assert [d["id"] for d in page.items] == ["t1"]
        assert not [s for s in on_writer if s.startswith("SELECT")]

    async def test_a_query_past_the_read_budget_is_answered_by_the_writer(
        self, tmp_path: Path
    ) -> None:
        store = SqliteStore(tmp_path / "store.db", read_budget_steps=1)
        await store.open(SPECS)
        try:
            items = store.container(ITEMS.name)
            for n in range(300):
                await items.create(ORG, {"id": f"t{n:03}", "unindexed": n})
            # No index on the field: every document of the partition is read.
            query = Query().where(F("unindexed") >= 295).limit(10)

            async with writer_statements(store) as on_writer:
                first = await items.query(query, partition=ORG)
                second = await items.query(query, partition=ORG)
                counted = await items.count(Query().where(F("unindexed") >= 100), partition=ORG)
        finally:
            await store.close()

        expected = ["t295", "t296", "t297", "t298", "t299"]
        assert [d["id"] for d in first.items] == [d["id"] for d in second.items] == expected
        assert counted == 200
        assert len([s for s in on_writer if s.startswith("SELECT")]) == 3

    async def test_integers_beyond_64_bits_read_back_exactly(self, store: SqliteStore) -> None:
        big = 2**70 + 1
        await store.container(ITEMS.name).create(ORG, {"id": "t1", "n": big})

        found = await store.container(ITEMS.name).get(ORG, "t1")
        page = await store.container(ITEMS.name).query(Query(), partition=ORG)

        assert found is not None and found["n"] == big
        assert page.items[0]["n"] == big

    async def test_a_number_beyond_float_range_reads_as_json_reads_it(
        self, store: SqliteStore
    ) -> None:
        await store.container(ITEMS.name).create(ORG, {"id": "t1"})
        await store.run(
            lambda: store.raw.execute(
                """UPDATE "c_items" SET body = '{"id":"t1","n":1e400}' WHERE id = 't1'"""
            )
        )

        found = await store.container(ITEMS.name).get(ORG, "t1")

        assert found is not None and found["n"] == float("inf")


class TestGroupCommit:
    async def test_concurrent_writes_share_a_commit_and_fail_alone(
        self, store: SqliteStore
    ) -> None:
        items = store.container(ITEMS.name)
        await items.create(ORG, {"id": "taken"})
        writes = [items.create(ORG, {"id": f"t{n}"}) for n in range(10)]
        duplicate = items.create(ORG, {"id": "taken", "title": "second"})
        # Fails at its second operation: its first must not stay written.
        broken = items.batch(ORG, [BatchOp.create({"id": "half"}), BatchOp.create({"id": "taken"})])

        async with writer_statements(store) as on_writer:
            results = await asyncio.gather(*writes, duplicate, broken, return_exceptions=True)

        assert all(isinstance(r, dict) for r in results[:10])
        assert isinstance(results[10], DocumentExists)
        assert isinstance(results[11], DocumentExists)
        page = await items.query(Query(), partition=ORG)
        assert sorted(d["id"] for d in page.items) == sorted(
            ["taken", *(f"t{n}" for n in range(10))]
        )
        taken = await items.get(ORG, "taken")
        assert taken is not None and "title" not in taken
        assert 1 <= on_writer.count("COMMIT") < len(results)


def in_database_file(path: Path, table: str) -> int:
    """How many rows of `table` the database file itself holds, the write-ahead log ignored
    (`immutable` makes SQLite read the file alone)."""
    connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        found = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if not found[0]:
            return 0
        count = connection.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - a test's name
        return int(count.fetchone()[0])
    finally:
        connection.close()


class TestCheckpoints:
    async def test_checkpoint_copies_the_log_into_the_file(self, store: SqliteStore) -> None:
        items = store.container(ITEMS.name)
        for n in range(3):
            await items.create(ORG, {"id": f"c{n}"})
        assert in_database_file(Path(store.path), f"c_{ITEMS.name}") < 3  # still in the log

        await store.checkpoint()

        assert in_database_file(Path(store.path), f"c_{ITEMS.name}") == 3

    async def test_every_so_many_commits_a_checkpoint_runs_in_the_background(
        self, store: SqliteStore
    ) -> None:
        items = store.container(ITEMS.name)
        for n in range(CHECKPOINT_COMMITS):
            await items.create(ORG, {"id": f"c{n}"})
        # The last commit started a checkpoint on a worker thread; no write waited for it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while in_database_file(Path(store.path), f"c_{ITEMS.name}") < CHECKPOINT_COMMITS:
            assert loop.time() < deadline, "no background checkpoint"
            await asyncio.sleep(0.01)

    async def test_a_write_does_not_checkpoint_on_the_writer(self, store: SqliteStore) -> None:
        size = await store.run(lambda: store.raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        assert size > 1000  # SQLite's default: a backstop only, the store checkpoints itself


class TestSchemaChanges:
    async def test_reopening_with_other_indexes_replaces_them(self, tmp_path: Path) -> None:
        async def index_sql(indexes: tuple[str, ...]) -> str:
            store = SqliteStore(tmp_path / "store.db")
            await store.open([ContainerSpec("things", indexes=indexes)])
            try:
                rows = await store.run(
                    lambda: store.raw.execute(
                        "SELECT sql FROM sqlite_master WHERE tbl_name = 'c_things' "
                        "AND type = 'index' AND sql IS NOT NULL"
                    ).fetchall()
                )
            finally:
                await store.close()
            return " ".join(row[0] for row in rows)

        before = await index_sql(("/a",))
        after = await index_sql(("/b",))

        assert "'$.a'" in before
        assert "'$.a'" not in after
        assert "'$.b'" in after
        assert "expires_at" in after


class TestPurge:
    async def test_purge_deletes_expired_rows_only(
        self, store: SqliteStore, clock: ManualClock
    ) -> None:
        expiring = store.container(EXPIRING.name)
        await expiring.create(ORG, {"id": "old"})
        clock.advance(EXPIRING_TTL / 2)
        await expiring.create(ORG, {"id": "new"})
        clock.advance(EXPIRING_TTL / 2 + 1)

        assert await store.purge_expired() == 1

        count = await store.run(
            lambda: store.raw.execute('SELECT COUNT(*) FROM "c_expiring"').fetchone()[0]
        )
        assert count == 1
        assert await expiring.get(ORG, "new") is not None


class TestReopen:
    async def test_documents_and_continuation_tokens_survive_a_reopen(self, tmp_path: Path) -> None:
        first = SqliteStore(tmp_path / "store.db")
        await first.open(SPECS)
        for i in range(3):
            await first.container(ITEMS.name).create(ORG, {"id": f"t{i}"})
        page = await first.container(ITEMS.name).query(Query().limit(2), partition=ORG)
        await first.close()

        second = SqliteStore(tmp_path / "store.db")
        await second.open(SPECS)
        try:
            rest = await second.container(ITEMS.name).query(
                Query().limit(2).after(page.continuation), partition=ORG
            )
        finally:
            await second.close()

        assert [d["id"] for d in rest.items] == ["t2"]
        assert rest.continuation is None

    async def test_open_is_idempotent(self, store: SqliteStore) -> None:
        await store.container(ITEMS.name).create(ORG, {"id": "t1"})

        await store.open(SPECS)

        assert await store.container(ITEMS.name).get(ORG, "t1") is not None
        await store.ping()

    async def test_an_undeclared_container_is_a_key_error(self, store: SqliteStore) -> None:
        with pytest.raises(KeyError):
            store.container("undeclared")
