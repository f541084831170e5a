"use client";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api";
import { unreadKey } from "@/lib/inbox-cache";
import { useSession } from "../providers";

export function useOrganization(): string | undefined {
  return useSession().session?.organizationId;
}

/** The caller's unread count: exact from GetUnreadCount, kept current by the live stream
 * (lib/inbox-watch.ts) and asked again after every read or archive. In the bell, so in every
 * page's frame: it imports nothing the frame does not carry already. */
export function useUnreadCount() {
  const organizationId = useOrganization();
  return useQuery({
    queryKey: unreadKey(organizationId),
    enabled: !!organizationId,
    staleTime: Infinity,
    queryFn: () => unwrap(api().GET("/api/v1/notification/notifications:unreadCount")),
  });
}
