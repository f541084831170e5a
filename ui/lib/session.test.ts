import { afterEach, describe, expect, it, vi } from "vitest";
import { currentSession, refresh, signOut } from "./session";

const answer = {
  accessToken: "token-1",
  accessTokenExpireTime: new Date(Date.now() + 15 * 60_000).toISOString(),
  user: { id: "u1", email: "a@example.com", displayName: "A" },
  organizationId: "o1",
  session: { id: "s1" },
  role: "owner",
};

afterEach(async () => {
  vi.unstubAllGlobals();
  vi.stubGlobal("fetch", vi.fn(async () => new Response(null, { status: 204 })));
  await signOut();
  vi.unstubAllGlobals();
});

describe("refresh", () => {
  it("is single-flight: parallel callers share one request", async () => {
    let release: (r: Response) => void = () => undefined;
    const fetcher = vi.fn(() => new Promise<Response>((resolve) => (release = resolve)));
    vi.stubGlobal("fetch", fetcher);
    const calls = [refresh(), refresh(), refresh()];
    release(new Response(JSON.stringify(answer), { status: 200 }));
    const sessions = await Promise.all(calls);
    expect(fetcher).toHaveBeenCalledTimes(1);
    expect(sessions.map((s) => s?.accessToken)).toEqual(["token-1", "token-1", "token-1"]);
    expect(currentSession()?.sessionId).toBe("s1");
  });

  it("signs the browser out when the refresh is refused", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(answer), { status: 200 })));
    await refresh();
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 401 })));
    expect(await refresh()).toBeNull();
    expect(currentSession()).toBeNull();
  });
});
