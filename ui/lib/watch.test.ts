import { describe, expect, it, vi } from "vitest";
import { backoff } from "./watch";

describe("reconnect backoff", () => {
  it("doubles from half a second to at most 30 s, within ±20 %", () => {
    expect(backoff(1, 0.5)).toBe(500);
    expect(backoff(2, 0.5)).toBe(1000);
    expect(backoff(4, 0.5)).toBe(4000);
    expect(backoff(20, 0.5)).toBe(30000);
    expect(backoff(1, 0)).toBe(400);
    expect(backoff(1, 1)).toBe(600);
  });
});

describe("refetchWhenSettled", () => {
  it("waits for pending moves before refetching the tasks", async () => {
    const { QueryClient, QueryObserver } = await import("@tanstack/react-query");
    const { refetchWhenSettled } = await import("./watch");
    const client = new QueryClient();
    let fetches = 0;
    // An observed query, as the board's is.
    const observer = new QueryObserver(client, { queryKey: ["tasks", "p"], queryFn: async () => ++fetches });
    const unsubscribe = observer.subscribe(() => undefined);
    await vi.waitFor(() => expect(fetches).toBe(1));
    let finish: () => void = () => undefined;
    const pending = client
      .getMutationCache()
      .build(client, { mutationFn: () => new Promise<void>((resolve) => (finish = resolve)) })
      .execute(undefined);
    await vi.waitFor(() => expect(client.isMutating()).toBe(1));
    refetchWhenSettled(client, "p");
    // Invalidating marks the query at once; nothing is marked while the move is pending.
    expect(client.getQueryState(["tasks", "p"])?.isInvalidated).toBe(false);
    expect(fetches).toBe(1);
    finish();
    await pending;
    await vi.waitFor(() => expect(fetches).toBe(2));
    unsubscribe();
  });
});
