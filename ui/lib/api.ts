/**
 * The typed API client: openapi-fetch over the types generated from the proto tree
 * (gen/ts/api.d.ts), calling the edge directly with the bearer token. A 401 triggers one
 * refresh (shared by every request that got one) and one retry.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "@gen/api";
import { ApiError, apiErrorOf } from "./errors";
import { accessToken, refresh } from "./session";

export type Schemas = components["schemas"];

/** An enum as answers carry it: proto3 JSON prints names; numbers are accepted only on the
 * way in (the document's enum schemas admit both). */
type Named<T> = Exclude<T, number>;

export type TaskStatus = Named<Schemas["coder.planning.v1.TaskStatus"]>;
export type TaskPriority = Named<Schemas["coder.planning.v1.TaskPriority"]>;
export type TaskChangeKind = Named<Schemas["coder.planning.v1.TaskChangeKind"]>;
export type Task = Omit<Schemas["coder.planning.v1.Task"], "status" | "priority"> & {
  status?: TaskStatus;
  priority?: TaskPriority;
};
export type TaskPatch = Schemas["coder.planning.v1.Task-Patch"];
export type Project = Schemas["coder.planning.v1.Project"];
export type WatchMessage = Omit<
  Schemas["coder.planning.v1.WatchProjectResponse"],
  "kind" | "previousStatus" | "task"
> & { kind?: TaskChangeKind; previousStatus?: TaskStatus; task?: Task };

let baseUrl = "http://127.0.0.1:3001";

/** Set once from the server-rendered configuration (the edge's public URL). */
export function configureApi(url: string): void {
  const next = url.replace(/\/$/, "");
  if (next !== baseUrl) {
    baseUrl = next;
    client = makeClient(baseUrl);
  }
}

export function apiBaseUrl(): string {
  return baseUrl;
}

const retried = new WeakSet<Request>();

const auth: Middleware = {
  async onRequest({ request }) {
    const token = await accessToken();
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ request, response }) {
    if (response.status !== 401 || retried.has(request)) return response;
    const session = await refresh();
    if (!session) return response;
    const again = new Request(request, { headers: new Headers(request.headers) });
    again.headers.set("authorization", `Bearer ${session.accessToken}`);
    retried.add(again);
    return fetch(again);
  },
};

function makeClient(url: string) {
  const client = createClient<paths>({
    baseUrl: url,
    querySerializer: { array: { style: "form", explode: true } },
  });
  client.use(auth);
  return client;
}

let client = makeClient(baseUrl);

/** The client of the configured edge. */
export function api(): ReturnType<typeof makeClient> {
  return client;
}

/** The data of an openapi-fetch result, or the ApiError of its failure. */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await promise;
  if (!response.ok || error !== undefined) {
    throw new ApiError(response.status, error as never);
  }
  return data as T;
}

export { apiErrorOf };
