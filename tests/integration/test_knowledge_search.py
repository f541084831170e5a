"""Knowledge search end to end, with the real local model: a page saved through REST on the
edge is indexed in Embeddings by the knowledge service's consumer of its own page events, then
found by a query that shares no word with it (semantic), by an exact phrase (full text), and by
both fused; an edit is re-indexed by meaning, and trashing a page takes it out of the
semantic index too.

The test waits for Embeddings' `embeddings.document.indexed` / `.deleted` events of the page
rather than for a time, so it asserts what happens, not how fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from coder.embeddings.v1 import events_pb2 as embeddings_events
from coder.events.v1 import event_pb2
from services.kit import Resources
from services.kit.bus import Subscription
from services.knowledge._search import words
from tests.integration.tenancy import register

PAGE_TITLE = "Restoring service after a database outage"
PAGE_BODY = (
    "When the primary Postgres node crashes, promote the standby replica and repoint the "
    "connection pool at it."
)
DISTRACTOR = ("Quarterly marketing budget", "Ad spend per channel, agreed with finance.")
MEANING_QUERY = "what to do if our DB server goes down"


class IndexEvents:
    """Embeddings' document events, awaited by document id."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._changed = asyncio.Condition()

    async def record(self, event: event_pb2.Event) -> None:
        indexed = embeddings_events.DocumentIndexed()
        deleted = embeddings_events.DocumentDeleted()
        if event.data.Unpack(indexed):
            entry = (event.type, indexed.document.id)
        elif event.data.Unpack(deleted):
            entry = (event.type, deleted.document_id)
        else:
            return
        async with self._changed:
            self.seen.append(entry)
            self._changed.notify_all()

    async def wait(self, kind: str, document_id: str, times: int = 1, within: float = 60.0) -> None:
        async def arrived() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: self.seen.count((kind, document_id)) >= times)

        await asyncio.wait_for(arrived(), within)


@pytest.fixture(scope="module")
async def index_events(resources: Resources) -> IndexEvents:
    recorder = IndexEvents()
    await resources.bus.subscribe(
        Subscription(
            "knowledge-search-test", "embeddings", ("embeddings.document.*",), recorder.record
        )
    )
    return recorder


@pytest.fixture
async def client(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as anonymous:
        registered = await register(anonymous, "writer")
    headers = {"authorization": f"Bearer {registered['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=30, headers=headers) as signed_in:
        yield signed_in


async def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def save_page(client: httpx.AsyncClient, space: str, title: str, body: str) -> str:
    answer = await client.post(
        f"/api/v1/knowledge/spaces/{space}/pages", json={"page": {"title": title, "markdown": body}}
    )
    page: str = (await ok(answer, 201))["page"]["id"]
    return page


async def search(client: httpx.AsyncClient, query: str, mode: str) -> dict[str, Any]:
    answer = await client.get("/api/v1/knowledge/search", params={"query": query, "mode": mode})
    found: dict[str, Any] = await ok(answer)
    return found


class TestKnowledgeSearch:
    async def test_a_saved_page_is_found_by_meaning_by_phrase_and_by_both(
        self, client: httpx.AsyncClient, index_events: IndexEvents
    ) -> None:
        assert not set(words(MEANING_QUERY)) & set(words(f"{PAGE_TITLE} {PAGE_BODY}"))
        space = (
            await ok(await client.post("/api/v1/knowledge/spaces", json={"name": "Ops"}), 201)
        )["space"]["id"]
        page = await save_page(client, space, PAGE_TITLE, PAGE_BODY)
        other = await save_page(client, space, *DISTRACTOR)
        await index_events.wait("embeddings.document.indexed", f"page:{page}")
        await index_events.wait("embeddings.document.indexed", f"page:{other}")

        meaning = await search(client, MEANING_QUERY, "SEARCH_MODE_SEMANTIC")
        assert meaning["mode"] == "SEARCH_MODE_SEMANTIC"
        assert meaning["hits"][0]["pageId"] == page
        assert meaning["hits"][0]["semanticRank"] == 1
        assert meaning["hits"][0]["fullTextRank"] == 0

        phrase = await search(client, '"promote the standby replica"', "SEARCH_MODE_FULL_TEXT")
        assert [hit["pageId"] for hit in phrase["hits"]] == [page]
        assert await search(client, MEANING_QUERY, "SEARCH_MODE_FULL_TEXT") == {
            "hits": [],
            "mode": "SEARCH_MODE_FULL_TEXT",
        }

        fused = await search(client, "database outage", "SEARCH_MODE_UNSPECIFIED")
        assert fused["mode"] == "SEARCH_MODE_HYBRID"
        first = fused["hits"][0]
        assert (first["pageId"], first["fullTextRank"], first["semanticRank"]) == (page, 1, 1)

        # Through MCP: the SDK's streamable HTTP client at the edge's /mcp, with the same
        # bearer token, finds the page with the platform's search tool and reads it.
        headers = {"authorization": client.headers["authorization"]}
        http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(30))
        endpoint = f"{client.base_url}".rstrip("/") + "/mcp"
        async with http, Client(streamable_http_client(endpoint, http_client=http)) as agent:
            searched = await agent.call_tool(
                "knowledge.search", {"query": MEANING_QUERY, "mode": "SEARCH_MODE_SEMANTIC"}
            )
            assert searched.is_error is False, searched.content
            assert searched.structured_content is not None
            assert searched.structured_content["hits"][0]["pageId"] == page
            read = await agent.call_tool("knowledge.read_page", {"pageId": page})
            assert read.is_error is False, read.content
            assert read.structured_content is not None
            assert read.structured_content["page"]["title"] == PAGE_TITLE
            # The page is a resource too, and its space lists it among the caller's resources.
            page_uri = f"coder://knowledge/pages/{page}"
            contents = (await agent.read_resource(page_uri)).contents[0]
            assert contents.mime_type == "text/markdown"
            assert contents.text.startswith(f"# {PAGE_TITLE}\n")  # type: ignore[union-attr]
            listed = (await agent.list_resources()).resources
            (space_uri,) = [str(r.uri) for r in listed if "/knowledge/spaces/" in str(r.uri)]
            index = (await agent.read_resource(space_uri)).contents[0]
            assert f"]({page_uri})" in index.text  # type: ignore[union-attr]

        edited = await client.patch(
            f"/api/v1/knowledge/pages/{other}",
            json={"markdown": "A Kubernetes pod in a crash loop: read its logs, then restart it."},
        )
        await ok(edited)
        await index_events.wait("embeddings.document.indexed", f"page:{other}", times=2)
        changed = await search(client, "container keeps rebooting", "SEARCH_MODE_SEMANTIC")
        assert changed["hits"][0]["pageId"] == other

        await ok(await client.delete(f"/api/v1/knowledge/pages/{page}"))
        await index_events.wait("embeddings.document.deleted", f"page:{page}")
        meaning = await search(client, MEANING_QUERY, "SEARCH_MODE_SEMANTIC")
        assert page not in [hit["pageId"] for hit in meaning["hits"]]
