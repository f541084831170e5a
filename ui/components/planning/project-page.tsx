"use client";
import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Task, TaskStatus } from "@/lib/api";
import { api, unwrap } from "@/lib/api";
import { canMove, priorityLabel, STATUSES, statusLabel, useMoveTask, useProject, useTasks } from "@/lib/planning";
import { type Change, useProjectWatch } from "@/lib/watch";
import { ErrorNotice, toast } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "../ui/tabs";

// The list view and the dialogs load when first shown, keeping their code (Radix's dialog and
// checkbox among it) out of the board's first load.
const CreateTask = dynamic(() => import("./create-task"), { ssr: false });
const List = dynamic(() => import("./task-list"), { ssr: false });
const TaskDrawer = dynamic(() => import("./task-drawer").then((m) => m.TaskDrawer), { ssr: false });

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && !!target.closest("input,textarea,select,[role=dialog],[role=alertdialog]");
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

/** A project: its board and list of tasks, live, with the task drawer. Keyboard: `j`/`k`
 * move between tasks, Enter opens one, Shift+←/→ moves its status, `c` creates a task.
 * `linkedTaskId` (`?task=`, where a notification's link leads) opens that task's drawer. */
export function ProjectPage({ projectId, linkedTaskId }: { projectId: string; linkedTaskId?: string }) {
  const { session } = useSession();
  const project = useProject(projectId);
  const tasks = useTasks(projectId);
  const move = useMoveTask(projectId);
  const live = useProjectWatch(projectId);
  const names = useMemberNames();
  const [chosen, setOpen] = useState<Task | null>(null);
  const [linked, setLinked] = useState(linkedTaskId ?? "");
  const [creating, setCreating] = useState(false);
  const [focused, setFocused] = useState("");
  const [view, setView] = useState("board");
  const container = useRef<HTMLDivElement>(null);
  const all = useMemo(() => tasks.data ?? [], [tasks.data]);
  const open = chosen ?? (linked ? (all.find((t) => t.id === linked) ?? null) : null);
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
      {creating ? <CreateTask projectId={projectId} open onOpenChange={setCreating} /> : null}
      {open ? (
        <TaskDrawer
          key={open.id}
          projectId={projectId}
          task={all.find((t) => t.id === open.id) ?? open}
          tasks={all}
          onClose={() => {
            setOpen(null);
            setLinked("");
          }}
        />
      ) : null}
    </div>
  );
}

