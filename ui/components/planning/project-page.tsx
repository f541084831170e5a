"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Task, TaskStatus } from "@/lib/api";
import { api, unwrap } from "@/lib/api";
import { canMove, PRIORITIES, priorityLabel, STATUSES, statusLabel, upsertTask, useMoveTask, useProject, useTasks } from "@/lib/planning";
import { useSession } from "../providers";
import { type Change, useProjectWatch } from "@/lib/watch";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Checkbox } from "../ui/checkbox";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select } from "../ui/field";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "../ui/tabs";
import { TaskDrawer } from "./task-drawer";

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && !!target.closest("input,textarea,select,[role=dialog],[role=alertdialog]");
}

function CreateTask({ projectId, open, onOpenChange }: { projectId: string; open: boolean; onOpenChange: (open: boolean) => void }) {
  const client = useQueryClient();
  const [title, setTitle] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(api().POST("/api/v1/planning/projects/{project_id}/tasks", { params: { path: { project_id: projectId } }, body: { title } })),
    onSuccess: (reply) => {
      upsertTask(client, projectId, reply.task as Task);
      setTitle("");
      onOpenChange(false);
    },
  });
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent title="New task">
        <form
          className="flex flex-col gap-4"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field id="new-task-title" label="Title" error={violationOf(create.error, "title")}>
            <Input id="new-task-title" value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />
          </Field>
          <ErrorNotice error={create.error && !violationOf(create.error, "title") ? create.error : null} />
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending}>
              Add task
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** Members' names by user id, for saying who changed what; the member list is for owners and
 * admins, so others see a short id instead. */
function useMemberNames(): Map<string, string> {
  const { session } = useSession();
  const org = session?.organizationId ?? "";
  const members = useQuery({
    queryKey: ["members", org],
    enabled: session?.role === "owner" || session?.role === "admin",
    queryFn: () =>
      unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/members", { params: { path: { organization_id: org }, query: { pageSize: 1000 } } })),
  });
  return useMemo(
    () => new Map((members.data?.members ?? []).map((m) => [m.userId ?? "", m.displayName ?? m.email ?? ""])),
    [members.data],
  );
}

function describeChange(change: Change, you: string, names: Map<string, string>): string {
  const who = change.actorId === you ? "You" : (names.get(change.actorId) ?? `Member ${change.actorId.slice(-6)}`);
  const title = change.task.title ?? "a task";
  switch (change.kind) {
    case "TASK_CHANGE_KIND_CREATED":
      return `${who} created “${title}”`;
    case "TASK_CHANGE_KIND_STATUS_CHANGED":
      return `${who} moved “${title}” from ${statusLabel(change.previousStatus as TaskStatus)} to ${statusLabel(change.task.status)}`;
    case "TASK_CHANGE_KIND_DELETED":
      return `${who} deleted “${title}”`;
    default:
      return `${who} changed ${change.fields.join(", ") || "fields"} of “${title}”`;
  }
}

function Board({
  tasks,
  focused,
  onFocus,
  onOpen,
  onMove,
}: {
  tasks: Task[];
  focused: string;
  onFocus: (id: string) => void;
  onOpen: (task: Task) => void;
  onMove: (task: Task, status: TaskStatus) => void;
}) {
  const [dragged, setDragged] = useState<Task | null>(null);
  const [over, setOver] = useState<TaskStatus | null>(null);
  const columns = useMemo(() => {
    const map = new Map<TaskStatus, Task[]>(STATUSES.map((s) => [s.value, []]));
    for (const task of tasks) map.get(task.status ?? "TASK_STATUS_TO_DO")?.push(task);
    return map;
  }, [tasks]);
  return (
    <div className="grid grid-cols-5 gap-3" role="list" aria-label="Board">
      {STATUSES.map((column) => {
        const allowed = dragged ? canMove(dragged.status, column.value) : false;
        const cards = columns.get(column.value) ?? [];
        return (
          <section
            key={column.value}
            role="listitem"
            aria-label={column.label}
            data-status={column.value}
            className={`flex min-h-64 flex-col gap-2 rounded-md border p-2 ${over === column.value && allowed ? "border-primary bg-accent" : "border-border bg-muted"}`}
            onDragOver={(e) => {
              if (allowed) {
                e.preventDefault();
                setOver(column.value);
              }
            }}
            onDragLeave={() => setOver(null)}
            onDrop={(e) => {
              e.preventDefault();
              setOver(null);
              if (dragged && allowed) onMove(dragged, column.value);
              setDragged(null);
            }}
          >
            <h2 className="px-1 text-sm font-semibold">
              {column.label} <span className="text-muted-foreground">({cards.length})</span>
            </h2>
            <ul className="flex flex-col gap-2">
              {cards.map((task) => (
                <li key={task.id}>
                  <button
                    type="button"
                    draggable
                    data-task-id={task.id}
                    data-focused={focused === task.id || undefined}
                    onDragStart={(e) => {
                      e.dataTransfer.setData("text/plain", task.id ?? "");
                      e.dataTransfer.effectAllowed = "move";
                      setDragged(task);
                    }}
                    onDragEnd={() => setDragged(null)}
                    onFocus={() => onFocus(task.id ?? "")}
                    onClick={() => onOpen(task)}
                    aria-label={`${task.title}, ${priorityLabel(task.priority)} priority`}
                    aria-keyshortcuts="Shift+ArrowLeft Shift+ArrowRight Enter"
                    className="w-full rounded-md border border-border bg-card p-2 text-left text-sm shadow-sm hover:border-primary data-[focused]:ring-2 data-[focused]:ring-ring"
                  >
                    <span className="block font-medium">{task.title}</span>
                    <span className="text-xs text-muted-foreground">{priorityLabel(task.priority)}</span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

type SortKey = "title" | "status" | "priority" | "updateTime";

function List({
  tasks,
  focused,
  onFocus,
  onOpen,
  projectId,
}: {
  tasks: Task[];
  focused: string;
  onFocus: (id: string) => void;
  onOpen: (task: Task) => void;
  projectId: string;
}) {
  const move = useMoveTask(projectId);
  const [statusFilter, setStatusFilter] = useState("");
  const [priorityFilter, setPriorityFilter] = useState("");
  const [text, setText] = useState("");
  const [sort, setSort] = useState<SortKey>("updateTime");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkStatus, setBulkStatus] = useState<TaskStatus>("TASK_STATUS_IN_PROGRESS");
  const rank = (t: Task) => STATUSES.findIndex((s) => s.value === t.status);
  const prank = (t: Task) => PRIORITIES.findIndex((p) => p.value === t.priority);
  const rows = tasks
    .filter((t) => !statusFilter || t.status === statusFilter)
    .filter((t) => !priorityFilter || t.priority === priorityFilter)
    .filter((t) => !text || t.title.toLowerCase().includes(text.toLowerCase()))
    .sort((a, b) =>
      sort === "title"
        ? a.title.localeCompare(b.title)
        : sort === "status"
          ? rank(a) - rank(b)
          : sort === "priority"
            ? prank(b) - prank(a)
            : (b.updateTime ?? "").localeCompare(a.updateTime ?? ""),
    );
  const toggle = (id: string) =>
    setSelected((set) => {
      const next = new Set(set);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const applyBulk = async () => {
    const chosen = tasks.filter((t) => t.id && selected.has(t.id));
    const refused: string[] = [];
    for (const task of chosen) {
      if (task.status === bulkStatus) continue;
      if (!canMove(task.status, bulkStatus)) {
        refused.push(task.title);
        continue;
      }
      try {
        await move.mutateAsync({ task, status: bulkStatus });
      } catch (error) {
        toast.error(error);
      }
    }
    if (refused.length) toast.info(`Not moved (that move is not allowed): ${refused.join(", ")}`);
    setSelected(new Set());
  };
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-end gap-3">
        <Field id="list-search" label="Filter by title">
          <Input id="list-search" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <Field id="list-status" label="Status">
          <Select id="list-status" value={statusFilter} onChange={(e) => setStatusFilter(e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="list-priority" label="Priority">
          <Select id="list-priority" value={priorityFilter} onChange={(e) => setPriorityFilter(e.target.value)}>
            <option value="">Any</option>
            {PRIORITIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="list-sort" label="Sort by">
          <Select id="list-sort" value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
            <option value="updateTime">Last change</option>
            <option value="title">Title</option>
            <option value="status">Status</option>
            <option value="priority">Priority</option>
          </Select>
        </Field>
        <div className="ml-auto flex items-end gap-2">
          <Field id="bulk-status" label={`Move ${selected.size} selected to`}>
            <Select id="bulk-status" value={bulkStatus} onChange={(e) => setBulkStatus(e.target.value as TaskStatus)}>
              {STATUSES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </Select>
          </Field>
          <Button onClick={() => void applyBulk()} disabled={selected.size === 0}>
            Apply
          </Button>
        </div>
      </div>
      <table className="w-full text-sm">
        <caption className="sr-only">Tasks</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th scope="col" className="w-8 p-2">
              <span className="sr-only">Selected</span>
            </th>
            <th scope="col" className="p-2">Title</th>
            <th scope="col" className="p-2">Status</th>
            <th scope="col" className="p-2">Priority</th>
            <th scope="col" className="p-2">Last change</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((task) => (
            <tr key={task.id} className={`border-b border-border ${focused === task.id ? "bg-accent" : ""}`} data-task-id={task.id}>
              <td className="p-2">
                <Checkbox
                  aria-label={`Select ${task.title}`}
                  checked={selected.has(task.id ?? "")}
                  onCheckedChange={() => toggle(task.id ?? "")}
                />
              </td>
              <td className="p-2">
                <button type="button" className="text-left font-medium underline-offset-2 hover:underline" onFocus={() => onFocus(task.id ?? "")} onClick={() => onOpen(task)}>
                  {task.title}
                </button>
              </td>
              <td className="p-2">{statusLabel(task.status)}</td>
              <td className="p-2">{priorityLabel(task.priority)}</td>
              <td className="p-2">{task.updateTime ? new Date(task.updateTime).toLocaleString() : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A project: its board and list of tasks, live, with the task drawer. Keyboard: `j`/`k`
 * move between tasks, Enter opens one, Shift+←/→ moves its status, `c` creates a task. */
export function ProjectPage({ projectId }: { projectId: string }) {
  const { session } = useSession();
  const project = useProject(projectId);
  const tasks = useTasks(projectId);
  const move = useMoveTask(projectId);
  const live = useProjectWatch(projectId);
  const names = useMemberNames();
  const [open, setOpen] = useState<Task | null>(null);
  const [creating, setCreating] = useState(false);
  const [focused, setFocused] = useState("");
  const [view, setView] = useState("board");
  const container = useRef<HTMLDivElement>(null);
  const all = useMemo(() => tasks.data ?? [], [tasks.data]);
  const ordered = useMemo(
    () => STATUSES.flatMap((s) => all.filter((t) => (t.status ?? "TASK_STATUS_TO_DO") === s.value)),
    [all],
  );

  const moveTask = useCallback(
    (task: Task, status: TaskStatus) => {
      if (!canMove(task.status, status)) {
        toast.info(`A task cannot move from ${statusLabel(task.status)} to ${statusLabel(status)}`);
        return;
      }
      move.mutate({ task, status }, { onError: (error) => toast.error(error) });
    },
    [move],
  );

  useEffect(() => {
    const focusTask = (id: string) => {
      setFocused(id);
      container.current?.querySelector<HTMLElement>(`[data-task-id="${id}"] button, button[data-task-id="${id}"]`)?.focus();
    };
    const onKey = (event: KeyboardEvent) => {
      if (typing(event.target) || event.metaKey || event.ctrlKey || event.altKey) return;
      const index = ordered.findIndex((t) => t.id === focused);
      if (event.key === "c") {
        event.preventDefault();
        setCreating(true);
      } else if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        const next = ordered[Math.min(ordered.length - 1, Math.max(0, index + (event.key === "j" ? 1 : -1)))];
        if (next?.id) focusTask(next.id);
      } else if (event.shiftKey && (event.key === "ArrowRight" || event.key === "ArrowLeft") && index >= 0) {
        event.preventDefault();
        const task = ordered[index];
        if (!task) return;
        const column = STATUSES.findIndex((s) => s.value === task.status);
        const target = STATUSES[column + (event.key === "ArrowRight" ? 1 : -1)];
        if (target) moveTask(task, target.value);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ordered, focused, moveTask]);

  return (
    <div ref={container} className="flex flex-col gap-4">
      <div className="flex items-center justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">{project.data?.name ?? "Project"}</h1>
          <p className="text-xs text-muted-foreground" data-testid="live-state">
            {live.connected ? "Live" : "Connecting…"}
          </p>
        </div>
        <Button onClick={() => setCreating(true)} aria-keyshortcuts="c">
          New task
        </Button>
      </div>
      <ErrorNotice error={project.error ?? tasks.error} />
      {live.changes.length > 0 ? (
        <section aria-label="Recent changes" aria-live="polite" className="rounded-md border border-border p-2 text-sm">
          <ul>
            {live.changes.map((change) => (
              <li key={change.id}>{describeChange(change, session?.user.id ?? "", names)}</li>
            ))}
          </ul>
        </section>
      ) : null}
      <Tabs value={view} onValueChange={setView}>
        <TabsList aria-label="View">
          <TabsTrigger value="board">Board</TabsTrigger>
          <TabsTrigger value="list">List</TabsTrigger>
        </TabsList>
        <TabsContent value="board" className="mt-4">
          {tasks.isSuccess ? <Board tasks={all} focused={focused} onFocus={setFocused} onOpen={setOpen} onMove={moveTask} /> : <p>Loading tasks…</p>}
        </TabsContent>
        <TabsContent value="list" className="mt-4">
          <List tasks={all} focused={focused} onFocus={setFocused} onOpen={setOpen} projectId={projectId} />
        </TabsContent>
      </Tabs>
      <CreateTask projectId={projectId} open={creating} onOpenChange={setCreating} />
      {open ? (
        <TaskDrawer
          key={open.id}
          projectId={projectId}
          task={all.find((t) => t.id === open.id) ?? open}
          tasks={all}
          onClose={() => setOpen(null)}
        />
      ) : null}
    </div>
  );
}

