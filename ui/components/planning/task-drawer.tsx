"use client";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Task, TaskPriority, TaskStatus } from "@/lib/api";
import { api, unwrap } from "@/lib/api";
import { ALLOWED_MOVES, isConflict, patchTask, PRIORITIES, STATUSES, statusLabel, type TaskChanges, upsertTask } from "@/lib/planning";
import { ErrorNotice, toast, violationOf } from "../errors";
import { AlertDialog, AlertDialogAction, AlertDialogCancel, AlertDialogContent } from "../ui/alert-dialog";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select, Textarea } from "../ui/field";

type Draft = {
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  assigneeId: string;
  labels: string;
  dueDate: string;
  estimateHours: string;
  parentTaskId: string;
  dependsOnTaskIds: string[];
};

function draftOf(task: Task): Draft {
  return {
    title: task.title ?? "",
    description: task.description ?? "",
    status: task.status ?? "TASK_STATUS_TO_DO",
    priority: task.priority ?? "TASK_PRIORITY_MEDIUM",
    assigneeId: task.assigneeId ?? "",
    labels: (task.labels ?? []).join(", "),
    dueDate: task.dueTime ? task.dueTime.slice(0, 10) : "",
    estimateHours: task.estimate ? String(Number.parseFloat(task.estimate) / 3600) : "",
    parentTaskId: task.parentTaskId ?? "",
    dependsOnTaskIds: task.dependsOnTaskIds ?? [],
  };
}

/** The fields the draft changed, in the API's shape. */
export function changesOf(task: Task, draft: Draft): TaskChanges {
  const before = draftOf(task);
  const changes: TaskChanges = {};
  if (draft.title !== before.title) changes.title = draft.title;
  if (draft.description !== before.description) changes.description = draft.description;
  if (draft.status !== before.status) changes.status = draft.status;
  if (draft.priority !== before.priority) changes.priority = draft.priority;
  if (draft.assigneeId !== before.assigneeId) changes.assigneeId = draft.assigneeId;
  if (draft.labels !== before.labels)
    changes.labels = draft.labels.split(",").map((l) => l.trim()).filter(Boolean);
  if (draft.dueDate !== before.dueDate) changes.dueTime = draft.dueDate ? `${draft.dueDate}T00:00:00Z` : undefined;
  if (draft.estimateHours !== before.estimateHours)
    changes.estimate = draft.estimateHours ? `${Math.round(Number(draft.estimateHours) * 3600)}s` : undefined;
  if (draft.parentTaskId !== before.parentTaskId) changes.parentTaskId = draft.parentTaskId;
  if (draft.dependsOnTaskIds.join() !== before.dependsOnTaskIds.join()) changes.dependsOnTaskIds = draft.dependsOnTaskIds;
  return changes;
}

/** Edit every field of a task. A save is conditional on the version the drawer opened with;
 * when someone else changed the task meanwhile, nothing is written and the person chooses
 * between their version (reload) and this one (overwrite). */
export function TaskDrawer({
  projectId,
  task,
  tasks,
  onClose,
}: {
  projectId: string;
  task: Task;
  tasks: Task[];
  onClose: () => void;
}) {
  const client = useQueryClient();
  const [base, setBase] = useState(task);
  const [draft, setDraft] = useState(() => draftOf(task));
  const [failure, setFailure] = useState<unknown>(null);
  const [theirs, setTheirs] = useState<Task | null>(null);
  const [saving, setSaving] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const others = tasks.filter((t) => t.id !== task.id);
  const statuses = STATUSES.filter((s) => s.value === base.status || ALLOWED_MOVES[base.status ?? "TASK_STATUS_TO_DO"].includes(s.value));

  const save = async (etag?: string) => {
    setSaving(true);
    setFailure(null);
    try {
      const changes = changesOf(base, draft);
      if (Object.keys(changes).length === 0) return onClose();
      const saved = await patchTask(projectId, base, changes, etag);
      upsertTask(client, projectId, saved);
      toast.info(`Saved “${saved.title}”`);
      onClose();
    } catch (error) {
      if (isConflict(error)) {
        const current = await unwrap(
          api().GET("/api/v1/planning/projects/{project_id}/tasks/{task_id}", {
            params: { path: { project_id: projectId, task_id: base.id ?? "" } },
          }),
        );
        setTheirs((current.task as Task | undefined) ?? null);
      } else setFailure(error);
    } finally {
      setSaving(false);
    }
  };

  const reload = () => {
    if (!theirs) return;
    upsertTask(client, projectId, theirs);
    setBase(theirs);
    setDraft(draftOf(theirs));
    setTheirs(null);
  };

  const overwrite = () => {
    const etag = theirs?.etag;
    if (theirs) setBase({ ...base, etag });
    setTheirs(null);
    void save(etag);
  };

  const error = (field: string) => violationOf(failure, field);
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent side title={`Edit task: ${base.title}`}>
        <form
          className="flex flex-col gap-4"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <Field id="task-title" label="Title" error={error("title")}>
            <Input id="task-title" value={draft.title} aria-invalid={!!error("title")} onChange={(e) => set("title", e.target.value)} />
          </Field>
          <Field id="task-description" label="Description" error={error("description")}>
            <Textarea id="task-description" value={draft.description} onChange={(e) => set("description", e.target.value)} />
          </Field>
          <div className="grid grid-cols-2 gap-4">
            <Field id="task-status" label="Status" error={error("status")}>
              <Select id="task-status" value={draft.status} onChange={(e) => set("status", e.target.value as TaskStatus)}>
                {statuses.map((s) => (
                  <option key={s.value} value={s.value}>
                    {s.label}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id="task-priority" label="Priority" error={error("priority")}>
              <Select id="task-priority" value={draft.priority} onChange={(e) => set("priority", e.target.value as TaskPriority)}>
                {PRIORITIES.map((p) => (
                  <option key={p.value} value={p.value}>
                    {p.label}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id="task-assignee" label="Assignee (user id)" error={error("assigneeId")}>
              <Input id="task-assignee" value={draft.assigneeId} onChange={(e) => set("assigneeId", e.target.value)} />
            </Field>
            <Field id="task-due" label="Due" error={error("dueTime")}>
              <Input id="task-due" type="date" value={draft.dueDate} onChange={(e) => set("dueDate", e.target.value)} />
            </Field>
            <Field id="task-estimate" label="Estimate (hours)" error={error("estimate")}>
              <Input
                id="task-estimate"
                inputMode="decimal"
                value={draft.estimateHours}
                aria-invalid={!!error("estimate")}
                onChange={(e) => set("estimateHours", e.target.value)}
              />
            </Field>
            <Field id="task-labels" label="Labels (comma-separated)" error={error("labels")}>
              <Input id="task-labels" value={draft.labels} aria-invalid={!!error("labels")} onChange={(e) => set("labels", e.target.value)} />
            </Field>
          </div>
          <Field id="task-parent" label="Parent task" error={error("parentTaskId")}>
            <Select id="task-parent" value={draft.parentTaskId} onChange={(e) => set("parentTaskId", e.target.value)}>
              <option value="">None</option>
              {others.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.title}
                </option>
              ))}
            </Select>
          </Field>
          <Field id="task-dependencies" label="Depends on" error={error("dependsOnTaskIds")}>
            <Select
              id="task-dependencies"
              multiple
              className="h-28"
              value={draft.dependsOnTaskIds}
              onChange={(e) => set("dependsOnTaskIds", Array.from(e.target.selectedOptions, (o) => o.value))}
            >
              {others.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.title}
                </option>
              ))}
            </Select>
          </Field>
          <ErrorNotice error={failure} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={saving}>
              Save
            </Button>
          </div>
        </form>
        <AlertDialog open={theirs !== null}>
          <AlertDialogContent
            title="Changed by someone else"
            description={
              <>
                <p>This task changed after you opened it. Nothing was saved. Their version:</p>
                <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-3 text-foreground">
                  <dt className="font-medium">Title</dt>
                  <dd data-testid="their-title">{theirs?.title}</dd>
                  <dt className="font-medium">Status</dt>
                  <dd>{statusLabel(theirs?.status)}</dd>
                  <dt className="font-medium">Updated</dt>
                  <dd>{theirs?.updateTime ? new Date(theirs.updateTime).toLocaleString() : "—"}</dd>
                </dl>
              </>
            }
          >
            <AlertDialogCancel asChild>
              <Button variant="secondary" onClick={reload}>
                Reload their version
              </Button>
            </AlertDialogCancel>
            <AlertDialogAction asChild>
              <Button variant="danger" onClick={overwrite}>
                Overwrite with mine
              </Button>
            </AlertDialogAction>
          </AlertDialogContent>
        </AlertDialog>
      </DialogContent>
    </Dialog>
  );
}
