"""Full-text search with the BookStack-style syntax: every word, exact phrases, tags, title
words, who changed a page, its type; ranked by BM25; trashed pages and other organizations'
never found."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space, search


async def corpus(stub: KnowledgeServiceStub, token: TokenFactory, org: str) -> kb.Space:
    space = await create_space(stub, token(org))
    await create_page(
        stub,
        token(org, sub="ana"),
        space.id,
        "Database failover",
        "When the primary database fails, promote the replica. Failover takes a minute.",
        tags={"team": "storage", "reviewed": ""},
    )
    await create_page(
        stub,
        token(org, sub="bo"),
        space.id,
        "Cache warmup",
        "Warm the cache after a failover of the database primary.",
        tags={"team": "platform"},
    )
    await create_page(
        stub,
        token(org, sub="bo"),
        space.id,
        "Release checklist",
        "Tag the release.",
        steps=("Tag", "Build"),
    )
    return space


class TestSyntax:
    async def test_every_word_must_match_and_bm25_ranks(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        await corpus(stub, token, org)
        assert await search(stub, token(org), "failover database") == [
            "Database failover",
            "Cache warmup",
        ]
        assert await search(stub, token(org), "failover release") == []

    async def test_an_exact_phrase_needs_the_words_in_order(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        await corpus(stub, token, org)
        assert await search(stub, token(org), '"promote the replica"') == ["Database failover"]
        assert await search(stub, token(org), '"replica the promote"') == []
        assert await search(stub, token(org), '"database primary"') == ["Cache warmup"]

    async def test_tags_title_words_writers_and_types_filter(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        await corpus(stub, token, org)
        assert await search(stub, token(org), "[team=storage]") == ["Database failover"]
        assert await search(stub, token(org), "failover [team]") == [
            "Database failover",
            "Cache warmup",
        ]
        assert await search(stub, token(org), "[reviewed]") == ["Database failover"]
        assert await search(stub, token(org), "failover {in_name:cache}") == ["Cache warmup"]
        assert await search(stub, token(org, sub="bo"), "{updated_by:me}") == [
            "Release checklist",
            "Cache warmup",
        ]
        assert await search(stub, token(org), "{type:runbook}") == ["Release checklist"]
        assert await search(stub, token(org), "build {type:runbook}") == ["Release checklist"]

    async def test_an_unknown_filter_is_invalid(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            search(stub, token(org), "x {colour:red}"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"query"}
        assert error_reason(error) == "QUERY_INVALID"


class TestScope:
    async def test_trashed_pages_and_other_organizations_are_not_found(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await corpus(stub, token, org)
        assert await search(stub, token(f"{org}-b"), "failover") == []
        found = await stub.SearchPages(
            api.SearchPagesRequest(query="failover", space_id=space.id),
            metadata=auth(token(org)),
        )
        assert found.mode == api.SEARCH_MODE_FULL_TEXT
        first = found.hits[0]
        assert first.full_text_rank == 1 and first.semantic_rank == 0
        assert "failover" in first.snippet.lower()
        await stub.DeletePage(
            api.DeletePageRequest(page_id=first.page_id), metadata=auth(token(org))
        )
        assert await search(stub, token(org), "failover") == ["Cache warmup"]

    async def test_semantic_mode_without_embeddings_is_refused(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            search(stub, token(org), "anything", mode=api.SEARCH_MODE_SEMANTIC),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "SEMANTIC_UNAVAILABLE"
