"use client";
import { Bell } from "lucide-react";
import dynamic from "next/dynamic";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { cn } from "../ui/cn";
import { useOrganization, useUnreadCount } from "./unread";

// The panel (its list, actions and their mutations) is a chunk of its own, loaded when the
// bell is first opened: every page's first load carries only the button and the stream.
const BellPanel = dynamic(() => import("./bell-panel"), { ssr: false });

/** The inbox's live stream while mounted. Its code (the socket, the cache updates) is a chunk
 * fetched once the page is up, out of every page's first load; answers whether it is live. */
function useInboxWatch(organizationId: string | undefined): boolean {
  const client = useQueryClient();
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!organizationId) return;
    let stop: (() => void) | null = null;
    let gone = false;
    void import("@/lib/inbox-watch").then(({ watchInbox }) => {
      if (!gone) stop = watchInbox(client, organizationId, setLive);
    });
    return () => {
      gone = true;
      stop?.();
    };
  }, [client, organizationId]);
  return live;
}

/** The bell of the app shell: the live unread count and, on click, the newest notifications. */
export function NotificationBell() {
  const organizationId = useOrganization();
  const live = useInboxWatch(organizationId);
  const count = useUnreadCount().data?.unreadCount ?? 0;
  const [open, setOpen] = useState(false);
  const frame = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        setOpen(false);
        frame.current?.querySelector<HTMLButtonElement>("button")?.focus();
      }
    };
    const onPointer = (event: PointerEvent) => {
      if (!frame.current?.contains(event.target as Node)) setOpen(false);
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("pointerdown", onPointer);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);

  return (
    <div ref={frame} className="relative">
      <button
        type="button"
        aria-label={count ? `Notifications, ${count} unread` : "Notifications"}
        aria-expanded={open}
        aria-controls="notification-panel"
        data-live={live ? "live" : "offline"}
        data-testid="notification-bell"
        onClick={() => setOpen((o) => !o)}
        className="relative inline-flex h-9 w-9 items-center justify-center rounded-md hover:bg-accent"
      >
        <Bell className="h-5 w-5" aria-hidden />
        <span
          data-testid="unread-count"
          className={cn(
            "absolute -right-1 -top-1 min-w-5 rounded-full bg-danger px-1 text-center text-xs font-semibold leading-5 text-danger-foreground",
            count === 0 && "sr-only",
          )}
        >
          {count > 99 ? "99+" : count}
        </span>
      </button>
      {open ? <BellPanel onClose={() => setOpen(false)} /> : null}
    </div>
  );
}
