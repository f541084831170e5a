"use client";
import Link from "next/link";
import { actionPath, criticalityLabel, eventTypeLabel, type Notification } from "@/lib/notifications";
import { toast } from "../errors";
import { Button } from "../ui/button";
import { cn } from "../ui/cn";
import { useInboxActions } from "./queries";

const TONE: Record<string, string> = {
  CRITICALITY_LOW: "border-border text-muted-foreground",
  CRITICALITY_NORMAL: "border-border",
  CRITICALITY_HIGH: "border-amber-600 text-amber-700 dark:text-amber-400",
  CRITICALITY_CRITICAL: "border-danger text-danger",
};

/** One notification: what it says, when, how urgent; open its link (which reads it), mark it
 * read, archive it. */
export function NotificationItem({ notification, compact, onOpen }: { notification: Notification; compact?: boolean; onOpen?: () => void }) {
  const { markRead, archive } = useInboxActions();
  const unread = notification.state === "NOTIFICATION_STATE_UNREAD";
  const archived = notification.state === "NOTIFICATION_STATE_ARCHIVED";
  const path = actionPath(notification.actionUrl);
  const id = notification.id ?? "";
  const read = () => markRead.mutate(id, { onError: (error) => toast.error(error) });
  return (
    <li
      aria-label={`${unread ? "Unread: " : ""}${notification.title}`}
      data-notification={id}
      data-state={notification.state}
      className={cn("flex flex-col gap-1 border-b border-border p-3", unread && "bg-accent/40")}
    >
      <div className="flex items-start justify-between gap-2">
        <p className={cn("text-sm", unread && "font-semibold")}>
          {unread ? <span className="mr-1 inline-block h-2 w-2 rounded-full bg-primary" aria-hidden /> : null}
          {notification.title}
        </p>
        <span className={cn("shrink-0 rounded border px-1.5 text-xs", TONE[notification.criticality ?? "CRITICALITY_NORMAL"])}>
          {criticalityLabel(notification.criticality)}
        </span>
      </div>
      {notification.body && !compact ? <p className="whitespace-pre-line text-sm text-muted-foreground">{notification.body}</p> : null}
      <p className="text-xs text-muted-foreground">
        {eventTypeLabel(notification.eventType ?? "")}
        {notification.eventCount && notification.eventCount > 1 ? ` · ${notification.eventCount} events` : ""} ·{" "}
        <time dateTime={notification.createTime}>{notification.createTime ? new Date(notification.createTime).toLocaleString() : ""}</time>
      </p>
      <div className="flex flex-wrap gap-2">
        {path ? (
          <Link
            href={path}
            className="text-sm font-medium text-primary underline-offset-2 hover:underline"
            onClick={() => {
              if (unread) read();
              onOpen?.();
            }}
          >
            Open
          </Link>
        ) : null}
        {unread ? (
          <Button size="sm" variant="ghost" onClick={read} disabled={markRead.isPending} aria-label={`Mark “${notification.title}” read`}>
            Mark read
          </Button>
        ) : null}
        {!archived ? (
          <Button
            size="sm"
            variant="ghost"
            onClick={() => archive.mutate(id, { onError: (error) => toast.error(error) })}
            disabled={archive.isPending}
            aria-label={`Archive “${notification.title}”`}
          >
            Archive
          </Button>
        ) : null}
      </div>
    </li>
  );
}
