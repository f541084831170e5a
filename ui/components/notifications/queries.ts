"use client";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api";
import {
  type InboxPage,
  inboxKey,
  type Notification,
  type NotificationFilter,
  placeEverywhere,
  type Rule,
  unreadKey,
} from "@/lib/notifications";
import { useOrganization, useUnreadCount } from "./unread";

export { useOrganization, useUnreadCount };

export const NOTIFICATION_TABS = [
  { href: "/notifications", label: "Inbox" },
  { href: "/notifications/preferences", label: "Preferences" },
  { href: "/notifications/templates", label: "Templates" },
];
export const ADMIN_TABS = [...NOTIFICATION_TABS, { href: "/notifications/webhooks", label: "Webhooks" }];

export function useInbox(filter: NotificationFilter, pageSize = 50) {
  const organizationId = useOrganization();
  return useInfiniteQuery({
    queryKey: [...inboxKey(organizationId), filter],
    enabled: !!organizationId,
    initialPageParam: "",
    queryFn: async ({ pageParam }) =>
      (await unwrap(
        api().GET("/api/v1/notification/notifications", {
          params: { query: { filter, pageSize, pageToken: pageParam } },
        }),
      )) as InboxPage,
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
}

export function useRules() {
  const organizationId = useOrganization();
  return useQuery({
    queryKey: ["notification-rules", organizationId],
    enabled: !!organizationId,
    staleTime: Infinity,
    queryFn: async () => ((await unwrap(api().GET("/api/v1/notification/rules"))).rules ?? []) as Rule[],
  });
}

/** Mark read, archive, mark all read: the answer is put into the cached listings at once and
 * the unread count is asked again (exact, whatever happened in other tabs). */
export function useInboxActions() {
  const client = useQueryClient();
  const organizationId = useOrganization();
  const settle = (notification: Notification | undefined) => {
    if (notification) placeEverywhere(client, organizationId, notification);
    void client.invalidateQueries({ queryKey: unreadKey(organizationId) });
  };
  const markRead = useMutation({
    mutationFn: async (id: string) =>
      (
        await unwrap(
          api().POST("/api/v1/notification/notifications/{notification_id}:markRead", {
            params: { path: { notification_id: id } },
            body: {},
          }),
        )
      ).notification as Notification | undefined,
    onSuccess: settle,
  });
  const archive = useMutation({
    mutationFn: async (id: string) =>
      (
        await unwrap(
          api().POST("/api/v1/notification/notifications/{notification_id}:archive", {
            params: { path: { notification_id: id } },
            body: {},
          }),
        )
      ).notification as Notification | undefined,
    onSuccess: settle,
  });
  const markAllRead = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/notification/notifications:markAllRead", { body: {} })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: inboxKey(organizationId) });
      void client.invalidateQueries({ queryKey: unreadKey(organizationId) });
    },
  });
  return { markRead, archive, markAllRead };
}
