import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NotificationBell } from "./bell";

vi.mock("../providers", () => ({ useSession: () => ({ session: { organizationId: "org-1" }, ready: true }) }));
vi.mock("@/lib/session", () => ({ accessToken: async () => "token-1", refresh: async () => null }));
vi.mock("@/lib/api", () => ({
  apiBaseUrl: () => "http://edge.test",
  api: () => ({ GET: async () => ({ data: { unreadCount: 2 }, response: new Response("{}") }) }),
  unwrap: async (p: Promise<{ data: unknown }>) => (await p).data,
}));

/** A WebSocket that records what the bell sends and lets the test push frames. */
class FakeSocket {
  static last: FakeSocket | null = null;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
    queueMicrotask(() => this.onopen?.());
  }
  send(frame: string) {
    this.sent.push(frame);
  }
  close() {}
  push(data: unknown) {
    act(() => this.onmessage?.({ data: JSON.stringify({ type: "message", id: "inbox", data }) }));
  }
}

describe("the bell", () => {
  beforeEach(() => vi.stubGlobal("WebSocket", FakeSocket));
  afterEach(() => vi.unstubAllGlobals());

  it("subscribes to the inbox stream and counts new notifications live", async () => {
    render(
      <QueryClientProvider client={new QueryClient()}>
        <NotificationBell />
      </QueryClientProvider>,
    );
    await waitFor(() => expect(FakeSocket.last?.sent).toHaveLength(1));
    const socket = FakeSocket.last as FakeSocket;
    expect(socket.url).toBe("ws://edge.test/ws?access_token=token-1");
    expect(JSON.parse(socket.sent[0] ?? "")).toMatchObject({
      type: "subscribe",
      method: "coder.notification.v1.NotificationService/WatchNotifications",
    });
    socket.push({ started: true, unreadCount: 3 });
    const bell = screen.getByTestId("notification-bell");
    await waitFor(() => expect(bell).toHaveAttribute("aria-label", "Notifications, 3 unread"));
    expect(bell).toHaveAttribute("data-live", "live");
    socket.push({ notification: { id: "n1", title: "New", state: "NOTIFICATION_STATE_UNREAD" }, unreadCount: 4 });
    await waitFor(() => expect(screen.getByTestId("unread-count")).toHaveTextContent("4"));
  });
});
