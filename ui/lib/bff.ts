/**
 * The BFF of sign-in (server only): the browser talks to /api/auth/* on the UI's origin, and
 * these handlers talk to the edge's /auth/*. The refresh token never reaches the browser's
 * scripts: the edge hands it over in the body ("returnRefreshToken"), and it is kept in an
 * httpOnly, SameSite=Lax cookie scoped to /api/auth. Only the access token goes back to the
 * page. Writes must come from the UI's own pages (Origin check), so another site cannot make
 * a signed-in browser spend its cookie.
 */
import { createHash } from "node:crypto";
import { type NextRequest, NextResponse } from "next/server";

export const REFRESH_COOKIE = "coder_ui_refresh";
export const OIDC_COOKIE = "coder_ui_oidc";
const COOKIE_PATH = "/api/auth";
const REFRESH_MAX_AGE = 30 * 86_400;
const SHARED_FOR_MS = 10_000;

export function edgeUrl(): string {
  return (process.env.CODER_EDGE_URL || process.env.NEXT_PUBLIC_API_URL || "http://127.0.0.1:3001").replace(
    /\/$/,
    "",
  );
}

/** OIDC provider names the edge is configured with (never their secrets). */
export function oidcProviders(): string[] {
  const text = process.env.CODER_EDGE_OIDC_PROVIDERS ?? "";
  if (!text.trim()) return [];
  try {
    return Object.keys(JSON.parse(text) as Record<string, unknown>).sort();
  } catch {
    return [];
  }
}

function secure(request: NextRequest): boolean {
  return request.nextUrl.protocol === "https:";
}

/** Refuse a write that a page of another origin sent. */
export function foreign(request: NextRequest): NextResponse | null {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  const own = request.nextUrl.origin;
  const host = request.headers.get("host");
  let sameOrigin: boolean;
  if (origin === null) sameOrigin = site === null || site === "same-origin";
  else {
    try {
      sameOrigin = origin === own || (host !== null && new URL(origin).host === host);
    } catch {
      sameOrigin = false; // "null" (a sandboxed frame) or garbage
    }
  }
  if (sameOrigin) return null;
  return errorJson(403, "this request must come from the web app itself", "ORIGIN_REFUSED");
}

export function errorJson(status: number, message: string, reason: string): NextResponse {
  return NextResponse.json(
    { code: status, message, details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "ui" }], requestId: "" },
    { status, headers: { "cache-control": "no-store" } },
  );
}

export function deviceLabel(agent: string): string {
  const browser = /Edg\//.test(agent)
    ? "Edge"
    : /Chrome\//.test(agent)
      ? "Chrome"
      : /Firefox\//.test(agent)
        ? "Firefox"
        : /Safari\//.test(agent)
          ? "Safari"
          : "Browser";
  const system = /Windows/.test(agent)
    ? "Windows"
    : /Mac OS X/.test(agent)
      ? "macOS"
      : /Android/.test(agent)
        ? "Android"
        : /Linux/.test(agent)
          ? "Linux"
          : "";
  return system ? `${browser} on ${system}` : browser;
}

type EdgeAnswer = { status: number; body: Record<string, unknown> | null; requestId: string };

async function callEdge(path: string, request: NextRequest, body: Record<string, unknown>): Promise<EdgeAnswer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const agent = request.headers.get("user-agent");
  if (agent) headers["user-agent"] = agent;
  const requestId = request.headers.get("x-request-id");
  if (requestId) headers["x-request-id"] = requestId;
  const bearer = request.headers.get("authorization");
  if (bearer && path === "/auth/invitations/accept") headers.authorization = bearer;
  const response = await fetch(edgeUrl() + path, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, requestId: response.headers.get("x-request-id") ?? "" };
}

export function setRefreshCookie(response: NextResponse, request: NextRequest, token: string): void {
  response.cookies.set(REFRESH_COOKIE, token, {
    httpOnly: true,
    sameSite: "lax",
    secure: secure(request),
    path: COOKIE_PATH,
    maxAge: REFRESH_MAX_AGE,
  });
}

export function clearRefreshCookie(response: NextResponse, request: NextRequest): void {
  response.cookies.set(REFRESH_COOKIE, "", {
    httpOnly: true,
    sameSite: "lax",
    secure: secure(request),
    path: COOKIE_PATH,
    maxAge: 0,
  });
}

/** The page's answer to an edge answer: the session without its refresh token, which goes
 * into the cookie; an error body passed on as it came. */
function toPage(answer: EdgeAnswer, request: NextRequest, clearOnRefusal: boolean): NextResponse {
  const headers = { "cache-control": "no-store", "x-request-id": answer.requestId };
  if (answer.status >= 400 || answer.body === null) {
    const response = NextResponse.json(answer.body ?? {}, { status: answer.status, headers });
    if (clearOnRefusal && answer.status === 401) clearRefreshCookie(response, request);
    return response;
  }
  const { refreshToken, ...session } = answer.body;
  const response = NextResponse.json(session, { status: answer.status, headers });
  if (typeof refreshToken === "string" && refreshToken) setRefreshCookie(response, request, refreshToken);
  return response;
}

/** Sign-in calls that start a session: login, register, accept an invitation. */
export async function startSession(path: string, request: NextRequest): Promise<NextResponse> {
  let body: Record<string, unknown>;
  try {
    body = (await request.json()) as Record<string, unknown>;
  } catch {
    return errorJson(400, "the body is not JSON", "MALFORMED_JSON");
  }
  const agent = request.headers.get("user-agent") ?? "";
  const answer = await callEdge(path, request, {
    ...body,
    deviceLabel: deviceLabel(agent),
    returnRefreshToken: true,
  });
  return toPage(answer, request, false);
}

// A page loaded in two tabs at once (or React's double effects in development) must not spend
// the same refresh token twice: identity would take the second use for a stolen token and end
// the session. Concurrent refreshes of one token share one edge call, and its answer is kept
// for a few seconds for a late duplicate.
const shared = new Map<string, { answer: Promise<EdgeAnswer>; until: number }>();

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function spendRefreshToken(
  path: "/auth/refresh" | "/auth/switch-organization",
  request: NextRequest,
  extra: Record<string, unknown> = {},
): Promise<NextResponse> {
  const token = request.cookies.get(REFRESH_COOKIE)?.value ?? "";
  if (!token) return errorJson(401, "not signed in", "REFRESH_TOKEN_MISSING");
  if (path === "/auth/switch-organization") {
    return toPage(await callEdge(path, request, { ...extra, refreshToken: token }), request, true);
  }
  const key = digest(token);
  const now = Date.now();
  for (const [k, v] of shared) if (v.until < now) shared.delete(k);
  let entry = shared.get(key);
  if (!entry) {
    entry = { answer: callEdge(path, request, { refreshToken: token }), until: now + SHARED_FOR_MS };
    shared.set(key, entry);
  }
  return toPage(await entry.answer, request, true);
}

export async function endSession(request: NextRequest): Promise<NextResponse> {
  const token = request.cookies.get(REFRESH_COOKIE)?.value ?? "";
  if (token) await callEdge("/auth/logout", request, { refreshToken: token }).catch(() => undefined);
  const response = new NextResponse(null, { status: 204, headers: { "cache-control": "no-store" } });
  clearRefreshCookie(response, request);
  return response;
}

/** The value of one cookie in a Set-Cookie list. */
export function cookieFrom(setCookies: string[], name: string): string {
  for (const line of setCookies) {
    const [pair] = line.split(";");
    const [key, ...value] = (pair ?? "").split("=");
    if (key?.trim() === name) return value.join("=").trim();
  }
  return "";
}

/** A redirect to a path of the UI, relative, so the browser stays on the origin it came in on:
 * `next start` knows its own origin only as `localhost`, and a cookie set for 127.0.0.1 is
 * not sent there. */
function redirectHere(path: string): NextResponse {
  return new NextResponse(null, { status: 303, headers: { location: path, "cache-control": "no-store" } });
}

export async function oidcLogin(provider: string, request: NextRequest): Promise<NextResponse> {
  const answer = await fetch(`${edgeUrl()}/auth/oidc/${encodeURIComponent(provider)}/login`, {
    redirect: "manual",
    headers: { "user-agent": request.headers.get("user-agent") ?? "" },
    cache: "no-store",
  });
  const location = answer.headers.get("location");
  if (answer.status !== 302 || !location) {
    return redirectHere("/sign-in?error=oidc");
  }
  const binding = cookieFrom(answer.headers.getSetCookie(), "coder_oidc");
  const response = NextResponse.redirect(location, 302);
  response.cookies.set(OIDC_COOKIE, binding, {
    httpOnly: true,
    sameSite: "lax",
    secure: secure(request),
    path: "/api/auth/oidc",
    maxAge: 600,
  });
  return response;
}

export async function oidcCallback(provider: string, request: NextRequest): Promise<NextResponse> {
  const binding = request.cookies.get(OIDC_COOKIE)?.value ?? "";
  const answer = await fetch(
    `${edgeUrl()}/auth/oidc/${encodeURIComponent(provider)}/callback${request.nextUrl.search}`,
    {
      redirect: "manual",
      headers: { cookie: `coder_oidc=${binding}`, "user-agent": request.headers.get("user-agent") ?? "" },
      cache: "no-store",
    },
  );
  const refreshToken = cookieFrom(answer.headers.getSetCookie(), "coder_refresh");
  const target = refreshToken ? "/auth/complete" : "/sign-in?error=oidc";
  const response = redirectHere(target);
  response.cookies.set(OIDC_COOKIE, "", { path: "/api/auth/oidc", maxAge: 0 });
  if (refreshToken) setRefreshCookie(response, request, refreshToken);
  return response;
}
