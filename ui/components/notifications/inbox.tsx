"use client";
import { useMemo, useState } from "react";
import {
  CRITICALITIES,
  type Criticality,
  eventTypeLabel,
  FILTERS,
  narrow,
  type NotificationFilter,
} from "@/lib/notifications";
import { ErrorNotice, toast } from "../errors";
import { Button } from "../ui/button";
import { Field, Select } from "../ui/field";
import { NotificationSection } from "./frame";
import { NotificationItem } from "./item";
import { useInbox, useInboxActions, useRules, useUnreadCount } from "./queries";

/** The full inbox: state filter (the service's), criticality and event type (over the loaded
 * pages), mark read, mark all read, archive, each notification's link. Live through the bell's
 * stream, which fills the same cache. */
export function Inbox() {
  const [filter, setFilter] = useState<NotificationFilter>("NOTIFICATION_FILTER_UNSPECIFIED");
  const [criticality, setCriticality] = useState<Criticality | "">("");
  const [eventType, setEventType] = useState("");
  const inbox = useInbox(filter);
  const rules = useRules();
  const count = useUnreadCount().data?.unreadCount ?? 0;
  const { markAllRead } = useInboxActions();
  const loaded = useMemo(() => inbox.data?.pages.flatMap((p) => p.notifications ?? []) ?? [], [inbox.data]);
  const rows = narrow(loaded, { criticality, eventType });
  const types = useMemo(
    () => [...new Set([...(rules.data ?? []).map((r) => r.eventType ?? ""), ...loaded.map((n) => n.eventType ?? "")])].filter(Boolean).sort(),
    [rules.data, loaded],
  );
  return (
    <NotificationSection title="Notifications">
      <div className="flex flex-wrap items-end gap-3">
        <div className="w-40">
          <Field id="inbox-filter" label="Show">
            <Select id="inbox-filter" value={filter} onChange={(e) => setFilter(e.target.value as NotificationFilter)}>
              {FILTERS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <div className="w-40">
          <Field id="inbox-criticality" label="Criticality">
            <Select id="inbox-criticality" value={criticality} onChange={(e) => setCriticality(e.target.value as Criticality | "")}>
              <option value="">Any</option>
              {CRITICALITIES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <div className="w-64">
          <Field id="inbox-type" label="Event type">
            <Select id="inbox-type" value={eventType} onChange={(e) => setEventType(e.target.value)}>
              <option value="">Every type</option>
              {types.map((t) => (
                <option key={t} value={t}>
                  {eventTypeLabel(t)} ({t})
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <p className="pb-2 text-sm text-muted-foreground" data-testid="inbox-unread">
          {count} unread
        </p>
        <Button
          variant="secondary"
          className="ml-auto"
          disabled={!count || markAllRead.isPending}
          onClick={() =>
            markAllRead.mutate(undefined, {
              onSuccess: (answer) => toast.info(`Marked ${answer.markedCount ?? 0} read`),
              onError: (error) => toast.error(error),
            })
          }
        >
          Mark all read
        </Button>
      </div>
      <ErrorNotice error={inbox.error} />
      <ul aria-label="Inbox" className="rounded-md border border-border">
        {rows.map((n) => (
          <NotificationItem key={n.id} notification={n} />
        ))}
      </ul>
      {inbox.isSuccess && rows.length === 0 ? <p className="text-sm text-muted-foreground">No notifications here.</p> : null}
      {inbox.hasNextPage ? (
        <Button variant="secondary" onClick={() => void inbox.fetchNextPage()} disabled={inbox.isFetchingNextPage}>
          Load more
        </Button>
      ) : null}
    </NotificationSection>
  );
}
