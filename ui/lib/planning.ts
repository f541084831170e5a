/** Planning in the browser: statuses and their allowed moves, and the queries and mutations
 * of projects and tasks. */
import { type QueryClient, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Task, type TaskPatch, type TaskPriority, type TaskStatus, unwrap } from "./api";
import { isConflict } from "./errors";

export const STATUSES: { value: TaskStatus; label: string }[] = [
  { value: "TASK_STATUS_TO_DO", label: "To do" },
  { value: "TASK_STATUS_IN_PROGRESS", label: "In progress" },
  { value: "TASK_STATUS_BLOCKED", label: "Blocked" },
  { value: "TASK_STATUS_REVIEW", label: "Review" },
  { value: "TASK_STATUS_DONE", label: "Done" },
];

export const PRIORITIES: { value: TaskPriority; label: string }[] = [
  { value: "TASK_PRIORITY_LOW", label: "Low" },
  { value: "TASK_PRIORITY_MEDIUM", label: "Medium" },
  { value: "TASK_PRIORITY_HIGH", label: "High" },
  { value: "TASK_PRIORITY_URGENT", label: "Urgent" },
];

/** The moves TaskStatus documents in task.proto; the service refuses any other. */
export const ALLOWED_MOVES: Record<TaskStatus, TaskStatus[]> = {
  TASK_STATUS_UNSPECIFIED: [],
  TASK_STATUS_TO_DO: ["TASK_STATUS_IN_PROGRESS", "TASK_STATUS_BLOCKED"],
  TASK_STATUS_IN_PROGRESS: ["TASK_STATUS_TO_DO", "TASK_STATUS_BLOCKED", "TASK_STATUS_REVIEW", "TASK_STATUS_DONE"],
  TASK_STATUS_BLOCKED: ["TASK_STATUS_TO_DO", "TASK_STATUS_IN_PROGRESS"],
  TASK_STATUS_REVIEW: ["TASK_STATUS_IN_PROGRESS", "TASK_STATUS_BLOCKED", "TASK_STATUS_DONE"],
  TASK_STATUS_DONE: ["TASK_STATUS_TO_DO", "TASK_STATUS_IN_PROGRESS"],
};

export function canMove(from: TaskStatus | undefined, to: TaskStatus): boolean {
  return from !== undefined && ALLOWED_MOVES[from].includes(to);
}

export function statusLabel(status: TaskStatus | undefined): string {
  return STATUSES.find((s) => s.value === status)?.label ?? "—";
}

export function priorityLabel(priority: TaskPriority | undefined): string {
  return PRIORITIES.find((p) => p.value === priority)?.label ?? "—";
}

export const tasksKey = (projectId: string) => ["tasks", projectId] as const;

/** Every task of a project (pages of 1000 until the last). */
export async function fetchAllTasks(projectId: string): Promise<Task[]> {
  const tasks: Task[] = [];
  let pageToken = "";
  do {
    const page = await unwrap(
      api().GET("/api/v1/planning/projects/{project_id}/tasks", {
        params: { path: { project_id: projectId }, query: { pageSize: 1000, pageToken, orderBy: "TASK_ORDER_BY_CREATE_TIME", direction: "SORT_DIRECTION_ASCENDING" } },
      }),
    );
    tasks.push(...((page.tasks ?? []) as Task[])); // answers carry enum names
    pageToken = page.nextPageToken ?? "";
  } while (pageToken);
  return tasks;
}

export function useTasks(projectId: string) {
  return useQuery({ queryKey: tasksKey(projectId), queryFn: () => fetchAllTasks(projectId) });
}

export function useProject(projectId: string) {
  return useQuery({
    queryKey: ["project", projectId],
    queryFn: () =>
      unwrap(api().GET("/api/v1/planning/projects/{project_id}", { params: { path: { project_id: projectId } } })).then(
        (r) => r.project,
      ),
  });
}

/** Put one task (new or changed) into the cached list of its project. */
export function upsertTask(client: QueryClient, projectId: string, task: Task): void {
  client.setQueryData<Task[]>(tasksKey(projectId), (tasks) => {
    if (!tasks) return tasks;
    const index = tasks.findIndex((t) => t.id === task.id);
    if (index === -1) return [...tasks, task];
    const next = tasks.slice();
    next[index] = { ...tasks[index], ...task };
    return next;
  });
}

export function removeTask(client: QueryClient, projectId: string, taskId: string): void {
  client.setQueryData<Task[]>(tasksKey(projectId), (tasks) => tasks?.filter((t) => t.id !== taskId));
}

export type TaskChanges = Partial<Omit<Task, "id" | "projectId">>;

/** The PATCH of some fields of a task, with its etag as a precondition unless `force`. */
export async function patchTask(projectId: string, task: Task, changes: TaskChanges, etag?: string): Promise<Task> {
  // FieldMask's JSON form: lowerCamelCase paths joined by commas.
  const paths = Object.keys(changes);
  const reply = await unwrap(
    api().PATCH("/api/v1/planning/projects/{project_id}/tasks/{task_id}", {
      params: { path: { project_id: projectId, task_id: task.id ?? "" }, query: { updateMask: paths.join(",") } },
      body: { title: task.title, ...changes, etag: etag ?? task.etag } as TaskPatch,
    }),
  );
  return reply.task as Task;
}

// Moves of one task run one after another, each with the version the previous one left: two
// quick moves would otherwise both send the version read before the first, and the service
// would refuse the second as a stale write.
const moves = new Map<string, Promise<Task>>();

export function queueMove(client: QueryClient, projectId: string, task: Task, status: TaskStatus): Promise<Task> {
  const id = task.id ?? "";
  const previous = moves.get(id);
  const run = (previous ?? Promise.resolve(null))
    .catch(() => null)
    .then((moved: Task | null) => {
      // The version the previous move left (the cache gets it only after this link runs).
      const latest = client.getQueryData<Task[]>(tasksKey(projectId))?.find((t) => t.id === id) ?? task;
      return patchTask(projectId, latest, { status }, moved?.etag ?? latest.etag);
    });
  moves.set(id, run);
  void run
    .finally(() => {
      if (moves.get(id) === run) moves.delete(id);
    })
    .catch(() => undefined);
  return run;
}

/** A status move, shown at once and undone if the service refuses it. */
export function moveTaskOptions(client: QueryClient, projectId: string) {
  return {
    mutationFn: ({ task, status }: { task: Task; status: TaskStatus }) => queueMove(client, projectId, task, status),
    onMutate: async ({ task, status }: { task: Task; status: TaskStatus }) => {
      await client.cancelQueries({ queryKey: tasksKey(projectId) });
      const before = client.getQueryData<Task[]>(tasksKey(projectId));
      // Only the status changes in the cache: `task` is the card as last rendered, and its etag
      // may be older than the cache's (a move answered since), which the next move must send.
      client.setQueryData<Task[]>(tasksKey(projectId), (tasks) => tasks?.map((t) => (t.id === task.id ? { ...t, status } : t)));
      return { before };
    },
    onError: (_error: unknown, _vars: unknown, context: { before?: Task[] } | undefined) => {
      if (context?.before) client.setQueryData(tasksKey(projectId), context.before);
    },
    onSuccess: (task: Task) => upsertTask(client, projectId, task),
  };
}

export function useMoveTask(projectId: string) {
  const client = useQueryClient();
  return useMutation(moveTaskOptions(client, projectId));
}

export { isConflict };
