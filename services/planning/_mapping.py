"""Proto ↔ document mapping of projects and tasks.

Documents use lowerCamelCase field names. Choices that queries depend on:
- times are the kit's stored time text (fixed-width RFC 3339 UTC, nine fractional digits), so
  string order is time order (ORDER BY and range filters work on them);
- an unset time is stored as null rather than left out: Cosmos DB may leave documents without
  the sorted property out of an ORDER BY, which would drop undated tasks from pages;
- a project's name is also stored case-folded (`nameKey`), so a name-prefix search ignores
  case with a plain STARTSWITH on both stores;
- enums are stored as their proto numbers, which never change, and the priority number is its
  urgency, so sorting on it sorts by urgency.

The document → proto direction is on GetTask's hot path, so messages are filled field by field
rather than through json_format.
"""

from __future__ import annotations

from coder.planning.v1 import project_pb2, task_pb2
from services.kit import fill_timestamp, optional_timestamp_text, timestamp_text
from services.kit.store import Document

# --- projects --------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """A project name as the name-prefix search compares it (case-folded)."""
    return name.casefold()


def project_document(project: project_pb2.Project) -> Document:
    """The stored form of a project (its etag is the store's, never stored)."""
    return {
        "id": project.id,
        "organizationId": project.organization_id,
        "name": project.name,
        "nameKey": name_key(project.name),
        "description": project.description,
        "createdBy": project.created_by,
        "createTime": timestamp_text(project.create_time),
        "updateTime": timestamp_text(project.update_time),
    }


def project_from_document(document: Document) -> project_pb2.Project:
    """The project a stored document holds, with the document's `_etag` as its etag."""
    project = project_pb2.Project(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        description=document["description"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(project.create_time, document["createTime"])
    fill_timestamp(project.update_time, document["updateTime"])
    return project


# --- tasks -----------------------------------------------------------------------------------


def task_document(task: task_pb2.Task) -> Document:
    """The stored form of a task (its etag is the store's, never stored)."""
    return {
        "id": task.id,
        "organizationId": task.organization_id,
        "projectId": task.project_id,
        "title": task.title,
        "description": task.description,
        "status": int(task.status),
        "priority": int(task.priority),
        "assigneeId": task.assignee_id,
        "labels": list(task.labels),
        "dueTime": optional_timestamp_text(task, "due_time"),
        "estimate": task.estimate.ToJsonString() if task.HasField("estimate") else None,
        "parentTaskId": task.parent_task_id,
        "dependsOnTaskIds": list(task.depends_on_task_ids),
        "createdBy": task.created_by,
        "createTime": timestamp_text(task.create_time),
        "updateTime": timestamp_text(task.update_time),
        "completeTime": optional_timestamp_text(task, "complete_time"),
    }


def task_from_document(document: Document) -> task_pb2.Task:
    """The task a stored document holds, with the document's `_etag` as its etag."""
    task = task_pb2.Task(
        id=document["id"],
        project_id=document["projectId"],
        organization_id=document["organizationId"],
        title=document["title"],
        description=document["description"],
        status=document["status"],
        priority=document["priority"],
        assignee_id=document["assigneeId"],
        labels=document["labels"],
        parent_task_id=document["parentTaskId"],
        depends_on_task_ids=document["dependsOnTaskIds"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(task.create_time, document["createTime"])
    fill_timestamp(task.update_time, document["updateTime"])
    if (due := document["dueTime"]) is not None:
        fill_timestamp(task.due_time, due)
    if (complete := document["completeTime"]) is not None:
        fill_timestamp(task.complete_time, complete)
    if (estimate := document["estimate"]) is not None:
        task.estimate.FromJsonString(estimate)
    return task
