"use client";
import Link from "next/link";
import { ErrorNotice, toast } from "../errors";
import { Button } from "../ui/button";
import { NotificationItem } from "./item";
import { useInbox, useInboxActions, useUnreadCount } from "./queries";

const SHOWN = 8;

/** The bell's dropdown: the newest notifications of the inbox, mark all read, the full inbox. */
export default function BellPanel({ onClose }: { onClose: () => void }) {
  const inbox = useInbox("NOTIFICATION_FILTER_UNSPECIFIED");
  const count = useUnreadCount().data?.unreadCount ?? 0;
  const { markAllRead } = useInboxActions();
  const rows = inbox.data?.pages.flatMap((p) => p.notifications ?? []).slice(0, SHOWN) ?? [];
  return (
    <section
      id="notification-panel"
      aria-label="Notifications"
      className="absolute left-0 top-11 z-50 flex max-h-[32rem] w-96 flex-col overflow-hidden rounded-lg border border-border bg-card shadow-xl"
    >
      <div className="flex items-center justify-between border-b border-border p-3">
        <h2 className="text-sm font-semibold">Notifications{count ? ` (${count} unread)` : ""}</h2>
        <Button size="sm" variant="ghost" disabled={!count || markAllRead.isPending} onClick={() => markAllRead.mutate(undefined, { onError: (e) => toast.error(e) })}>
          Mark all read
        </Button>
      </div>
      <div className="overflow-y-auto">
        <ErrorNotice error={inbox.error} />
        <ul aria-label="Newest notifications">
          {rows.map((n) => (
            <NotificationItem key={n.id} notification={n} compact onOpen={onClose} />
          ))}
        </ul>
        {inbox.isSuccess && rows.length === 0 ? <p className="p-3 text-sm text-muted-foreground">Nothing new.</p> : null}
      </div>
      <Link href="/notifications" onClick={onClose} className="border-t border-border p-3 text-center text-sm font-medium hover:bg-accent">
        Open the inbox
      </Link>
    </section>
  );
}
