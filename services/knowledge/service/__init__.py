"""The knowledge domain rules, one module per concern:

| concern | module | class |
|---|---|---|
| per-space permissions | `access.py` | `SpaceAccess` |
| spaces | `spaces.py` | `SpaceService` |
| pages, backlinks, runbook checks | `pages.py` | `PageService` |
| revisions and diffs | `revisions.py` | `RevisionService` |
| comment threads | `comments.py` | `CommentService` |
| templates | `templates.py` | `TemplateService` |
| the recycle bin | `recycle.py` | `RecycleBin` |
| import and export | `transfer.py` | `TransferService` |
| search | `search.py` | `SearchService` |

`KnowledgeDomain` wires them together once per process.
"""

from __future__ import annotations

from services.kit import Clock
from services.kit.cache import Cache
from services.knowledge._embeddings import EmbeddingsIndex
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import SpaceAccess
from services.knowledge.service.comments import CommentService
from services.knowledge.service.pages import PageService
from services.knowledge.service.recycle import RecycleBin
from services.knowledge.service.revisions import RevisionService
from services.knowledge.service.search import SearchService, SemanticSearch
from services.knowledge.service.spaces import SpaceService
from services.knowledge.service.templates import TemplateService
from services.knowledge.service.transfer import TransferService


class KnowledgeDomain:
    """Every part of the knowledge service, sharing one repository."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        clock: Clock,
        cache: Cache,
        semantic: EmbeddingsIndex | None = None,
    ) -> None:
        access = SpaceAccess(repository)
        self.repository = repository
        self.index = semantic
        self.spaces = SpaceService(repository, access, clock)
        self.pages = PageService(repository, access, clock)
        self.revisions = RevisionService(repository, self.pages)
        self.comments = CommentService(repository, self.pages, clock)
        self.templates = TemplateService(repository, clock)
        self.recycle = RecycleBin(repository, access, self.pages, clock)
        self.transfer = TransferService(repository, access, self.pages)
        self.search = SearchService(repository, access, cache, semantic)


__all__ = ["KnowledgeDomain", "SemanticSearch"]
