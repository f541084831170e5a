"""SearchPages: full text (the syntax of `_search`, ranked by BM25), by meaning (through
the Embeddings service, when the process has it), or both fused by reciprocal rank.

The query's filters (`[tag]`, `{in_name:…}`, `{updated_by:…}`, `{type:…}`, the space) apply
to both sides; its words and phrases select on the full-text side only, and are the text the
semantic side embeds. Only live pages of spaces the caller may read are found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from coder.knowledge.v1 import knowledge_service_pb2
from coder.knowledge.v1 import knowledge_service_pb2 as api
from services.kit import (
    DomainError,
    FailedPrecondition,
    current_principal,
    get_logger,
)
from services.kit.cache import Cache
from services.knowledge import _search
from services.knowledge._mapping import PageCandidate
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, SpaceAccess

_log = get_logger("coder.knowledge")
DEFAULT_HITS = 20
STATISTICS_SECONDS = 60.0
"""How long a page count or a word's document frequency is reused for BM25's IDF."""
SEMANTIC_CANDIDATES = 50
"""How many nearest pages the semantic side asks for before its filters apply."""


class SemanticSearch(Protocol):
    """The semantic side: the ids of an organization's pages nearest in meaning to a text,
    best first, among the given spaces."""

    async def nearest(
        self, organization_id: str, text: str, space_ids: Sequence[str], k: int
    ) -> list[str]: ...


class SearchService:
    """SearchPages."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        access: SpaceAccess,
        cache: Cache,
        semantic: SemanticSearch | None = None,
    ) -> None:
        self._repository = repository
        self._access = access
        self._cache = cache
        self._semantic = semantic

    async def search(
        self, request: knowledge_service_pb2.SearchPagesRequest
    ) -> knowledge_service_pb2.SearchPagesResponse:
        principal = current_principal()
        query = _search.parse_query(request.query, principal.subject)
        mode = self._mode(request.mode, query)
        if request.space_id:
            spaces = [(await self._access.space(principal, request.space_id, READ)).id]
        else:
            spaces = sorted(await self._access.spaces(principal, READ))
        response = knowledge_service_pb2.SearchPagesResponse(mode=mode)
        if not spaces:
            return response
        limit = request.page_size or DEFAULT_HITS
        organization_id = principal.organization_id
        pages: dict[str, PageCandidate] = {}
        full_text: list[str] = []
        semantic: list[str] = []
        if mode != api.SEARCH_MODE_SEMANTIC:
            full_text = await self._full_text(organization_id, query, spaces, limit, pages)
        if mode != api.SEARCH_MODE_FULL_TEXT and self._semantic is not None:
            try:
                semantic = await self._meaning(organization_id, query, spaces, pages)
            except DomainError as failure:
                if mode == api.SEARCH_MODE_SEMANTIC:
                    raise
                # Hybrid search still answers by full text; the reply says so in its mode.
                _log.warning("knowledge.semantic_unavailable", error=str(failure))
                mode = response.mode = api.SEARCH_MODE_FULL_TEXT
        if mode == api.SEARCH_MODE_HYBRID:
            ranked = _search.fuse(full_text, semantic)
        else:
            single = full_text or semantic
            ranked = [(id, 1.0 / (_search.RRF_K + rank)) for rank, id in enumerate(single, 1)]
        text_rank = {id: rank for rank, id in enumerate(full_text, 1)}
        meaning_rank = {id: rank for rank, id in enumerate(semantic, 1)}
        for id, score in ranked[:limit]:
            page = pages[id].page()
            response.hits.add(
                page_id=page.id,
                space_id=page.space_id,
                title=page.title,
                snippet=_search.snippet(page.markdown, query),
                tags=page.tags,
                score=score,
                full_text_rank=text_rank.get(id, 0),
                semantic_rank=meaning_rank.get(id, 0),
                update_time=page.update_time,
            )
        return response

    def _mode(
        self, asked: api.SearchMode.ValueType, query: _search.ParsedQuery
    ) -> api.SearchMode.ValueType:
        if asked == api.SEARCH_MODE_SEMANTIC:
            if self._semantic is None:
                raise FailedPrecondition(
                    "semantic search needs the Embeddings service, which this process lacks",
                    reason="SEMANTIC_UNAVAILABLE",
                )
            if not query.text:
                raise FailedPrecondition(
                    "semantic search needs words to embed", reason="SEMANTIC_NEEDS_TEXT"
                )
            return api.SEARCH_MODE_SEMANTIC
        if asked == api.SEARCH_MODE_FULL_TEXT:
            return api.SEARCH_MODE_FULL_TEXT
        if self._semantic is None or not query.text:
            return api.SEARCH_MODE_FULL_TEXT
        return api.SEARCH_MODE_HYBRID

    async def _full_text(
        self,
        organization_id: str,
        query: _search.ParsedQuery,
        spaces: Sequence[str],
        limit: int,
        pages: dict[str, PageCandidate],
    ) -> list[str]:
        """Page ids best first: those holding every word (and phrase) by BM25, or with no
        words the newest `limit` the filters select."""
        if not query.ranked:
            newest = await self._repository.candidates(organization_id, query, spaces, limit)
            pages.update((page.id, page) for page in newest)
            return [page.id for page in newest]
        found = await self._repository.candidates(organization_id, query, spaces)
        pages.update((page.id, page) for page in found)
        total, frequency = 0, dict[str, int]()
        if len(query.required) > 1:
            # With one word its IDF is the same for every candidate and cannot change the
            # order; with more, their relative weights come from the organization's pages.
            total, frequency = await self._frequencies(organization_id, query.required)
        candidates = [_search.Candidate(c.id, c.text.lower(), c.length) for c in found]
        return [id for id, _ in _search.bm25(candidates, query, frequency, total)]

    async def _frequencies(
        self, organization_id: str, terms: Sequence[str]
    ) -> tuple[int, dict[str, int]]:
        """How many live pages the organization has, and how many hold each term: counted
        by the store (a scan on SQLite), kept `STATISTICS_SECONDS` in the cache, since a
        slightly old IDF only nudges the weights of a query's words."""
        keys = {term: f"knowledge:df:{organization_id}:{term}" for term in terms}
        total_key = f"knowledge:pages:{organization_id}"
        cached = await self._cache.get_many([total_key, *keys.values()])
        counts: dict[str, int] = {}
        for term, key in keys.items():
            if key in cached:
                counts[term] = int(cached[key])
            else:
                counts[term] = await self._repository.live_page_count(organization_id, term)
                await self._cache.set(key, str(counts[term]).encode(), ttl=STATISTICS_SECONDS)
        if total_key in cached:
            total = int(cached[total_key])
        else:
            total = await self._repository.live_page_count(organization_id)
            await self._cache.set(total_key, str(total).encode(), ttl=STATISTICS_SECONDS)
        return total, counts

    async def _meaning(
        self,
        organization_id: str,
        query: _search.ParsedQuery,
        spaces: Sequence[str],
        pages: dict[str, PageCandidate],
    ) -> list[str]:
        """Page ids best first by meaning, among those that pass the query's filters."""
        assert self._semantic is not None
        nearest = await self._semantic.nearest(
            organization_id, query.text, spaces, SEMANTIC_CANDIDATES
        )
        kept = await self._repository.pages_by_id(organization_id, nearest, query, spaces)
        pages.update((page.id, page) for page in kept)
        allowed = {page.id for page in kept}
        return [id for id in nearest if id in allowed]
