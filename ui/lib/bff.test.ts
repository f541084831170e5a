// @vitest-environment node
import { NextRequest } from "next/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cookieFrom, deviceLabel, foreign, oidcCallback, REFRESH_COOKIE, spendRefreshToken, startSession } from "./bff";

const UI = "http://127.0.0.1:3000";

function request(path: string, headers: Record<string, string> = {}, body?: unknown): NextRequest {
  return new NextRequest(`${UI}${path}`, {
    method: "POST",
    headers: { host: "127.0.0.1:3000", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const session = { accessToken: "a1", user: { id: "u" }, organizationId: "o", session: { id: "s" }, role: "owner" };

afterEach(() => vi.unstubAllGlobals());

describe("the BFF", () => {
  it("refuses a write from another origin and takes one from its own", () => {
    expect(foreign(request("/api/auth/refresh", { origin: "http://evil.example" }))?.status).toBe(403);
    expect(foreign(request("/api/auth/refresh", { origin: "null" }))?.status).toBe(403);
    expect(foreign(request("/api/auth/refresh", { origin: UI }))).toBeNull();
    expect(foreign(request("/api/auth/refresh", { "sec-fetch-site": "cross-site" }))?.status).toBe(403);
  });

  it("keeps the refresh token in an httpOnly cookie and gives the page only the access token", async () => {
    const edge = vi.fn(async () => new Response(JSON.stringify({ ...session, refreshToken: "r1" }), { status: 200 }));
    vi.stubGlobal("fetch", edge);
    const answer = await startSession("/auth/login", request("/api/auth/login", { origin: UI, "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156" }, { email: "a", password: "b" }));
    const sent = JSON.parse(String((edge.mock.calls[0] as unknown as [string, RequestInit])[1].body));
    expect(sent).toMatchObject({ email: "a", returnRefreshToken: true, deviceLabel: "Chrome on Linux" });
    const body = await answer.json();
    expect(body.accessToken).toBe("a1");
    expect(body.refreshToken).toBeUndefined();
    const cookie = answer.headers.get("set-cookie") ?? "";
    expect(cookie).toContain(`${REFRESH_COOKIE}=r1`);
    expect(cookie.toLowerCase()).toContain("httponly");
    expect(cookie.toLowerCase()).toContain("samesite=lax");
    expect(cookie).toContain("Path=/api/auth");
  });

  it("spends one refresh token once, however many tabs ask at the same time", async () => {
    let release: (r: Response) => void = () => undefined;
    const edge = vi.fn(() => new Promise<Response>((resolve) => (release = resolve)));
    vi.stubGlobal("fetch", edge);
    const tab = () => request("/api/auth/refresh", { origin: UI, cookie: `${REFRESH_COOKIE}=same-token` });
    const answers = [spendRefreshToken("/auth/refresh", tab()), spendRefreshToken("/auth/refresh", tab())];
    await vi.waitFor(() => expect(edge).toHaveBeenCalledTimes(1));
    release(new Response(JSON.stringify({ ...session, refreshToken: "next" }), { status: 200 }));
    const [first, second] = await Promise.all(answers);
    expect(edge).toHaveBeenCalledTimes(1);
    expect(first?.headers.get("set-cookie")).toContain(`${REFRESH_COOKIE}=next`);
    expect(second?.headers.get("set-cookie")).toContain(`${REFRESH_COOKIE}=next`);
  });

  it("clears the cookie when the edge refuses the refresh", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ code: 401, message: "revoked" }), { status: 401 })));
    const answer = await spendRefreshToken("/auth/refresh", request("/api/auth/refresh", { origin: UI, cookie: `${REFRESH_COOKIE}=revoked-token` }));
    expect(answer.status).toBe(401);
    expect(answer.headers.get("set-cookie")).toContain("Max-Age=0");
  });

  it("reads a cookie out of Set-Cookie lines and labels devices", () => {
    expect(cookieFrom(["coder_csrf=x; Path=/", "coder_refresh=r=1; HttpOnly"], "coder_refresh")).toBe("r=1");
    expect(cookieFrom([], "coder_refresh")).toBe("");
    expect(deviceLabel("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/130")).toBe("Firefox on macOS");
  });
});

describe("the OIDC callback", () => {
  it("keeps the edge's refresh token in the cookie and sends the browser on relative to where it is", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        expect(url).toMatch(/\/auth\/oidc\/mock\/callback\?code=c1&state=s1$/);
        expect((init.headers as Record<string, string>).cookie).toBe("coder_oidc=b1");
        return new Response(null, { status: 303, headers: { "set-cookie": "coder_refresh=r9; HttpOnly; Path=/auth", location: "http://ui/auth/complete" } });
      }),
    );
    const callback = new NextRequest(`${UI}/api/auth/oidc/mock/callback?code=c1&state=s1`, { headers: { host: "127.0.0.1:3000", cookie: "coder_ui_oidc=b1" } });
    const answer = await oidcCallback("mock", callback);
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe("/auth/complete");
    const cookies = answer.headers.getSetCookie().join("\n");
    expect(cookies).toContain(`${REFRESH_COOKIE}=r9`);
    expect(cookies).toMatch(/coder_ui_oidc=;/);
  });

  it("sends the browser back to sign-in when the edge gave no session", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(null, { status: 303, headers: { location: "http://ui/sign-in?error=oidc" } })));
    const callback = new NextRequest(`${UI}/api/auth/oidc/mock/callback?error=access_denied`, { headers: { host: "127.0.0.1:3000" } });
    const answer = await oidcCallback("mock", callback);
    expect(answer.headers.get("location")).toBe("/sign-in?error=oidc");
    expect(answer.headers.getSetCookie().join("\n")).not.toContain(REFRESH_COOKIE);
  });
});
