/** The Notification Manager in the browser: types as answers carry them, the inbox's filters
 * and live updates of its cache, preferences as an event type × channel grid resolved the way
 * the service resolves them (the user's layer over the organization's, the exact type before
 * `*`), and webhook filters matched the way the service matches them. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type Criticality = Named<Schemas["coder.notification.v1.Criticality"]>;
export type Channel = Exclude<Named<Schemas["coder.notification.v1.Channel"]>, "CHANNEL_UNSPECIFIED">;
export type NotificationState = Named<Schemas["coder.notification.v1.NotificationState"]>;
export type NotificationFilter = Named<Schemas["coder.notification.v1.NotificationFilter"]>;
export type Digest = Named<Schemas["coder.notification.v1.Digest"]>;
export type Toggle = Named<Schemas["coder.notification.v1.Toggle"]>;
export type DeliveryState = Named<Schemas["coder.notification.v1.DeliveryState"]>;

export type Notification = Omit<Schemas["coder.notification.v1.Notification"], "criticality" | "state"> & {
  criticality?: Criticality;
  state?: NotificationState;
};
export type ChannelPreference = {
  eventType: string;
  channel: Channel;
  enabled?: Toggle;
  digest?: Digest;
};
export type Preferences = Omit<Schemas["coder.notification.v1.Preferences"], "channels"> & {
  channels?: ChannelPreference[];
};
export type WebhookEndpoint = Schemas["coder.notification.v1.WebhookEndpoint"];
export type WebhookDelivery = Omit<Schemas["coder.notification.v1.WebhookDelivery"], "state"> & {
  state?: DeliveryState;
};
export type Template = Omit<Schemas["coder.notification.v1.Template"], "channel"> & { channel?: Channel };
export type Rule = Omit<Schemas["coder.notification.v1.Rule"], "criticality"> & { criticality?: Criticality };
export type InboxPage = { notifications?: Notification[]; nextPageToken?: string };

export const CRITICALITIES: { value: Criticality; label: string }[] = [
  { value: "CRITICALITY_LOW", label: "Low" },
  { value: "CRITICALITY_NORMAL", label: "Normal" },
  { value: "CRITICALITY_HIGH", label: "High" },
  { value: "CRITICALITY_CRITICAL", label: "Critical" },
];

export function criticalityLabel(value: Criticality | undefined): string {
  return CRITICALITIES.find((c) => c.value === value)?.label ?? "Normal";
}

export const FILTERS: { value: NotificationFilter; label: string }[] = [
  { value: "NOTIFICATION_FILTER_UNSPECIFIED", label: "Inbox" },
  { value: "NOTIFICATION_FILTER_UNREAD", label: "Unread" },
  { value: "NOTIFICATION_FILTER_ARCHIVED", label: "Archived" },
  { value: "NOTIFICATION_FILTER_ALL", label: "All" },
];

export const CHANNELS: { value: Channel; label: string }[] = [
  { value: "CHANNEL_IN_APP", label: "In-app" },
  { value: "CHANNEL_EMAIL", label: "Email" },
];

export const DIGESTS: { value: Digest; label: string }[] = [
  { value: "DIGEST_NONE", label: "Each at once" },
  { value: "DIGEST_HOURLY", label: "Hourly digest" },
  { value: "DIGEST_DAILY", label: "Daily digest" },
];

export const DELIVERY_STATES: Record<DeliveryState, string> = {
  DELIVERY_STATE_UNSPECIFIED: "—",
  DELIVERY_STATE_PENDING: "Pending",
  DELIVERY_STATE_SUCCEEDED: "Delivered",
  DELIVERY_STATE_FAILED: "Failed",
};

/** "planning.task.assigned" → "Task assigned"; `*` → "Every type". */
export function eventTypeLabel(type: string): string {
  if (type === "*") return "Every type";
  const words = type.split(".").slice(1).join(" ").replaceAll("_", " ");
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : type;
}

// --- inbox ------------------------------------------------------------------------------------

export { inboxKey, listedIn, placed, placeEverywhere, unreadKey } from "./inbox-cache";

/** The path an action link leads to, only when it stays inside the UI (a path, not a URL or
 * a protocol-relative `//host`); anything else is not followed. */
export function actionPath(actionUrl: string | undefined): string | null {
  if (!actionUrl || !actionUrl.startsWith("/") || actionUrl.startsWith("//") || actionUrl.includes("\\")) return null;
  return actionUrl;
}

export type InboxFilters = { criticality: Criticality | ""; eventType: string };

/** Criticality and event type narrow the listed pages in the browser (ListNotifications
 * filters by state only). */
export function narrow(list: Notification[], filters: InboxFilters): Notification[] {
  return list.filter(
    (n) =>
      (!filters.criticality || n.criticality === filters.criticality) &&
      (!filters.eventType || n.eventType === filters.eventType),
  );
}

// --- preferences ------------------------------------------------------------------------------

export type Choice = { enabled: boolean; digest: Digest };
export type Cell = { enabled: Toggle; digest: Digest };

/** What applies to one type on one channel, as the service decides it: the first layer (the
 * user's, then the organization's) that says so, the exact type before `*`; on and no digest
 * when no layer does. `enabled` and `digest` are resolved each on its own. */
export function resolve(layers: (Preferences | undefined)[], eventType: string, channel: Channel): Choice {
  let enabled: boolean | undefined;
  let digest: Digest | undefined;
  for (const layer of layers) {
    for (const wanted of [eventType, "*"]) {
      for (const entry of layer?.channels ?? []) {
        if (entry.eventType !== wanted || entry.channel !== channel) continue;
        if (enabled === undefined && entry.enabled && entry.enabled !== "TOGGLE_UNSPECIFIED") {
          enabled = entry.enabled === "TOGGLE_ON";
        }
        if (digest === undefined && entry.digest && entry.digest !== "DIGEST_UNSPECIFIED") digest = entry.digest;
      }
    }
  }
  return { enabled: enabled ?? true, digest: digest ?? "DIGEST_NONE" };
}

/** The layer's own entry for one type and channel (unspecified when it has none). */
export function cellOf(preferences: Preferences | undefined, eventType: string, channel: Channel): Cell {
  const entry = preferences?.channels?.find((c) => c.eventType === eventType && c.channel === channel);
  return { enabled: entry?.enabled ?? "TOGGLE_UNSPECIFIED", digest: entry?.digest ?? "DIGEST_UNSPECIFIED" };
}

/** The entries with one cell changed; a cell that inherits both is no entry at all. */
export function withCell(channels: ChannelPreference[], eventType: string, channel: Channel, cell: Cell): ChannelPreference[] {
  const rest = channels.filter((c) => !(c.eventType === eventType && c.channel === channel));
  if (cell.enabled === "TOGGLE_UNSPECIFIED" && cell.digest === "DIGEST_UNSPECIFIED") return rest;
  return [...rest, { eventType, channel, enabled: cell.enabled, digest: cell.digest }];
}

/** Every field UpdatePreferences and UpdateDefaults take: a save writes the whole form, so
 * a field left empty goes back to inheriting. */
export const PREFERENCE_MASK = "timezone,locale,quietHours,doNotDisturbUntil,channels,digestHour,hourlyCap";

/** A `datetime-local` value (the browser's zone) ↔ an RFC 3339 instant. */
export function toLocalInput(instant: string | undefined): string {
  if (!instant) return "";
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Whether do-not-disturb is on at `now`. */
export function dndActive(until: string | undefined, now: Date = new Date()): boolean {
  return !!until && new Date(until).getTime() > now.getTime();
}

/** "22:00–07:00, over midnight", or null for no window. */
export function quietWindow(start: string | undefined, end: string | undefined): string | null {
  if (!start || !end) return null;
  return end <= start ? `${start}–${end}, over midnight` : `${start}–${end}`;
}

// --- webhooks ---------------------------------------------------------------------------------

/** AMQP-style topic matching as the service does it: words split on `.`, `*` one word. */
function topicMatches(pattern: string, type: string): boolean {
  const p = pattern.split(".");
  const w = type.split(".");
  return p.length === w.length && p.every((word, i) => word === "*" || word === w[i]);
}

/** Whether an endpoint's filters take an event type (a bare `*` takes every one). */
export function filtersTake(filters: string[], type: string): boolean {
  return filters.includes("*") || filters.some((pattern) => topicMatches(pattern, type));
}

/** Event-type filters as typed (commas, spaces or lines between them), once each. */
export function parseEventTypes(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

export function deliveryStatus(delivery: WebhookDelivery): string {
  const last = delivery.attempts?.at(-1);
  const state = DELIVERY_STATES[delivery.state ?? "DELIVERY_STATE_UNSPECIFIED"];
  if (!last) return state;
  return last.statusCode ? `${state} (HTTP ${last.statusCode})` : `${state}${last.error ? ` (${last.error})` : ""}`;
}

// --- templates --------------------------------------------------------------------------------

/** The preview's data as typed: empty for the event type's sample, else a JSON object. */
export function parseTemplateData(text: string): { data?: Record<string, unknown>; error?: string } {
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return { error: "The data must be a JSON object." };
    return { data: value as Record<string, unknown> };
  } catch {
    return { error: "The data is not valid JSON." };
  }
}
