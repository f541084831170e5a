"""What only the sqlite backend promises: its storage layout, index use, purge and reopen."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.kit._clock import ManualClock
from services.kit.store import ContainerSpec, F, Query, SqliteStore

from .conftest import EXPIRING, EXPIRING_TTL, ITEMS, SPECS

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


async def statements_of(store: SqliteStore, query: Query) -> list[str]:
    """The SQL (values inlined) that running `query` on the items container executes, on
    either connection."""
    statements: list[str] = []
    assert store.reader is not None
    store.reader.set_trace_callback(statements.append)
    await store.run(store.raw.set_trace_callback, statements.append)
    try:
        await store.container(ITEMS.name).query(query, partition=ORG)
    finally:
        await store.run(store.raw.set_trace_callback, None)
        store.reader.set_trace_callback(None)
    return [s for s in statements if s.startswith("SELECT")]


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
