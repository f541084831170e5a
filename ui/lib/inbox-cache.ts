/** The inbox's cached listings and unread count, as the live stream and the writes update them.
 * Apart from lib/notifications.ts because the bell (in every page's frame) needs only this. */
import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import type { InboxPage, Notification, NotificationFilter, NotificationState } from "./notifications";

export const inboxKey = (organizationId: string | undefined) => ["notifications", organizationId] as const;
export const unreadKey = (organizationId: string | undefined) => ["notification-unread", organizationId] as const;

/** Whether a listing of `filter` shows a notification in `state`. */
export function listedIn(filter: NotificationFilter, state: NotificationState | undefined): boolean {
  switch (filter) {
    case "NOTIFICATION_FILTER_UNREAD":
      return state === "NOTIFICATION_STATE_UNREAD";
    case "NOTIFICATION_FILTER_ARCHIVED":
      return state === "NOTIFICATION_STATE_ARCHIVED";
    case "NOTIFICATION_FILTER_ALL":
      return true;
    default:
      return state !== "NOTIFICATION_STATE_ARCHIVED";
  }
}

/** A cached listing with `notification` put in place: replaced where it is, added first when
 * new (newest first) and the listing shows it, dropped when it no longer belongs. */
export function placed(
  data: InfiniteData<InboxPage, string>,
  filter: NotificationFilter,
  notification: Notification,
): InfiniteData<InboxPage, string> {
  const belongs = listedIn(filter, notification.state);
  const found = data.pages.some((p) => p.notifications?.some((n) => n.id === notification.id));
  const pages = data.pages.map((page, index) => {
    let list = (page.notifications ?? []).filter((n) => n.id !== notification.id || belongs);
    list = list.map((n) => (n.id === notification.id ? notification : n));
    if (!found && belongs && index === 0) list = [notification, ...list];
    return { ...page, notifications: list };
  });
  return { ...data, pages };
}

/** Put a notification (new from the stream, or as a write answered it) into every cached
 * listing of the organization's inbox. */
export function placeEverywhere(client: QueryClient, organizationId: string | undefined, notification: Notification): void {
  for (const [key, data] of client.getQueriesData<InfiniteData<InboxPage, string>>({ queryKey: inboxKey(organizationId) })) {
    const filter = key[2];
    if (!data?.pages || typeof filter !== "string" || key.length !== 3) continue;
    client.setQueryData(key, placed(data, filter as NotificationFilter, notification));
  }
}
