"""Proto ↔ document mapping of projects, tasks, milestones, cycles, relations and worklogs.

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

from google.protobuf import json_format

from coder.planning.v1 import (
    plan_pb2,
    planning_service_pb2,
    project_pb2,
    relation_pb2,
    schedule_pb2,
    task_pb2,
    worklog_pb2,
)
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
        "milestoneId": task.milestone_id,
        "cycleId": task.cycle_id,
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
        # Tasks stored before milestones and cycles existed have neither.
        milestone_id=document.get("milestoneId", ""),
        cycle_id=document.get("cycleId", ""),
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


def _fill_optional(target: object, field: str, text: str | None) -> None:
    if text is not None:
        fill_timestamp(getattr(target, field), text)


# --- milestones and cycles ---------------------------------------------------------------------

UNDATED = "~"
"""The sort key of a milestone without a target time: after every time text, so undated
milestones list last in both stores (each sorts null first)."""


def milestone_document(milestone: schedule_pb2.Milestone) -> Document:
    """The stored form of a milestone; `targetKey` orders undated milestones last."""
    target = optional_timestamp_text(milestone, "target_time")
    return {
        "id": milestone.id,
        "organizationId": milestone.organization_id,
        "projectId": milestone.project_id,
        "name": milestone.name,
        "description": milestone.description,
        "targetTime": target,
        "targetKey": UNDATED if target is None else target,
        "createdBy": milestone.created_by,
        "createTime": timestamp_text(milestone.create_time),
        "updateTime": timestamp_text(milestone.update_time),
    }


def milestone_from_document(document: Document) -> schedule_pb2.Milestone:
    milestone = schedule_pb2.Milestone(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        name=document["name"],
        description=document["description"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    _fill_optional(milestone, "target_time", document["targetTime"])
    fill_timestamp(milestone.create_time, document["createTime"])
    fill_timestamp(milestone.update_time, document["updateTime"])
    return milestone


def cycle_document(cycle: schedule_pb2.Cycle) -> Document:
    return {
        "id": cycle.id,
        "organizationId": cycle.organization_id,
        "projectId": cycle.project_id,
        "name": cycle.name,
        "goal": cycle.goal,
        "startTime": timestamp_text(cycle.start_time),
        "endTime": timestamp_text(cycle.end_time),
        "createdBy": cycle.created_by,
        "createTime": timestamp_text(cycle.create_time),
        "updateTime": timestamp_text(cycle.update_time),
    }


def cycle_from_document(document: Document) -> schedule_pb2.Cycle:
    cycle = schedule_pb2.Cycle(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        name=document["name"],
        goal=document["goal"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(cycle.start_time, document["startTime"])
    fill_timestamp(cycle.end_time, document["endTime"])
    fill_timestamp(cycle.create_time, document["createTime"])
    fill_timestamp(cycle.update_time, document["updateTime"])
    return cycle


# --- relations ---------------------------------------------------------------------------------

_INVERSE = {
    relation_pb2.RELATION_KIND_BLOCKS: relation_pb2.RELATION_KIND_BLOCKED_BY,
    relation_pb2.RELATION_KIND_BLOCKED_BY: relation_pb2.RELATION_KIND_BLOCKS,
    relation_pb2.RELATION_KIND_DUPLICATES: relation_pb2.RELATION_KIND_DUPLICATED_BY,
    relation_pb2.RELATION_KIND_DUPLICATED_BY: relation_pb2.RELATION_KIND_DUPLICATES,
    relation_pb2.RELATION_KIND_RELATES_TO: relation_pb2.RELATION_KIND_RELATES_TO,
}
STORED_KINDS = frozenset(
    {
        relation_pb2.RELATION_KIND_BLOCKS,
        relation_pb2.RELATION_KIND_DUPLICATES,
        relation_pb2.RELATION_KIND_RELATES_TO,
    }
)
"""A relation is stored once, in its active voice: "b blocked by a" as "a blocks b"."""


def relation_document(relation: relation_pb2.TaskRelation) -> Document:
    """The stored form of a relation, turned to its active voice (`source` → `target`)."""
    source, target, kind = relation.task_id, relation.related_task_id, relation.kind
    if kind not in STORED_KINDS:
        source, target, kind = target, source, _INVERSE[kind]
    return {
        "id": relation.id,
        "organizationId": relation.organization_id,
        "projectId": relation.project_id,
        "sourceTaskId": source,
        "targetTaskId": target,
        "kind": int(kind),
        "createdBy": relation.created_by,
        "createTime": timestamp_text(relation.create_time),
    }


def relation_from_document(document: Document, task_id: str) -> relation_pb2.TaskRelation:
    """The stored relation read from the side of `task_id` (either of its tasks)."""
    kind = document["kind"]
    if task_id == document["sourceTaskId"]:
        related = document["targetTaskId"]
    else:
        related, kind = document["sourceTaskId"], _INVERSE[kind]
    relation = relation_pb2.TaskRelation(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        task_id=task_id,
        related_task_id=related,
        kind=kind,
        created_by=document["createdBy"],
    )
    fill_timestamp(relation.create_time, document["createTime"])
    return relation


# --- worklogs ----------------------------------------------------------------------------------


def worklog_document(worklog: worklog_pb2.Worklog) -> Document:
    return {
        "id": worklog.id,
        "organizationId": worklog.organization_id,
        "projectId": worklog.project_id,
        "taskId": worklog.task_id,
        "userId": worklog.user_id,
        "duration": worklog.duration.ToJsonString(),
        "startTime": timestamp_text(worklog.start_time),
        "description": worklog.description,
        "createTime": timestamp_text(worklog.create_time),
        "updateTime": timestamp_text(worklog.update_time),
    }


def worklog_from_document(document: Document) -> worklog_pb2.Worklog:
    worklog = worklog_pb2.Worklog(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        task_id=document["taskId"],
        user_id=document["userId"],
        description=document["description"],
        etag=document.get("_etag", ""),
    )
    worklog.duration.FromJsonString(document["duration"])
    fill_timestamp(worklog.start_time, document["startTime"])
    fill_timestamp(worklog.create_time, document["createTime"])
    fill_timestamp(worklog.update_time, document["updateTime"])
    return worklog


# --- plans -------------------------------------------------------------------------------------


def plan_document(plan: plan_pb2.Plan) -> Document:
    """The stored form of a plan; its draft is stored as its proto3 JSON (read back whole)."""
    return {
        "id": plan.id,
        "organizationId": plan.organization_id,
        "projectId": plan.project_id,
        "intent": plan.intent,
        "knowledgePageIds": list(plan.knowledge_page_ids),
        "draft": json_format.MessageToDict(plan.draft),
        "state": int(plan.state),
        "revision": plan.revision,
        "taskIds": dict(plan.task_ids),
        "createdBy": plan.created_by,
        "createTime": timestamp_text(plan.create_time),
        "updateTime": timestamp_text(plan.update_time),
    }


def plan_from_document(document: Document) -> plan_pb2.Plan:
    plan = plan_pb2.Plan(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        intent=document["intent"],
        knowledge_page_ids=document["knowledgePageIds"],
        state=document["state"],
        revision=document["revision"],
        task_ids=document["taskIds"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    json_format.ParseDict(document["draft"], plan.draft)
    fill_timestamp(plan.create_time, document["createTime"])
    fill_timestamp(plan.update_time, document["updateTime"])
    return plan


# --- saved views -------------------------------------------------------------------------------


def view_document(view: planning_service_pb2.View) -> Document:
    """The stored form of a view; `nameKey` orders views by name ignoring case."""
    return {
        "id": view.id,
        "organizationId": view.organization_id,
        "projectId": view.project_id,
        "name": view.name,
        "nameKey": name_key(view.name),
        "query": json_format.MessageToDict(view.query),
        "createdBy": view.created_by,
        "createTime": timestamp_text(view.create_time),
        "updateTime": timestamp_text(view.update_time),
    }


def view_from_document(document: Document) -> planning_service_pb2.View:
    view = planning_service_pb2.View(
        id=document["id"],
        organization_id=document["organizationId"],
        project_id=document["projectId"],
        name=document["name"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    json_format.ParseDict(document["query"], view.query)
    fill_timestamp(view.create_time, document["createTime"])
    fill_timestamp(view.update_time, document["updateTime"])
    return view
