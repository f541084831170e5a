/**
 * The caller's inbox, live: WatchNotifications over the edge's WebSocket (`/ws`). The first
 * message carries the unread count and refetches the cached listings (so a reconnect catches
 * up on what it missed); every later one is a new notification, put at the top of the cached
 * listings and counted unread. Reads are exact from GetUnreadCount after each write, never
 * by polling. A dropped connection is retried with exponential backoff and jitter.
 */
import type { QueryClient } from "@tanstack/react-query";
import { apiBaseUrl } from "./api";
import { inboxKey, placeEverywhere, unreadKey } from "./inbox-cache";
import type { Notification } from "./notifications";
import { accessToken, refresh } from "./session";
import { backoff } from "./backoff";

const METHOD = "coder.notification.v1.NotificationService/WatchNotifications";

export type UnreadCount = { unreadCount?: number };
export type InboxMessage = { started?: boolean; notification?: Notification; unreadCount?: number };

/** Apply one stream message to the cache; `seen` keeps a notification from being counted
 * twice should it come again on the same connection. */
export function applyInboxMessage(
  client: QueryClient,
  organizationId: string | undefined,
  message: InboxMessage,
  seen: Set<string>,
): void {
  const key = unreadKey(organizationId);
  if (message.started) {
    // The stream's count is the newest: an answer of GetUnreadCount still on its way is older.
    void client.cancelQueries({ queryKey: key });
    client.setQueryData<UnreadCount>(key, { unreadCount: message.unreadCount ?? 0 });
    void client.invalidateQueries({ queryKey: inboxKey(organizationId), predicate: (q) => q.queryKey.length === 3 });
    return;
  }
  const notification = message.notification;
  if (!notification?.id || seen.has(notification.id)) return;
  seen.add(notification.id);
  placeEverywhere(client, organizationId, notification);
  if (notification.state !== "NOTIFICATION_STATE_UNREAD") return;
  // A count being fetched (after a read) may or may not hold this one: ask again instead.
  if (client.getQueryState(key)?.fetchStatus === "fetching") void client.invalidateQueries({ queryKey: key });
  else client.setQueryData<UnreadCount>(key, (old) => ({ unreadCount: (old?.unreadCount ?? 0) + 1 }));
}

/** Keep the inbox of `organizationId` live until the returned stop is called; `onLive` says
 * whether the stream is up. */
export function watchInbox(client: QueryClient, organizationId: string, onLive: (live: boolean) => void): () => void {
  let stopped = false;
  let socket: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;
  const seen = new Set<string>();

  const connect = async () => {
    const token = await accessToken();
    if (stopped || !token) return;
    socket = new WebSocket(`${apiBaseUrl().replace(/^http/, "ws")}/ws?access_token=${encodeURIComponent(token)}`);
    socket.onopen = () => socket?.send(JSON.stringify({ type: "subscribe", id: "inbox", method: METHOD, request: {} }));
    socket.onmessage = (event) => {
      const frame = JSON.parse(String(event.data)) as { type: string; data?: InboxMessage };
      if (frame.type === "message" && frame.data) {
        if (frame.data.started) {
          attempt = 0;
          onLive(true);
        }
        applyInboxMessage(client, organizationId, frame.data, seen);
      } else if (frame.type === "error" || frame.type === "complete") socket?.close(4000);
    };
    socket.onclose = (event) => {
      onLive(false);
      if (stopped) return;
      attempt += 1;
      const again = () => void connect();
      if (event.code === 4401) void refresh().finally(() => (timer = setTimeout(again, backoff(attempt))));
      else timer = setTimeout(again, backoff(attempt));
    };
  };
  void connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    socket?.close(1000);
  };
}
