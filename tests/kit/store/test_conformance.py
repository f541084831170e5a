"""The document store contract, run against every backend (see conftest.Harness).

A case the Cosmos DB test server cannot run is skipped for the cosmos backend only, with the
server's gap as the reason; the sqlite backend always runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from services.kit._errors import DocumentExists, DocumentNotFound, EtagMismatch, InvalidArgument
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Condition,
    Container,
    Document,
    F,
    Order,
    PatchOp,
    Query,
    reservation_id,
)

from .conftest import EXPIRING, EXPIRING_TTL, ITEMS, MARKED, SPECS, VECTORS, Harness

ORG = "org-a"
OTHER_ORG = "org-b"


def items(harness: Harness) -> Container:
    return harness.store.container(ITEMS.name)


def ids(documents: list[Document]) -> list[str]:
    return [document["id"] for document in documents]


def user_fields(document: Document) -> Document:
    """The document without the properties the store adds."""
    return {k: v for k, v in document.items() if k not in ("_etag", "_ts", "organizationId")}


async def seed(container: Container, partition: str, documents: list[Document]) -> None:
    for document in documents:
        await container.create(partition, document)


class TestCreateAndGet:
    async def test_create_returns_the_document_with_etag_and_timestamp(
        self, harness: Harness
    ) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "title": "Write docs", "n": 1})

        assert user_fields(created) == {"id": "t1", "title": "Write docs", "n": 1}
        assert isinstance(created["_etag"], str)
        assert created["_etag"]
        assert isinstance(created["_ts"], int)
        assert await items(harness).get(ORG, "t1") == created

    async def test_get_of_a_missing_document_is_none(self, harness: Harness) -> None:
        assert await items(harness).get(ORG, "absent") is None

    async def test_create_of_a_taken_id_raises_document_exists(self, harness: Harness) -> None:
        await items(harness).create(ORG, {"id": "t1", "title": "first"})

        with pytest.raises(DocumentExists):
            await items(harness).create(ORG, {"id": "t1", "title": "second"})
        stored = await items(harness).get(ORG, "t1")
        assert stored is not None
        assert stored["title"] == "first"

    async def test_organization_id_is_always_the_partition(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "organizationId": OTHER_ORG})

        assert created["organizationId"] == ORG
        assert await items(harness).get(OTHER_ORG, "t1") is None
        stored = await items(harness).get(ORG, "t1")
        assert stored is not None
        assert stored["organizationId"] == ORG

    async def test_system_properties_given_by_the_caller_are_not_kept(
        self, harness: Harness
    ) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "_etag": "mine", "_ts": 1})

        assert created["_etag"] != "mine"
        assert created["_ts"] != 1

    @pytest.mark.parametrize("bad_id", ["", "a/b", "a#b", 7, None])
    async def test_an_invalid_id_is_refused(self, harness: Harness, bad_id: Any) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).create(ORG, {"id": bad_id})
        with pytest.raises(InvalidArgument):
            await items(harness).get(ORG, bad_id)
        with pytest.raises(InvalidArgument):
            await items(harness).delete(ORG, bad_id)


class TestReservationIds:
    async def test_any_value_can_be_reserved_once(self, harness: Harness) -> None:
        values = ["plain@example.com", "a/b?c#d\\e@example.com", "x" * 400, "x" * 401]
        ids = [reservation_id("email", value) for value in values]
        assert ids[0] == "email:plain@example.com"  # ids that always fitted keep their form
        assert len(set(ids)) == len(values)
        for id in ids:
            await items(harness).create(ORG, {"id": id})
            assert await items(harness).get(ORG, id) is not None
        with pytest.raises(DocumentExists):
            await items(harness).create(ORG, {"id": reservation_id("email", "x" * 400)})


class TestUpsert:
    async def test_upsert_inserts_then_overwrites(self, harness: Harness) -> None:
        first = await items(harness).upsert(ORG, {"id": "t1", "title": "one"})
        second = await items(harness).upsert(ORG, {"id": "t1", "title": "two"})

        assert second["_etag"] != first["_etag"]
        assert await items(harness).get(ORG, "t1") == second
        assert user_fields(second) == {"id": "t1", "title": "two"}


class TestReplace:
    async def test_replace_with_the_current_etag_writes(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "title": "one", "n": 1})

        replaced = await items(harness).replace(
            ORG, {"id": "t1", "title": "two"}, if_match=created["_etag"]
        )

        assert replaced["_etag"] != created["_etag"]
        assert user_fields(replaced) == {"id": "t1", "title": "two"}
        assert await items(harness).get(ORG, "t1") == replaced

    async def test_replace_with_a_stale_etag_is_refused_and_writes_nothing(
        self, harness: Harness
    ) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "title": "one"})
        current = await items(harness).replace(ORG, {"id": "t1", "title": "two"})

        with pytest.raises(EtagMismatch):
            await items(harness).replace(
                ORG, {"id": "t1", "title": "lost update"}, if_match=created["_etag"]
            )
        assert await items(harness).get(ORG, "t1") == current

    async def test_replace_of_a_missing_document_raises_not_found(self, harness: Harness) -> None:
        with pytest.raises(DocumentNotFound):
            await items(harness).replace(ORG, {"id": "absent", "title": "x"})


class TestPatch:
    async def test_set_add_remove_incr_and_append(self, harness: Harness) -> None:
        await items(harness).create(
            ORG,
            {"id": "t1", "title": "one", "n": 1, "labels": ["a"], "obsolete": True, "meta": {}},
        )

        patched = await items(harness).patch(
            ORG,
            "t1",
            [
                PatchOp("set", "/title", "two"),
                PatchOp("add", "/meta/owner", "ada"),
                PatchOp("remove", "/obsolete"),
                PatchOp("incr", "/n", 4),
                PatchOp("add", "/labels/-", "b"),
                PatchOp("replace", "/labels/0", "z"),
            ],
        )

        expected = {
            "id": "t1",
            "title": "two",
            "n": 5,
            "labels": ["z", "b"],
            "meta": {"owner": "ada"},
        }
        assert user_fields(patched) == expected
        assert await items(harness).get(ORG, "t1") == patched

    async def test_patch_with_a_stale_etag_is_refused(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "n": 1})
        current = await items(harness).patch(ORG, "t1", [PatchOp("incr", "/n", 1)])

        with pytest.raises(EtagMismatch):
            await items(harness).patch(
                ORG, "t1", [PatchOp("incr", "/n", 1)], if_match=created["_etag"]
            )
        assert await items(harness).get(ORG, "t1") == current

    async def test_patch_with_the_current_etag_applies(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "n": 1})

        patched = await items(harness).patch(
            ORG, "t1", [PatchOp("incr", "/n", 1)], if_match=created["_etag"]
        )

        assert patched["n"] == 2

    async def test_patch_of_a_missing_document_raises_not_found(self, harness: Harness) -> None:
        with pytest.raises(DocumentNotFound):
            await items(harness).patch(ORG, "absent", [PatchOp("set", "/n", 1)])

    async def test_replace_of_an_absent_field_is_invalid_and_writes_nothing(
        self, harness: Harness
    ) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "n": 1})

        with pytest.raises(InvalidArgument):
            await items(harness).patch(
                ORG, "t1", [PatchOp("set", "/n", 2), PatchOp("replace", "/absent", 1)]
            )
        assert await items(harness).get(ORG, "t1") == created

    @pytest.mark.parametrize("path", ["/id", "/organizationId", "/_etag"])
    async def test_patch_of_identity_or_system_fields_is_refused(
        self, harness: Harness, path: str
    ) -> None:
        await items(harness).create(ORG, {"id": "t1"})

        with pytest.raises(InvalidArgument):
            await items(harness).patch(ORG, "t1", [PatchOp("set", path, "x")])

    async def test_more_than_ten_operations_are_refused(self, harness: Harness) -> None:
        await items(harness).create(ORG, {"id": "t1", "n": 0})

        with pytest.raises(InvalidArgument):
            await items(harness).patch(ORG, "t1", [PatchOp("incr", "/n", 1)] * 11)


class TestDelete:
    async def test_delete_with_the_current_etag_removes(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1"})

        await items(harness).delete(ORG, "t1", if_match=created["_etag"])

        assert await items(harness).get(ORG, "t1") is None

    async def test_delete_with_a_stale_etag_is_refused(self, harness: Harness) -> None:
        created = await items(harness).create(ORG, {"id": "t1", "n": 1})
        current = await items(harness).upsert(ORG, {"id": "t1", "n": 2})

        with pytest.raises(EtagMismatch):
            await items(harness).delete(ORG, "t1", if_match=created["_etag"])
        assert await items(harness).get(ORG, "t1") == current

    async def test_delete_of_a_missing_document_raises_not_found(self, harness: Harness) -> None:
        with pytest.raises(DocumentNotFound):
            await items(harness).delete(ORG, "absent")


class TestPartitionIsolation:
    async def test_the_same_id_lives_independently_in_two_partitions(
        self, harness: Harness
    ) -> None:
        await items(harness).create(ORG, {"id": "t1", "title": "ours"})
        await items(harness).create(OTHER_ORG, {"id": "t1", "title": "theirs"})
        await items(harness).delete(OTHER_ORG, "t1")

        ours = await items(harness).get(ORG, "t1")
        assert ours is not None
        assert ours["title"] == "ours"
        assert await items(harness).get(OTHER_ORG, "t1") is None

    async def test_a_document_is_invisible_from_another_partition(self, harness: Harness) -> None:
        await items(harness).create(ORG, {"id": "t1", "status": "open"})

        assert await items(harness).get(OTHER_ORG, "t1") is None
        with pytest.raises(DocumentNotFound):
            await items(harness).replace(OTHER_ORG, {"id": "t1"})
        with pytest.raises(DocumentNotFound):
            await items(harness).delete(OTHER_ORG, "t1")

    async def test_queries_and_counts_stay_in_their_partition(self, harness: Harness) -> None:
        await seed(items(harness), ORG, [{"id": "a", "status": "open"}, {"id": "b"}])
        await seed(items(harness), OTHER_ORG, [{"id": "c", "status": "open"}])
        query = Query().where(F("status") == "open")

        assert ids((await items(harness).query(query, partition=ORG)).items) == ["a"]
        assert ids((await items(harness).query(Query(), partition=OTHER_ORG)).items) == ["c"]
        assert await items(harness).count(Query(), partition=ORG) == 2

    async def test_a_query_without_partition_spans_all(self, harness: Harness) -> None:
        await seed(items(harness), ORG, [{"id": "a", "status": "open"}])
        await seed(items(harness), OTHER_ORG, [{"id": "b", "status": "open"}])

        page = await items(harness).query(Query().where(F("status") == "open"), partition=None)

        assert sorted(ids(page.items)) == ["a", "b"]
        assert await items(harness).count(Query(), partition=None) == 2


class TestSparseIndexes:
    async def seed_marked(self, harness: Harness) -> Container:
        marked = harness.store.container(MARKED.name)
        await seed(marked, ORG, [{"id": "e1", "title": "b"}, {"id": "m2", "marker": "x"}])
        await seed(marked, OTHER_ORG, [{"id": "m1", "marker": "x"}, {"id": "e2", "title": "a"}])
        await seed(marked, OTHER_ORG, [{"id": "m3", "marker": "y"}])
        return marked

    async def test_marked_documents_are_found_across_partitions_in_id_order(
        self, harness: Harness
    ) -> None:
        marked = await self.seed_marked(harness)

        page = await marked.query(
            Query().where(F("marker") == "x").order_by("id").limit(10), partition=None
        )

        assert ids(page.items) == ["m1", "m2"]

    async def test_skipping_marked_documents_leaves_the_entities(self, harness: Harness) -> None:
        marked = await self.seed_marked(harness)
        entities = Query().where(F("marker").defined(False)).order_by("title")

        assert ids((await marked.query(entities, partition=OTHER_ORG)).items) == ["e2"]
        assert await marked.count(Query().where(F("marker").defined(False)), partition=None) == 2

    async def test_a_query_that_does_not_skip_them_still_sees_them(self, harness: Harness) -> None:
        marked = await self.seed_marked(harness)

        assert ids((await marked.query(Query(), partition=ORG)).items) == ["e1", "m2"]
        page = await marked.query(Query().where(F("id").startswith("m")), partition=None)
        assert sorted(ids(page.items)) == ["m1", "m2", "m3"]


OPERATOR_DOCUMENTS: list[Document] = [
    {"id": "d1", "status": "open", "n": 1, "title": "Alpha", "labels": ["x", "y"], "done": False},
    {"id": "d2", "status": "done", "n": 2, "title": "alpine", "labels": ["y"], "done": True},
    {"id": "d3", "status": "open", "n": 3, "title": "Beta", "labels": [], "meta": {"owner": "ada"}},
    {"id": "d4", "status": "blocked", "n": 2.5, "title": "Alps", "labels": ["x"], "note": None},
    {"id": "d5", "n": "2", "title": 5},
]

OPERATOR_CASES: list[tuple[str, Condition, list[str]]] = [
    ("eq string", F("status") == "open", ["d1", "d3"]),
    ("eq number matches no string", F("n") == 2, ["d2"]),
    ("eq bool", F("done") == True, ["d2"]),  # noqa: E712 - builds a condition
    ("eq null", F("note") == None, ["d4"]),  # noqa: E711 - builds a condition
    ("eq nested", F("meta.owner") == "ada", ["d3"]),
    ("eq id", F("id") == "d4", ["d4"]),
    ("ne skips absent fields", F("status") != "open", ["d2", "d4"]),
    ("ne counts other types as unequal", F("n") != 2, ["d1", "d3", "d4", "d5"]),
    ("eq array", F("labels") == ["y"], ["d2"]),
    ("eq a string never matches an array's text", F("labels") == '["y"]', []),
    ("eq a string never matches a number", F("n") == "2", ["d5"]),
    ("in strings never match an array's text", F("labels").in_(['["x","y"]', '["y"]']), []),
    ("ne a string counts arrays as unequal", F("labels") != '["y"]', ["d1", "d2", "d3", "d4"]),
    ("lt", F("n") < 2, ["d1"]),
    ("le", F("n") <= 2, ["d1", "d2"]),
    ("gt", F("n") > 2, ["d3", "d4"]),
    ("ge", F("n") >= 2.5, ["d3", "d4"]),
    ("string range", F("title") >= "B", ["d2", "d3"]),
    ("in", F("status").in_(["done", "blocked"]), ["d2", "d4"]),
    ("in mixed types", F("n").in_([1, "2"]), ["d1", "d5"]),
    ("in numbers match no string", F("n").in_([2, 3]), ["d2", "d3"]),
    ("eq 1 never matches true", F("done") == 1, []),
    ("in 0 and 1 never match booleans", F("done").in_([0, 1]), []),
    ("in nothing", F("status").in_([]), []),
    ("in ids", F("id").in_(["d1", "d5", "nope"]), ["d1", "d5"]),
    ("array contains", F("labels").contains("x"), ["d1", "d4"]),
    ("starts with is case-sensitive", F("title").startswith("Alp"), ["d1", "d4"]),
    (
        "starts with empty prefix needs a string",
        F("title").startswith(""),
        ["d1", "d2", "d3", "d4"],
    ),
    ("defined", F("meta").defined(), ["d3"]),
    ("defined null", F("note").defined(), ["d4"]),
    ("not defined", F("status").defined(False), ["d5"]),
]


class TestQueryOperators:
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [pytest.param(c, e, id=name) for name, c, e in OPERATOR_CASES],
    )
    async def test_operator(
        self, harness: Harness, condition: Condition, expected: list[str]
    ) -> None:
        await seed(items(harness), ORG, OPERATOR_DOCUMENTS)

        page = await items(harness).query(Query().where(condition), partition=ORG)

        assert ids(page.items) == expected
        assert await items(harness).count(Query().where(condition), partition=ORG) == len(expected)

    async def test_conditions_are_anded(self, harness: Harness) -> None:
        await seed(items(harness), ORG, OPERATOR_DOCUMENTS)
        query = Query().where(F("status") == "open", F("labels").contains("y"), F("n") < 5)

        assert ids((await items(harness).query(query, partition=ORG)).items) == ["d1"]

    async def test_an_unsupported_path_is_refused(self, harness: Harness) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).query(Query().where(F("a-b") == 1), partition=ORG)

    async def test_a_range_on_a_boolean_is_refused(self, harness: Harness) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).query(Query().where(F("done") > False), partition=ORG)


SORT_DOCUMENTS: list[Document] = [
    {"id": "a", "status": "open", "priority": 1},
    {"id": "b", "status": "done", "priority": 3},
    {"id": "c", "status": "open", "priority": 3},
    {"id": "d", "status": "done", "priority": 3},
    {"id": "e", "status": "open", "priority": 2},
]


class TestOrdering:
    async def test_without_order_documents_come_in_id_order(self, harness: Harness) -> None:
        await seed(items(harness), ORG, list(reversed(SORT_DOCUMENTS)))

        page = await items(harness).query(Query(), partition=ORG)

        assert ids(page.items) == ["a", "b", "c", "d", "e"]

    async def test_ascending_with_id_tiebreak(self, harness: Harness) -> None:
        await seed(items(harness), ORG, SORT_DOCUMENTS)

        page = await items(harness).query(Query().order_by("priority"), partition=ORG)

        assert ids(page.items) == ["a", "e", "b", "c", "d"]

    async def test_descending_breaks_ties_by_id_descending(self, harness: Harness) -> None:
        await seed(items(harness), ORG, SORT_DOCUMENTS)

        page = await items(harness).query(Query().order_by("priority", desc=True), partition=ORG)

        assert ids(page.items) == ["d", "c", "b", "e", "a"]

    async def test_declared_multi_field_sort(self, harness: Harness) -> None:
        await seed(items(harness), ORG, SORT_DOCUMENTS)
        query = Query().order_by("status").order_by("priority", desc=True)

        page = await items(harness).query(query, partition=ORG)

        assert ids(page.items) == ["d", "b", "c", "e", "a"]

    async def test_inverse_of_a_declared_sort(self, harness: Harness) -> None:
        await seed(items(harness), ORG, SORT_DOCUMENTS)
        query = Query().order_by("status", desc=True).order_by("priority")

        page = await items(harness).query(query, partition=ORG)

        assert ids(page.items) == ["a", "e", "c", "b", "d"]

    async def test_an_undeclared_ordering_is_refused(self, harness: Harness) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).query(Query().order_by("createTime"), partition=ORG)
        undeclared_pair = Query().order_by("priority").order_by("status")
        with pytest.raises(InvalidArgument):
            await items(harness).query(undeclared_pair, partition=ORG)


class TestPaging:
    @pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
    async def test_pages_cover_every_document_once_in_order(
        self, harness: Harness, descending: bool
    ) -> None:
        documents = [{"id": f"t{i:02}", "n": i % 4, "kind": "task"} for i in range(25)]
        await seed(items(harness), ORG, documents)
        await items(harness).create(ORG, {"id": "other", "n": 0, "kind": "note"})
        query = Query().where(F("kind") == "task").order_by("n", desc=descending).limit(10)

        sizes, seen, continuation = [], [], None
        while True:
            page = await items(harness).query(query.after(continuation), partition=ORG)
            sizes.append(len(page.items))
            seen += ids(page.items)
            continuation = page.continuation
            if continuation is None:
                break

        expected = sorted(documents, key=lambda d: (d["n"], d["id"]), reverse=descending)
        assert seen == ids(expected)
        assert sizes == [10, 10, 5]

    async def test_a_tampered_token_is_refused(self, harness: Harness) -> None:
        harness.skip_on_cosmos("restarts from the first page on an unreadable token")
        await seed(items(harness), ORG, [{"id": f"t{i}"} for i in range(3)])
        page = await items(harness).query(Query().limit(1), partition=ORG)
        assert page.continuation is not None
        payload, mac = page.continuation.split(".")
        forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]

        for token in (f"{forged}.{mac}", "not-a-token", page.continuation + "x"):
            with pytest.raises(InvalidArgument):
                await items(harness).query(Query().limit(1).after(token), partition=ORG)

    async def test_a_token_of_another_query_is_refused(self, harness: Harness) -> None:
        harness.skip_on_cosmos("does not tie its continuation tokens to a query")
        await seed(items(harness), ORG, [{"id": f"t{i}", "kind": "task"} for i in range(3)])
        page = await items(harness).query(Query().limit(1), partition=ORG)

        other = Query().where(F("kind") == "task").limit(1).after(page.continuation)
        with pytest.raises(InvalidArgument):
            await items(harness).query(other, partition=ORG)
        with pytest.raises(InvalidArgument):
            await items(harness).query(Query().limit(1).after(page.continuation), partition=None)


class TestCount:
    async def test_count_ignores_order_and_page_size(self, harness: Harness) -> None:
        await seed(items(harness), ORG, [{"id": f"t{i}", "n": i} for i in range(7)])

        query = Query().where(F("n") >= 2).order_by("n", desc=True).limit(2)

        assert await items(harness).count(query, partition=ORG) == 5
        assert await items(harness).count(Query(), partition=ORG) == 7


class TestBatch:
    async def test_a_batch_of_creates_writes_all(self, harness: Harness) -> None:
        written = await items(harness).batch(
            ORG, [BatchOp.create({"id": f"t{i}", "n": i}) for i in range(3)]
        )

        assert ids(written) == ["t0", "t1", "t2"]
        for document in written:
            assert document["organizationId"] == ORG
            assert await items(harness).get(ORG, document["id"]) == document

    async def test_every_kind_of_operation(self, harness: Harness) -> None:
        harness.skip_on_cosmos(
            "runs only create in a batch (it reads a partition key per operation, which the "
            "SDK sends once per batch)"
        )
        kept = await items(harness).create(ORG, {"id": "kept", "n": 1})
        await items(harness).create(ORG, {"id": "gone"})

        written = await items(harness).batch(
            ORG,
            [
                BatchOp.create({"id": "new"}),
                BatchOp.upsert({"id": "up", "n": 5}),
                BatchOp.replace({"id": "kept", "n": 2}, if_match=kept["_etag"]),
                BatchOp.patch_doc("kept", [PatchOp("incr", "/n", 10)]),
                BatchOp.delete("gone"),
            ],
        )

        assert [d.get("id") for d in written] == ["new", "up", "kept", "kept", None]
        assert written[4] == {}
        final = await items(harness).get(ORG, "kept")
        assert final == written[3]
        assert final is not None
        assert final["n"] == 12
        assert await items(harness).get(ORG, "gone") is None

    async def test_a_failing_operation_leaves_nothing_written(self, harness: Harness) -> None:
        harness.skip_on_cosmos("applies batch operations without rollback")
        await items(harness).create(ORG, {"id": "taken", "n": 1})

        with pytest.raises(DocumentExists):
            await items(harness).batch(
                ORG,
                [
                    BatchOp.create({"id": "first"}),
                    BatchOp.create({"id": "taken"}),
                    BatchOp.create({"id": "last"}),
                ],
            )

        assert await items(harness).get(ORG, "first") is None
        assert await items(harness).get(ORG, "last") is None

    async def test_a_stale_etag_in_the_middle_rolls_back_earlier_writes(
        self, harness: Harness
    ) -> None:
        harness.skip_on_cosmos("runs only create in a batch, and without rollback")
        stale = await items(harness).create(ORG, {"id": "t1", "n": 1})
        current = await items(harness).upsert(ORG, {"id": "t1", "n": 2})

        with pytest.raises(EtagMismatch):
            await items(harness).batch(
                ORG,
                [
                    BatchOp.upsert({"id": "t2"}),
                    BatchOp.patch_doc("t1", [PatchOp("incr", "/n", 1)], if_match=stale["_etag"]),
                ],
            )

        assert await items(harness).get(ORG, "t2") is None
        assert await items(harness).get(ORG, "t1") == current

    async def test_more_than_the_limit_is_refused(self, harness: Harness) -> None:
        too_many = [BatchOp.create({"id": f"t{i}"}) for i in range(MAX_BATCH_OPERATIONS + 1)]

        with pytest.raises(InvalidArgument):
            await items(harness).batch(ORG, too_many)
        assert await items(harness).count(Query(), partition=ORG) == 0


class TestTimeToLive:
    async def test_the_container_default_expires_documents(self, harness: Harness) -> None:
        harness.skip_on_cosmos("does not expire documents (no TTL)")
        expiring = harness.store.container(EXPIRING.name)
        await expiring.create(ORG, {"id": "t1", "kind": "session"})
        harness.elapse(EXPIRING_TTL - 1)
        assert await expiring.get(ORG, "t1") is not None

        harness.elapse(2)

        assert await expiring.get(ORG, "t1") is None
        query = Query().where(F("kind") == "session")
        assert (await expiring.query(query, partition=ORG)).items == []
        assert await expiring.count(Query(), partition=ORG) == 0
        with pytest.raises(DocumentNotFound):
            await expiring.replace(ORG, {"id": "t1"})
        await expiring.create(ORG, {"id": "t1", "kind": "session"})

    async def test_a_document_ttl_overrides_the_default(self, harness: Harness) -> None:
        harness.skip_on_cosmos("does not expire documents (no TTL)")
        expiring = harness.store.container(EXPIRING.name)
        await expiring.create(ORG, {"id": "short", "ttl": 5})
        await expiring.create(ORG, {"id": "forever", "ttl": -1})

        harness.elapse(3600)

        assert await expiring.get(ORG, "short") is None
        assert await expiring.get(ORG, "forever") is not None

    async def test_a_document_ttl_works_without_a_container_default(self, harness: Harness) -> None:
        harness.skip_on_cosmos("does not expire documents (no TTL)")
        await items(harness).create(ORG, {"id": "t1", "ttl": 1})
        await items(harness).create(ORG, {"id": "t2"})

        harness.elapse(2)

        assert await items(harness).get(ORG, "t1") is None
        assert ids((await items(harness).query(Query(), partition=ORG)).items) == ["t2"]

    @pytest.mark.parametrize("ttl", [0, -2, 1.5, "60", True])
    async def test_an_invalid_ttl_is_refused(self, harness: Harness, ttl: Any) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).create(ORG, {"id": "t1", "ttl": ttl})


VECTOR_DOCUMENTS: list[Document] = [
    {"id": "east", "kind": "a", "embedding": [1.0, 0.0, 0.0]},
    {"id": "north", "kind": "a", "embedding": [0.0, 1.0, 0.0]},
    {"id": "northeast", "kind": "a", "embedding": [2.0, 2.0, 0.0]},
    {"id": "near-east", "kind": "b", "embedding": [0.9, 0.1, 0.0]},
]


class TestNearest:
    @pytest.mark.parametrize(
        ("distance", "expected"),
        [
            ("cosine", [("east", 0.9939), ("northeast", 0.7809)]),
            ("euclidean", [("east", 0.1414), ("north", 1.2728)]),
            ("dotproduct", [("northeast", 2.0), ("east", 0.9)]),
        ],
    )
    async def test_closest_first_with_filter(
        self, harness: Harness, distance: str, expected: list[tuple[str, float]]
    ) -> None:
        harness.skip_on_cosmos("has no VectorDistance")
        container = harness.store.container(VECTORS[distance].name)
        await seed(container, ORG, VECTOR_DOCUMENTS)
        await container.create(OTHER_ORG, {"id": "elsewhere", "kind": "a", "embedding": [1, 0, 0]})

        found = await container.nearest(
            ORG, [0.9, 0.1, 0.0], 2, where=Query().where(F("kind") == "a")
        )

        assert [(d["id"], round(score, 4)) for d, score in found] == expected
        assert found[0][0] == await container.get(ORG, expected[0][0])

    async def test_a_vector_of_the_wrong_dimension_is_refused(self, harness: Harness) -> None:
        container = harness.store.container(VECTORS["cosine"].name)

        with pytest.raises(InvalidArgument):
            await container.nearest(ORG, [1.0, 0.0], 2)

    async def test_a_container_without_vector_index_refuses(self, harness: Harness) -> None:
        with pytest.raises(InvalidArgument):
            await items(harness).nearest(ORG, [1.0, 0.0, 0.0], 2)


class TestConcurrentWriters:
    async def test_concurrent_patches_all_apply(self, harness: Harness) -> None:
        await items(harness).create(ORG, {"id": "counter", "n": 0})

        await asyncio.gather(
            *(items(harness).patch(ORG, "counter", [PatchOp("incr", "/n", 1)]) for _ in range(20))
        )

        counter = await items(harness).get(ORG, "counter")
        assert counter is not None
        assert counter["n"] == 20

    async def test_concurrent_creates_of_one_id_let_exactly_one_win(self, harness: Harness) -> None:
        results = await asyncio.gather(
            *(items(harness).create(ORG, {"id": "t1", "n": n}) for n in range(10)),
            return_exceptions=True,
        )

        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, DocumentExists) for r in results if r not in winners)
        assert await items(harness).get(ORG, "t1") == winners[0]


WIDENED_ITEMS = dataclasses.replace(ITEMS, sorts=(*ITEMS.sorts, (Order("kind"), Order("n"))))


class TestOpen:
    async def test_opening_again_with_the_same_specs_keeps_documents(
        self, harness: Harness
    ) -> None:
        created = await items(harness).create(ORG, {"id": "t1"})

        await harness.store.open(SPECS)

        assert await items(harness).get(ORG, "t1") == created

    async def test_a_sort_declared_when_opening_again_is_served(self, harness: Harness) -> None:
        await harness.store.open([WIDENED_ITEMS])
        await seed(items(harness), ORG, [{"id": "t1", "kind": "b"}, {"id": "t2", "kind": "a"}])

        page = await items(harness).query(Query().order_by("kind").order_by("n"), partition=ORG)

        assert ids(page.items) == ["t2", "t1"]

    async def test_changing_the_indexes_keeps_documents(self, harness: Harness) -> None:
        harness.skip_on_cosmos("drops a container's documents when its properties are replaced")
        created = await items(harness).create(ORG, {"id": "t1"})

        await harness.store.open([WIDENED_ITEMS])

        assert await items(harness).get(ORG, "t1") == created

    async def test_ping_answers_when_reachable(self, harness: Harness) -> None:
        await harness.store.ping()
