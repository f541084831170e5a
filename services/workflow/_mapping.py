"""Proto ↔ document mapping of definitions, their revisions and runs.

Steps and triggers are stored as their proto3 JSON (the interpreter reads the same JSON), the
rest field by field in lowerCamelCase. A definition also stores the event types its triggers
listen to (`eventTypes`), which the event consumer looks definitions up by.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from coder.workflow.v1 import definition_pb2, run_pb2
from services.kit import SEARCH_ATTRIBUTES, fill_timestamp, timestamp_text
from services.kit.store import Document
from services.workflow._engine import RunView

_ATTRIBUTES = {key.name: key for key in SEARCH_ATTRIBUTES}


def steps_json(definition: definition_pb2.Definition) -> list[dict[str, Any]]:
    """The steps as the interpreter reads them (proto3 JSON)."""
    return [json_format.MessageToDict(step) for step in definition.steps]


def definition_document(definition: definition_pb2.Definition) -> Document:
    """The stored form of a definition (its etag is the store's, never stored)."""
    return {
        "id": definition.id,
        "organizationId": definition.organization_id,
        "name": definition.name,
        "description": definition.description,
        "steps": steps_json(definition),
        "triggers": [json_format.MessageToDict(t) for t in definition.triggers],
        "eventTypes": sorted(
            {t.event.type for t in definition.triggers if t.WhichOneof("kind") == "event"}
        ),
        "concurrencyLimit": definition.concurrency_limit,
        "revision": definition.revision,
        "createdBy": definition.created_by,
        "createTime": timestamp_text(definition.create_time),
        "updateTime": timestamp_text(definition.update_time),
    }


def definition_from_document(document: Document) -> definition_pb2.Definition:
    """The definition a stored document holds, with the document's `_etag` as its etag."""
    definition = definition_pb2.Definition(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        description=document["description"],
        concurrency_limit=document["concurrencyLimit"],
        revision=document["revision"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    for step in document["steps"]:
        json_format.ParseDict(step, definition.steps.add())
    for trigger in document["triggers"]:
        json_format.ParseDict(trigger, definition.triggers.add())
    fill_timestamp(definition.create_time, document["createTime"])
    fill_timestamp(definition.update_time, document["updateTime"])
    return definition


def revision_id(definition_id: str, revision: int) -> str:
    """The id of a stored revision; zero-padded so id order is revision order."""
    return f"{definition_id}-r{revision:08d}"


def revision_document(definition: definition_pb2.Definition) -> Document:
    """A revision as stored: the definition's document under the revision's own id."""
    document = definition_document(definition)
    document["definitionId"] = definition.id
    document["id"] = revision_id(definition.id, definition.revision)
    return document


def definition_from_revision(document: Document) -> definition_pb2.Definition:
    definition = definition_from_document({**document, "id": document["definitionId"]})
    definition.ClearField("etag")
    return definition


def run_from_view(organization_id: str, run_id: str, view: RunView) -> run_pb2.Run:
    """The Run of Temporal's view of it: visibility, the start's memo and, when queried, the
    workflow's current state."""
    attributes = view.execution.typed_search_attributes
    memo = view.memo
    run = run_pb2.Run(
        id=run_id,
        organization_id=organization_id,
        definition_id=attributes.get(_ATTRIBUTES["CoderDefinition"]) or "",
        definition_revision=memo.get("revision", 0),
        status=run_pb2.RunStatus.Value(view.status),
        trigger=run_pb2.TriggerKind.Value(
            attributes.get(_ATTRIBUTES["CoderTrigger"]) or "TRIGGER_KIND_UNSPECIFIED"
        ),
        trigger_name=memo.get("triggerName", ""),
        started_by=memo.get("startedBy", ""),
    )
    json_format.ParseDict(memo.get("input") or {}, run.input)
    run.start_time.FromDatetime(view.execution.start_time)
    if view.execution.close_time is not None:
        run.close_time.FromDatetime(view.execution.close_time)
    if view.state is not None:
        if view.state.output is not None:
            json_format.ParseDict(view.state.output, run.output)
        run.error = view.state.error
        run.waiting_on.extend(view.state.waiting_on)
        for step in view.state.steps:
            json_format.ParseDict(step, run.steps.add())
    return run
