/** Server-Sent Events from a fetch response (a POST, which EventSource cannot send): the
 * edge's `event: message` / `event: error` frames with JSON data, `: ping` comments skipped. */
import { accessToken, refresh } from "./session";
import { apiBaseUrl } from "./api";
import { ApiError, apiErrorOf, type ErrorBody } from "./errors";

export type SseEvent = { event: string; data: string; id?: string };

/** Splits SSE text into events; returns the events complete so far and the unfinished rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const normalized = buffer.replace(/\r\n?/g, "\n");
  const blocks = normalized.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (data.length) events.push({ event, data: data.join("\n"), ...(id !== undefined ? { id } : {}) });
  }
  return { events, rest };
}

/** POSTs `body` to a server-streaming route of the edge and calls `onMessage` with each JSON
 * message as it arrives. A refusal before the stream starts (a plain HTTP error) and an
 * `event: error` after it are thrown as ApiError; a 401 refreshes the token once and retries. */
export async function streamPost<T>(path: string, body: unknown, onMessage: (message: T) => void, signal?: AbortSignal): Promise<void> {
  return stream("POST", path, body, onMessage, signal);
}

/** GETs a server-streaming route of the edge (a `:watch`), as `streamPost` does. */
export async function streamGet<T>(path: string, onMessage: (message: T) => void, signal?: AbortSignal): Promise<void> {
  return stream("GET", path, undefined, onMessage, signal);
}

async function stream<T>(
  method: "GET" | "POST",
  path: string,
  body: unknown,
  onMessage: (message: T) => void,
  signal?: AbortSignal,
): Promise<void> {
  const send = async (token: string | null) =>
    fetch(`${apiBaseUrl()}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        accept: "text/event-stream",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    });
  let response = await send(await accessToken());
  if (response.status === 401) {
    const session = await refresh();
    if (session) response = await send(session.accessToken);
  }
  if (!response.ok || !response.body) throw await apiErrorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const parsed = parseSse(buffer + value);
    buffer = parsed.rest;
    for (const event of parsed.events) {
      if (event.event === "error") throw new ApiError(500, JSON.parse(event.data) as ErrorBody);
      if (event.event === "message") onMessage(JSON.parse(event.data) as T);
    }
  }
}
