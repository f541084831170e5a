"""Proto ↔ document. Every resource keeps its message as proto3 JSON under one field (`body`),
beside the top-level fields the repository filters and sorts on; the etag is the store's.

One container holds every kind (`kind`: space, page, revision, comment, template) because a
page's writes go with its revision and its events in one atomic batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import Message

from coder.knowledge.v1 import knowledge_pb2
from services.kit import timestamp_text
from services.kit.store import Document
from services.knowledge import _search

M = TypeVar("M", bound=Message)

SPACE_KIND = "space"
PAGE_KIND = "page"
REVISION_KIND = "revision"
COMMENT_KIND = "comment"
TEMPLATE_KIND = "template"

RUNBOOK = "runbook"
PLAIN = "page"


def _body(message: Message) -> dict[str, Any]:
    body = MessageToDict(message, preserving_proto_field_name=True)
    body.pop("etag", None)
    return body


def _parsed(document: Document, message: M) -> M:
    ParseDict(document["body"], message, ignore_unknown_fields=True)
    etag = document.get("_etag")
    if etag is not None and "etag" in message.DESCRIPTOR.fields_by_name:
        message.etag = etag  # type: ignore[attr-defined]
    return message


def sort_key(text: str) -> str:
    """Case-insensitive order of names and titles."""
    return text.casefold()


def kind_text(kind: int) -> str:
    return RUNBOOK if kind == knowledge_pb2.PAGE_KIND_RUNBOOK else PLAIN


# --- spaces ----------------------------------------------------------------------------------


def space_document(space: knowledge_pb2.Space) -> Document:
    return {
        "id": space.id,
        "kind": SPACE_KIND,
        "nameKey": sort_key(space.name),
        "body": _body(space),
    }


def space_from_document(document: Document) -> knowledge_pb2.Space:
    return _parsed(document, knowledge_pb2.Space())


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageCandidate:
    """A page a search found, read cheaply: its id and the text full text matches (title,
    Markdown, runbook steps), the message parsed only for the hits answered."""

    id: str
    text: str
    length: int
    """How many words `text` holds."""
    document: Document

    def page(self) -> knowledge_pb2.Page:
        return page_from_document(self.document)


def candidate_from_document(document: Document) -> PageCandidate:
    body = document["body"]
    steps = " ".join(step.get("text", "") for step in body.get("steps", ()))
    text = f"{body.get('title', '')} {body.get('markdown', '')} {steps}"
    return PageCandidate(document["id"], text, int(document.get("length", 0)), document)


def page_document(page: knowledge_pb2.Page, *, trash_id: str = "") -> Document:
    """The page's document with its index fields; `trash_id` names the page whose deletion
    put it in the recycle bin (itself for the page deleted)."""
    steps = " ".join(step.text for step in page.steps)
    terms, title_terms, length = _search.index_terms(page.title, f"{page.markdown} {steps}")
    return {
        "id": page.id,
        "kind": PAGE_KIND,
        "spaceId": page.space_id,
        "parentId": page.parent_id,
        "titleKey": sort_key(page.title),
        "pageKind": kind_text(page.kind),
        "linksTo": list(page.links),
        "terms": terms,
        "titleTerms": title_terms,
        "tagKeys": _search.tag_keys((tag.name, tag.value) for tag in page.tags),
        "length": length,
        "createdBy": page.created_by,
        "updatedBy": page.updated_by,
        "updateTime": timestamp_text(page.update_time),
        "trashed": page.HasField("trash_time"),
        "trashId": trash_id,
        "trashRoot": bool(trash_id) and trash_id == page.id,
        "trashTime": timestamp_text(page.trash_time) if page.HasField("trash_time") else "",
        "body": _body(page),
    }


def page_from_document(document: Document) -> knowledge_pb2.Page:
    return _parsed(document, knowledge_pb2.Page())


@dataclass(frozen=True, slots=True)
class StoredPage:
    """A stored page and what its document adds: the page whose deletion put it in the
    recycle bin (empty while it is live)."""

    page: knowledge_pb2.Page
    trash_id: str

    @property
    def trashed(self) -> bool:
        return self.page.HasField("trash_time")


def stored_page_from_document(document: Document) -> StoredPage:
    return StoredPage(page_from_document(document), str(document.get("trashId", "")))


def without_html(page: knowledge_pb2.Page) -> knowledge_pb2.Page:
    page.html = ""
    return page


# --- revisions -------------------------------------------------------------------------------


def revision_id(page_id: str, number: int) -> str:
    """A revision's id: its page's id and number, so one is found by a point read."""
    return f"{page_id}-r{number}"


def revision_document(revision: knowledge_pb2.PageRevision) -> Document:
    return {
        "id": revision_id(revision.page_id, revision.revision),
        "kind": REVISION_KIND,
        "pageId": revision.page_id,
        "revision": revision.revision,
        "body": _body(revision),
    }


def revision_from_document(document: Document) -> knowledge_pb2.PageRevision:
    return _parsed(document, knowledge_pb2.PageRevision())


# --- comments and templates ------------------------------------------------------------------


def comment_document(comment: knowledge_pb2.Comment) -> Document:
    return {
        "id": comment.id,
        "kind": COMMENT_KIND,
        "pageId": comment.page_id,
        "threadId": comment.thread_id,
        "parentId": comment.parent_id,
        "createTime": timestamp_text(comment.create_time),
        "body": _body(comment),
    }


def comment_from_document(document: Document) -> knowledge_pb2.Comment:
    return _parsed(document, knowledge_pb2.Comment())


def template_document(template: knowledge_pb2.PageTemplate) -> Document:
    return {
        "id": template.id,
        "kind": TEMPLATE_KIND,
        "nameKey": sort_key(template.name),
        "body": _body(template),
    }


def template_from_document(document: Document) -> knowledge_pb2.PageTemplate:
    return _parsed(document, knowledge_pb2.PageTemplate())
