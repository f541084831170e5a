"""The events the embeddings service publishes. It consumes none.

- `embeddings.document.indexed` (DocumentIndexed): a document was chunked and embedded, or had
  its metadata or tags replaced; subject `<collection id>/<document id>`. The Knowledge Base
  and other indexers can follow their own pages' indexing by it.
- `embeddings.document.deleted` (DocumentDeleted): a document left a collection.
- `embeddings.embedding.completed` (`coder.usage.v1.UsageRecorded`): the local model embedded
  `input_tokens` tokens for a user, which Usage Tracking meters (category
  `embeddings.embedding`). What a PROVIDER_AI_SERVICE collection embeds is metered by the AI
  Service's own `ai.embedding.completed`, so it is not reported twice.
Each is written in the same batch as the document it is about (transactional outbox).
"""

from __future__ import annotations

from coder.embeddings.v1 import events_pb2, resources_pb2
from coder.events.v1 import event_pb2
from coder.usage.v1 import events_pb2 as usage_events_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

DOCUMENT_INDEXED = "embeddings.document.indexed"
DOCUMENT_DELETED = "embeddings.document.deleted"
EMBEDDING_COMPLETED = "embeddings.embedding.completed"
LOCAL_PROVIDER = "local"


class EmbeddingsEvents:
    """Builds the service's events for one actor at one clock."""

    def __init__(self, factory: EventFactory, user_id: str) -> None:
        self._event = factory
        self._user_id = user_id

    @classmethod
    def acting(cls, principal: Principal, clock: Clock) -> EmbeddingsEvents:
        return cls(EventFactory.acting(principal, clock), principal.subject)

    def document_indexed(
        self, document: resources_pb2.Document, embedded_tokens: int
    ) -> event_pb2.Event:
        payload = events_pb2.DocumentIndexed(document=document, embedded_tokens=embedded_tokens)
        payload.document.ClearField("etag")
        return self._event(DOCUMENT_INDEXED, f"{document.collection_id}/{document.id}", payload)

    def document_deleted(self, collection_id: str, document_id: str) -> event_pb2.Event:
        payload = events_pb2.DocumentDeleted(collection_id=collection_id, document_id=document_id)
        return self._event(DOCUMENT_DELETED, f"{collection_id}/{document_id}", payload)

    def embedded(self, collection_id: str, model: str, tokens: int) -> event_pb2.Event:
        """Usage of the local model: `tokens` model tokens embedded."""
        payload = usage_events_pb2.UsageRecorded(
            user_id=self._user_id if _usable(self._user_id) else "",
            model=model,
            provider=LOCAL_PROVIDER,
            quantities={"input_tokens": str(tokens)},
        )
        return self._event(EMBEDDING_COMPLETED, collection_id, payload)


def _usable(user_id: str) -> bool:
    return len(user_id) <= 128 and all(c.isalnum() or c in "_.@:-" for c in user_id)
