/**
 * Live updates of a project through the edge's WebSocket (`/ws`, WatchProject). Every change
 * another session makes is applied to the cached tasks and announced; the first message
 * (WATCH_STARTED) and every reconnect refetch the tasks, so a missed window is caught up.
 * A dropped connection is retried with exponential backoff and jitter.
 */
"use client";
import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { apiBaseUrl, type Task, type WatchMessage } from "./api";
import { backoff } from "./backoff";
import { removeTask, tasksKey, upsertTask } from "./planning";
import { accessToken, currentSession, refresh } from "./session";

export type Change = { id: string; kind: string; task: Task; actorId: string; fields: string[]; previousStatus?: string };

export { backoff };

const METHOD = "coder.planning.v1.PlanningService/WatchProject";

/**
 * Refetch the project's tasks, but not under a move still on its way: the refetch could answer
 * with the state from before it and undo what the screen already shows. With mutations
 * pending, the refetch waits until the last one settles.
 */
export function refetchWhenSettled(client: QueryClient, projectId: string): void {
  const refetch = () => void client.invalidateQueries({ queryKey: tasksKey(projectId) });
  if (client.isMutating() === 0) return refetch();
  const stop = client.getMutationCache().subscribe(() => {
    if (client.isMutating() === 0) {
      stop();
      refetch();
    }
  });
}

export function useProjectWatch(projectId: string): { connected: boolean; changes: Change[] } {
  const client = useQueryClient();
  const [connected, setConnected] = useState(false);
  const [changes, setChanges] = useState<Change[]>([]);
  const stopped = useRef(false);

  useEffect(() => {
    stopped.current = false;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let attempt = 0;

    const apply = (message: WatchMessage) => {
      if (message.kind === "TASK_CHANGE_KIND_WATCH_STARTED") {
        attempt = 0;
        setConnected(true);
        refetchWhenSettled(client, projectId);
        return;
      }
      const task = { ...(message.task ?? {}) } as Task;
      delete task.etag; // an event carries none; keep the cached one until the refetch
      const mine = message.actor?.sessionId && message.actor.sessionId === currentSession()?.sessionId;
      if (!mine) {
        if (message.kind === "TASK_CHANGE_KIND_DELETED") removeTask(client, projectId, task.id ?? "");
        else upsertTask(client, projectId, task);
        refetchWhenSettled(client, projectId);
      }
      const change: Change = {
        id: message.eventId ?? "",
        kind: message.kind ?? "",
        task,
        actorId: message.actor?.id ?? "",
        fields: message.changedFields ? String(message.changedFields).split(",").filter(Boolean) : [],
        previousStatus: message.previousStatus,
      };
      setChanges((list) => [change, ...list].slice(0, 5));
    };

    const connect = async () => {
      const token = await accessToken();
      if (stopped.current || !token) return;
      const url = `${apiBaseUrl().replace(/^http/, "ws")}/ws?access_token=${encodeURIComponent(token)}`;
      socket = new WebSocket(url);
      socket.onopen = () => {
        socket?.send(JSON.stringify({ type: "subscribe", id: "watch", method: METHOD, request: { projectId } }));
      };
      socket.onmessage = (event) => {
        const frame = JSON.parse(String(event.data)) as { type: string; data?: WatchMessage };
        if (frame.type === "message" && frame.data) apply(frame.data);
        // The stream ended (its deadline, or it fell behind): start over on a new connection.
        else if (frame.type === "error" || frame.type === "complete") socket?.close(4000);
      };
      socket.onclose = (event) => {
        setConnected(false);
        if (stopped.current) return;
        attempt += 1;
        const again = () => void connect();
        if (event.code === 4401) void refresh().finally(() => (timer = setTimeout(again, backoff(attempt))));
        else timer = setTimeout(again, backoff(attempt));
      };
    };
    void connect();
    return () => {
      stopped.current = true;
      if (timer) clearTimeout(timer);
      socket?.close(1000);
    };
  }, [client, projectId]);

  return { connected, changes };
}
