/**
 * The browser's side of sign-in. The access token lives only in this module's memory; the
 * refresh token lives in an httpOnly cookie of the UI's origin that only the BFF routes under
 * /api/auth read. A refresh is single-flight: parallel callers wait for one request.
 */
import { ApiError, apiErrorOf } from "./errors";

export type SessionUser = { id: string; email: string; displayName: string };

export type Session = {
  accessToken: string;
  expiresAt: number;
  user: SessionUser;
  organizationId: string;
  sessionId: string;
  role: string;
};

type AuthAnswer = {
  accessToken: string;
  accessTokenExpireTime?: string | null;
  user: Record<string, unknown>;
  organizationId: string;
  session: Record<string, unknown>;
  role: string;
};

/** Seconds before expiry at which the token is renewed. */
export const RENEW_MARGIN_MS = 60_000;

let current: Session | null = null;
let inflight: Promise<Session | null> | null = null;
let renewTimer: ReturnType<typeof setTimeout> | null = null;
const listeners = new Set<(session: Session | null) => void>();

export function sessionOf(answer: AuthAnswer, now = Date.now()): Session {
  const expires = answer.accessTokenExpireTime
    ? Date.parse(answer.accessTokenExpireTime)
    : now + 15 * 60_000;
  return {
    accessToken: answer.accessToken,
    expiresAt: expires,
    user: {
      id: String(answer.user.id ?? ""),
      email: String(answer.user.email ?? ""),
      displayName: String(answer.user.displayName ?? ""),
    },
    organizationId: answer.organizationId,
    sessionId: String(answer.session.id ?? ""),
    role: answer.role,
  };
}

export function currentSession(): Session | null {
  return current;
}

export function onSession(listener: (session: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function publish(session: Session | null): void {
  current = session;
  if (renewTimer) clearTimeout(renewTimer);
  renewTimer = null;
  if (session && typeof window !== "undefined") {
    const wait = Math.max(5_000, session.expiresAt - Date.now() - RENEW_MARGIN_MS);
    renewTimer = setTimeout(() => void refresh(), wait);
  }
  for (const listener of listeners) listener(session);
}

async function post(path: string, body?: unknown): Promise<Response> {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function signedIn(response: Response): Promise<Session> {
  if (!response.ok) throw await apiErrorOf(response);
  const session = sessionOf((await response.json()) as AuthAnswer);
  publish(session);
  return session;
}

export function signIn(email: string, password: string): Promise<Session> {
  return post("/api/auth/login", { email, password }).then(signedIn);
}

export function register(body: {
  email: string;
  password: string;
  displayName: string;
  organizationName: string;
}): Promise<Session> {
  return post("/api/auth/register", body).then(signedIn);
}

export function acceptInvitation(body: {
  token: string;
  displayName?: string;
  password?: string;
  email?: string;
}): Promise<Session> {
  return post("/api/auth/invitations/accept", body).then(signedIn);
}

export function switchOrganization(organizationId: string): Promise<Session> {
  return post("/api/auth/switch-organization", { organizationId }).then(signedIn);
}

/**
 * Trade the refresh cookie for a new access token. Parallel calls share one request; a
 * refused refresh (revoked or expired session) signs the browser out and resolves to null.
 */
export function refresh(): Promise<Session | null> {
  if (inflight) return inflight;
  inflight = (async () => {
    try {
      const response = await post("/api/auth/refresh");
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel(); // nothing to read; a body left open keeps the request loading
        publish(null);
        return null;
      }
      return await signedIn(response);
    } finally {
      inflight = null;
    }
  })();
  return inflight;
}

export async function signOut(): Promise<void> {
  await post("/api/auth/logout").catch(() => undefined);
  publish(null);
}

/** A token good for the next request: the current one, or a fresh one when it is about to end. */
export async function accessToken(): Promise<string | null> {
  if (current && current.expiresAt - Date.now() > 5_000) return current.accessToken;
  return (await refresh())?.accessToken ?? null;
}

export { ApiError };
