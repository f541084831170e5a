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
    fill_timestamp,
    get_logger,
)
from services.kit.store import Condition, Document, F
from services.knowledge import _search
from services.knowledge._mapping import page_from_document, page_tokens
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, SpaceAccess

_log = get_logger("coder.knowledge")
DEFAULT_HITS = 20
SEMANTIC_CANDIDATES = 50
"""How many nearest pages the semantic side asks for before its filters apply."""


class SemanticSearch(Protocol):
    """The semantic side: the ids of an organization's pages nearest in meaning to a text,
    best first, among the given spaces."""

    async def nearest(
        self, organization_id: str, text: str, space_ids: Sequence[str], k: int
    ) -> list[str]: ...


def filters(query: _search.ParsedQuery, space_ids: Sequence[str]) -> list[Condition]:
    """The conditions of the query's filters and the caller's spaces."""
    conditions: list[Condition] = [F("spaceId").in_(space_ids)]
    conditions += [F("tagKeys").contains(tag) for tag in query.tags]
    conditions += [F("titleTerms").contains(word) for word in query.in_name]
    if query.updated_by:
        conditions.append(F("updatedBy") == query.updated_by)
    if query.created_by:
        conditions.append(F("createdBy") == query.created_by)
    if query.kind:
        conditions.append(F("pageKind") == query.kind)
    return conditions


class SearchService:
    """SearchPages."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        access: SpaceAccess,
        semantic: SemanticSearch | None = None,
    ) -> None:
        self._repository = repository
        self._access = access
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
        conditions = filters(query, spaces)
        documents: dict[str, Document] = {}
        full_text: list[str] = []
        semantic: list[str] = []
        if mode != api.SEARCH_MODE_SEMANTIC:
            full_text = await self._full_text(organization_id, query, conditions, documents)
        if mode != api.SEARCH_MODE_FULL_TEXT and self._semantic is not None:
            try:
                semantic = await self._meaning(
                    organization_id, query, spaces, conditions, documents
                )
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
            page = page_from_document(documents[id])
            hit = response.hits.add(
                page_id=page.id,
                space_id=page.space_id,
                title=page.title,
                snippet=_search.snippet(page.markdown, query),
                tags=page.tags,
                score=score,
                full_text_rank=text_rank.get(id, 0),
                semantic_rank=meaning_rank.get(id, 0),
            )
            fill_timestamp(hit.update_time, documents[id]["updateTime"])
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
        conditions: Sequence[Condition],
        documents: dict[str, Document],
    ) -> list[str]:
        """Page ids best first: those holding every word (and phrase) by BM25, or with no
        words those the filters select, newest first."""
        words = [F("terms").contains(term) for term in query.required]
        found = await self._repository.candidates(organization_id, [*conditions, *words])
        for document in found:
            documents[document["id"]] = document
        if not query.ranked:
            return [d["id"] for d in found]
        total = await self._repository.live_page_count(organization_id)
        frequency = {
            term: await self._repository.live_page_count(organization_id, F("terms").contains(term))
            for term in query.required
        }
        candidates = [
            _search.Candidate(d["id"], tuple(page_tokens(page_from_document(d)))) for d in found
        ]
        return [id for id, _ in _search.bm25(candidates, query, frequency, total)]

    async def _meaning(
        self,
        organization_id: str,
        query: _search.ParsedQuery,
        spaces: Sequence[str],
        conditions: Sequence[Condition],
        documents: dict[str, Document],
    ) -> list[str]:
        assert self._semantic is not None
        nearest = await self._semantic.nearest(
            organization_id, query.text, spaces, SEMANTIC_CANDIDATES
        )
        kept = await self._repository.pages_by_id(organization_id, nearest, conditions)
        for document in kept:
            documents[document["id"]] = document
        allowed = {d["id"] for d in kept}
        return [id for id in nearest if id in allowed]
