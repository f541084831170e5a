import { type InfiniteData, QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { applyInboxMessage, type UnreadCount } from "./inbox-watch";
import {
  actionPath,
  cellOf,
  deliveryStatus,
  eventTypeLabel,
  filtersTake,
  type InboxPage,
  inboxKey,
  narrow,
  type Notification,
  parseEventTypes,
  parseTemplateData,
  placed,
  type Preferences,
  quietWindow,
  resolve,
  unreadKey,
  withCell,
} from "./notifications";

const note = (id: string, extra: Partial<Notification> = {}): Notification => ({
  id,
  title: `Note ${id}`,
  state: "NOTIFICATION_STATE_UNREAD",
  criticality: "CRITICALITY_NORMAL",
  eventType: "planning.task.assigned",
  ...extra,
});
const listing = (...pages: Notification[][]): InfiniteData<InboxPage, string> => ({
  pages: pages.map((notifications) => ({ notifications })),
  pageParams: pages.map((_, i) => String(i)),
});
const ids = (data: InfiniteData<InboxPage, string>) => data.pages.map((p) => (p.notifications ?? []).map((n) => n.id));

describe("action links", () => {
  it("follows paths inside the UI only", () => {
    expect(actionPath("/planning/p1?task=t1")).toBe("/planning/p1?task=t1");
    expect(actionPath("")).toBeNull();
    expect(actionPath("https://evil.example/")).toBeNull();
    expect(actionPath("//evil.example/")).toBeNull();
    expect(actionPath("/\\evil.example")).toBeNull();
    expect(actionPath("javascript:alert(1)")).toBeNull();
  });
});

describe("the inbox's cache", () => {
  it("adds a new notification first, on the first page, once", () => {
    const data = listing([note("b"), note("a")], [note("z")]);
    const once = placed(data, "NOTIFICATION_FILTER_UNSPECIFIED", note("c"));
    expect(ids(once)).toEqual([["c", "b", "a"], ["z"]]);
    expect(ids(placed(once, "NOTIFICATION_FILTER_UNSPECIFIED", note("c")))).toEqual([["c", "b", "a"], ["z"]]);
  });

  it("replaces a notification in place and drops it where it no longer belongs", () => {
    const data = listing([note("b"), note("a")]);
    const read = note("a", { state: "NOTIFICATION_STATE_READ" });
    const inbox = placed(data, "NOTIFICATION_FILTER_UNSPECIFIED", read);
    expect(inbox.pages[0]?.notifications?.[1]?.state).toBe("NOTIFICATION_STATE_READ");
    expect(ids(placed(data, "NOTIFICATION_FILTER_UNREAD", read))).toEqual([["b"]]);
    const archived = note("b", { state: "NOTIFICATION_STATE_ARCHIVED" });
    expect(ids(placed(data, "NOTIFICATION_FILTER_UNSPECIFIED", archived))).toEqual([["a"]]);
    expect(ids(placed(listing([]), "NOTIFICATION_FILTER_ARCHIVED", archived))).toEqual([["b"]]);
    expect(ids(placed(listing([]), "NOTIFICATION_FILTER_ARCHIVED", note("n")))).toEqual([[]]);
  });

  it("narrows by criticality and event type", () => {
    const list = [note("a"), note("b", { criticality: "CRITICALITY_HIGH" }), note("c", { eventType: "usage.quota.exceeded" })];
    expect(narrow(list, { criticality: "CRITICALITY_HIGH", eventType: "" }).map((n) => n.id)).toEqual(["b"]);
    expect(narrow(list, { criticality: "", eventType: "usage.quota.exceeded" }).map((n) => n.id)).toEqual(["c"]);
    expect(narrow(list, { criticality: "", eventType: "" })).toHaveLength(3);
  });
});

describe("the live stream", () => {
  it("takes the count from the first message, then counts each new unread notification once", () => {
    const client = new QueryClient();
    const key = [...inboxKey("org"), "NOTIFICATION_FILTER_UNSPECIFIED"];
    client.setQueryData(key, listing([note("a")]));
    const seen = new Set<string>();
    applyInboxMessage(client, "org", { started: true, unreadCount: 4 }, seen);
    expect(client.getQueryData<UnreadCount>(unreadKey("org"))?.unreadCount).toBe(4);
    applyInboxMessage(client, "org", { notification: note("b") }, seen);
    applyInboxMessage(client, "org", { notification: note("b") }, seen);
    expect(client.getQueryData<UnreadCount>(unreadKey("org"))?.unreadCount).toBe(5);
    expect(ids(client.getQueryData(key) as InfiniteData<InboxPage, string>)).toEqual([["b", "a"]]);
    // The count of another organization is left alone.
    expect(client.getQueryData(unreadKey("other"))).toBeUndefined();
  });
});

describe("preferences", () => {
  const defaults: Preferences = {
    channels: [
      { eventType: "*", channel: "CHANNEL_EMAIL", enabled: "TOGGLE_OFF" },
      { eventType: "planning.task.assigned", channel: "CHANNEL_EMAIL", enabled: "TOGGLE_ON", digest: "DIGEST_DAILY" },
    ],
  };

  it("resolves the user's layer over the organization's, the exact type before *", () => {
    expect(resolve([{}, defaults], "planning.task.assigned", "CHANNEL_EMAIL")).toEqual({ enabled: true, digest: "DIGEST_DAILY" });
    expect(resolve([{}, defaults], "usage.quota.warning", "CHANNEL_EMAIL")).toEqual({ enabled: false, digest: "DIGEST_NONE" });
    expect(resolve([{}, defaults], "usage.quota.warning", "CHANNEL_IN_APP")).toEqual({ enabled: true, digest: "DIGEST_NONE" });
    // The user's * wins over the organization's exact type; digest is resolved on its own.
    const mine: Preferences = { channels: [{ eventType: "*", channel: "CHANNEL_EMAIL", enabled: "TOGGLE_OFF" }] };
    expect(resolve([mine, defaults], "planning.task.assigned", "CHANNEL_EMAIL")).toEqual({ enabled: false, digest: "DIGEST_DAILY" });
  });

  it("edits one cell, and a cell inheriting both is no entry", () => {
    const on = withCell([], "planning.task.assigned", "CHANNEL_IN_APP", { enabled: "TOGGLE_ON", digest: "DIGEST_UNSPECIFIED" });
    expect(on).toEqual([{ eventType: "planning.task.assigned", channel: "CHANNEL_IN_APP", enabled: "TOGGLE_ON", digest: "DIGEST_UNSPECIFIED" }]);
    expect(cellOf({ channels: on }, "planning.task.assigned", "CHANNEL_IN_APP").enabled).toBe("TOGGLE_ON");
    expect(cellOf({ channels: on }, "planning.task.assigned", "CHANNEL_EMAIL")).toEqual({ enabled: "TOGGLE_UNSPECIFIED", digest: "DIGEST_UNSPECIFIED" });
    const changed = withCell(on, "planning.task.assigned", "CHANNEL_IN_APP", { enabled: "TOGGLE_OFF", digest: "DIGEST_HOURLY" });
    expect(changed).toHaveLength(1);
    expect(changed[0]?.digest).toBe("DIGEST_HOURLY");
    expect(withCell(changed, "planning.task.assigned", "CHANNEL_IN_APP", { enabled: "TOGGLE_UNSPECIFIED", digest: "DIGEST_UNSPECIFIED" })).toEqual([]);
  });

  it("describes quiet hours, over midnight too", () => {
    expect(quietWindow("22:00", "07:00")).toBe("22:00–07:00, over midnight");
    expect(quietWindow("12:00", "13:30")).toBe("12:00–13:30");
    expect(quietWindow("", "")).toBeNull();
  });
});

describe("webhook filters", () => {
  it("match as the service matches them: * one word, a bare * everything", () => {
    expect(filtersTake(["planning.task.*"], "planning.task.assigned")).toBe(true);
    expect(filtersTake(["planning.*"], "planning.task.assigned")).toBe(false);
    expect(filtersTake(["usage.quota.warning"], "usage.quota.warning")).toBe(true);
    expect(filtersTake(["*"], "identity.member.added")).toBe(true);
    expect(filtersTake(["planning.task.*"], "identity.member.added")).toBe(false);
  });

  it("are parsed from commas, spaces and lines, once each", () => {
    expect(parseEventTypes(" planning.task.*, usage.quota.warning\nplanning.task.*  ")).toEqual(["planning.task.*", "usage.quota.warning"]);
    expect(parseEventTypes("  ")).toEqual([]);
  });

  it("say how a delivery went by its last attempt", () => {
    expect(deliveryStatus({ state: "DELIVERY_STATE_PENDING" })).toBe("Pending");
    expect(deliveryStatus({ state: "DELIVERY_STATE_SUCCEEDED", attempts: [{ statusCode: 204 }] })).toBe("Delivered (HTTP 204)");
    expect(deliveryStatus({ state: "DELIVERY_STATE_PENDING", attempts: [{ statusCode: 0, error: "connection refused" }] })).toBe(
      "Pending (connection refused)",
    );
  });
});

describe("labels and template data", () => {
  it("names event types for people", () => {
    expect(eventTypeLabel("planning.task.assigned")).toBe("Task assigned");
    expect(eventTypeLabel("*")).toBe("Every type");
  });

  it("reads the preview's data as a JSON object or nothing", () => {
    expect(parseTemplateData("")).toEqual({});
    expect(parseTemplateData('{"task": {"title": "X"}}')).toEqual({ data: { task: { title: "X" } } });
    expect(parseTemplateData("[1]").error).toBeDefined();
    expect(parseTemplateData("{").error).toBeDefined();
  });
});
