"""The events the knowledge service publishes (through the outbox, in the batch of the change).

Every event is `knowledge.<entity>.<past-verb>`, its subject the entity's id:
- `knowledge.space.created` / `.updated` / `.deleted` (SpaceChanged);
- `knowledge.page.created` / `.updated` / `.trashed` / `.restored` / `.deleted` (PageChanged;
  `.deleted` is the purge from the recycle bin, one event per page);
- `knowledge.comment.created` (CommentCreated), for notifications.
Payloads carry no etag (the event is stored in the batch that assigns it) and pages no HTML.

Consumed: the service's own page events, by the consumer that keeps the semantic index in
Embeddings (`_embeddings.EmbeddingsIndex.reindex`), on the durable queue
`knowledge-semantic-index`. It is idempotent: it applies the page's current state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from coder.events.v1 import event_pb2
from coder.knowledge.v1 import events_pb2, knowledge_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory, Subscription

SPACE_CREATED = "knowledge.space.created"
SPACE_UPDATED = "knowledge.space.updated"
SPACE_DELETED = "knowledge.space.deleted"
PAGE_CREATED = "knowledge.page.created"
PAGE_UPDATED = "knowledge.page.updated"
PAGE_TRASHED = "knowledge.page.trashed"
PAGE_RESTORED = "knowledge.page.restored"
PAGE_DELETED = "knowledge.page.deleted"
COMMENT_CREATED = "knowledge.comment.created"

PAGE_EVENTS = (PAGE_CREATED, PAGE_UPDATED, PAGE_TRASHED, PAGE_RESTORED, PAGE_DELETED)


class KnowledgeEvents:
    """Builds the service's events for one actor at one clock."""

    def __init__(self, factory: EventFactory) -> None:
        self._event = factory

    @classmethod
    def acting(cls, principal: Principal, clock: Clock) -> KnowledgeEvents:
        return cls(EventFactory.acting(principal, clock))

    def space(self, kind: str, space: knowledge_pb2.Space) -> event_pb2.Event:
        payload = events_pb2.SpaceChanged(space=space)
        payload.space.ClearField("etag")
        return self._event(kind, space.id, payload)

    def page(self, kind: str, page: knowledge_pb2.Page) -> event_pb2.Event:
        payload = events_pb2.PageChanged(page=page)
        payload.page.ClearField("etag")
        payload.page.ClearField("html")
        return self._event(kind, page.id, payload)

    def comment_created(
        self, comment: knowledge_pb2.Comment, page: knowledge_pb2.Page
    ) -> event_pb2.Event:
        payload = events_pb2.CommentCreated(
            comment=comment, space_id=page.space_id, page_title=page.title
        )
        payload.comment.ClearField("etag")
        return self._event(COMMENT_CREATED, comment.id, payload)


def semantic_index_subscription(
    consumer: str, reindex: Callable[[event_pb2.Event], Awaitable[None]]
) -> Subscription:
    """The page events, delivered to the semantic index."""
    return Subscription(consumer, "knowledge", PAGE_EVENTS, reindex)
