"""Search through the service: metadata filters (equality, IN, ranges, tags) still return k,
hybrid search fuses BM25 with the vector leg, a threshold drops weak hits, highlights mark the
query's words."""

from __future__ import annotations

import grpc
import pytest

from coder.embeddings.v1 import resources_pb2
from tests.embeddings.factories import (
    Stub,
    between,
    create_collection,
    document,
    equals,
    ids_of,
    one_of,
    search,
    upsert,
)
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory

TOPICS = [
    ("python", "Python list comprehensions build lists from iterables."),
    ("rust", "Rust ownership moves values between bindings."),
    ("go", "Go goroutines communicate over channels."),
    ("sql", "SQL joins combine rows of two tables on a key."),
    ("css", "CSS grid lays out a page in rows and columns."),
    ("bash", "Bash pipes send one command's output to another."),
]


@pytest.fixture
async def library(stub: Stub, token: TokenFactory, org: str) -> str:
    """Twelve documents: each topic twice, years 2020-2025, tags by language family."""
    member = token(org)
    collection = await create_collection(stub, member)
    documents = [
        document(
            f"{name}-{copy}",
            text,
            title=name.upper(),
            metadata={"lang": name, "year": 2020 + i, "copy": copy, "kinds": ["doc", name]},
            tags=["compiled"] if name in ("rust", "go") else ["scripted"],
        )
        for i, (name, text) in enumerate(TOPICS)
        for copy in (1, 2)
    ]
    await upsert(stub, member, collection.id, *documents)
    return collection.id


class TestFilters:
    async def test_equality_in_and_ranges_select_documents(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        member = token(org)
        only_go = resources_pb2.Filter(conditions=[equals("lang", "go")])
        found = await search(stub, member, library, "memory safety", k=5, filter=only_go)
        assert sorted(ids_of(found)) == ["go-1", "go-2"]
        either = resources_pb2.Filter(conditions=[one_of("lang", "sql", "css")])
        assert len((await search(stub, member, library, "tables", k=3, filter=either)).hits) == 3
        recent = resources_pb2.Filter(conditions=[between("year", gte=2024)])
        assert set(ids_of(await search(stub, member, library, "x", k=10, filter=recent))) == {
            "css-1",
            "css-2",
            "bash-1",
            "bash-2",
        }
        listed = resources_pb2.Filter(conditions=[equals("kinds", "rust")])
        assert sorted(ids_of(await search(stub, member, library, "x", filter=listed))) == [
            "rust-1",
            "rust-2",
        ]

    async def test_tags_and_document_ids(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        member = token(org)
        compiled = resources_pb2.Filter(tags_all=["compiled"], conditions=[equals("copy", 2)])
        assert sorted(ids_of(await search(stub, member, library, "x", filter=compiled))) == [
            "go-2",
            "rust-2",
        ]
        named = resources_pb2.Filter(document_ids=["sql-1", "bash-2"], tags_any=["scripted"])
        assert sorted(ids_of(await search(stub, member, library, "x", filter=named))) == [
            "bash-2",
            "sql-1",
        ]

    async def test_a_selective_filter_still_returns_k(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        member = token(org)
        # The nearest chunks to the query are all about Python; the filter passes none of them.
        scripted = resources_pb2.Filter(tags_all=["compiled"])
        found = await search(
            stub, member, library, "Python list comprehensions", k=4, filter=scripted
        )
        assert len(found.hits) == 4
        assert {hit.metadata["lang"] for hit in found.hits} == {"rust", "go"}

    async def test_a_bad_range_names_its_field(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        bad = resources_pb2.Filter(conditions=[between("year", gte=1, lt="z")])
        error = await rpc_error(
            search(stub, token(org), library, "x", filter=bad), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"filter.conditions[0].range"}


class TestHybridThresholdHighlights:
    async def test_hybrid_search_finds_an_exact_word_the_vector_leg_ranks_low(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        member = token(org)
        found = await search(stub, member, library, "goroutines", k=3, hybrid=True)
        assert ids_of(found)[0].startswith("go-")
        top = found.hits[0]
        assert top.text_rank >= 1 and top.vector_rank >= 1
        assert found.strategy == "exact"

    async def test_a_threshold_drops_weak_hits(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        member = token(org)
        every = await search(stub, member, library, "CSS grid layout", k=12)
        assert len(every.hits) == 12
        cut = every.hits[2].vector_score
        strong = await search(stub, member, library, "CSS grid layout", k=12, min_score=cut)
        assert 3 <= len(strong.hits) < 12  # copies of one text tie
        assert [h.chunk.document_id for h in strong.hits] == [
            h.chunk.document_id for h in every.hits if h.vector_score >= cut
        ]

    async def test_highlights_mark_the_query_words(
        self, stub: Stub, token: TokenFactory, org: str, library: str
    ) -> None:
        found = await search(stub, token(org), library, "SQL joins", k=1, highlight=True)
        hit = found.hits[0]
        marked = [hit.chunk.text[h.start : h.end] for h in hit.highlights]
        assert marked == ["SQL joins"]
