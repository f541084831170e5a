"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type Server, serversKey, toolsKey } from "@/lib/mcp";
import type { Schemas } from "@/lib/api";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { McpSection } from "./frame";

type Secret = Schemas["coder.secret.v1.Secret"];

function changed(client: ReturnType<typeof useQueryClient>) {
  void client.invalidateQueries({ queryKey: serversKey });
  void client.invalidateQueries({ queryKey: toolsKey });
}

/** Registers an external server: its name (its tools' prefix), URL, the Secret that holds its
 * bearer token, and a call timeout; then discovers its tools. */
function AddServer() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [secretId, setSecretId] = useState("");
  const [timeout, setTimeout] = useState("0");
  // Only the ids of secrets are kept here: the service reads the value for each call.
  const secrets = useQuery({
    queryKey: ["secrets", "mcp-credentials"],
    queryFn: () => unwrap(api().GET("/api/v1/secret/secrets", { params: { query: { pageSize: 1000 } } })).then((r) => (r.secrets ?? []) as Secret[]),
  });
  const create = useMutation({
    mutationFn: async () => {
      const created = await unwrap(
        api().POST("/api/v1/mcp/servers", { body: { name, url, description, credentialSecretId: secretId, timeoutSeconds: Number(timeout) || 0 } }),
      );
      // Registered; its tools are discovered by a first refresh.
      return unwrap(api().POST("/api/v1/mcp/servers/{server_id}:refresh", { params: { path: { server_id: created.server?.id ?? "" } }, body: {} }));
    },
    onSuccess: (reply) => {
      changed(client);
      if (reply.server?.refreshError) toast.error(new Error(`Registered ${reply.server.name}, but its tools were not found: ${reply.server.refreshError}`));
      else toast.info(`Registered ${reply.server?.name}: ${reply.server?.tools?.length ?? 0} tools`);
      setName("");
      setUrl("");
      setDescription("");
      setSecretId("");
    },
  });
  const violation = (field: string) => violationOf(create.error, field);
  return (
    <form
      aria-label="Add a server"
      className="grid max-w-3xl gap-3 rounded-md border border-border p-4 sm:grid-cols-2"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      <h2 className="font-medium sm:col-span-2">Add a server</h2>
      <Field id="server-name" label="Name" hint="Its tools are offered as <name>.<tool>" error={violation("name")}>
        <Input id="server-name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field id="server-url" label="URL" hint="MCP streamable HTTP: https, or http to a loopback host" error={violation("url")}>
        <Input id="server-url" value={url} onChange={(e) => setUrl(e.target.value)} required />
      </Field>
      <Field id="server-description" label="Description" error={violation("description")}>
        <Input id="server-description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field id="server-secret" label="Credential" hint="A secret sent as the bearer token" error={violation("credential_secret_id")}>
        <Select id="server-secret" value={secretId} onChange={(e) => setSecretId(e.target.value)}>
          <option value="">None</option>
          {(secrets.data ?? []).map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </Select>
      </Field>
      <Field id="server-timeout" label="Timeout (seconds)" hint="0: the service's default (30 s)" error={violation("timeout_seconds")}>
        <Input id="server-timeout" type="number" min={0} max={300} value={timeout} onChange={(e) => setTimeout(e.target.value)} />
      </Field>
      {!violation("name") && !violation("url") ? (
        <div className="sm:col-span-2">
          <ErrorNotice error={create.error} />
        </div>
      ) : null}
      <div className="sm:col-span-2">
        <Button type="submit" disabled={create.isPending || !name.trim() || !url.trim()}>
          Add server
        </Button>
      </div>
    </form>
  );
}

function ServerCard({ server, admin }: { server: Server; admin: boolean }) {
  const client = useQueryClient();
  const refresh = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/mcp/servers/{server_id}:refresh", { params: { path: { server_id: server.id ?? "" } }, body: {} })),
    onSuccess: (reply) => {
      changed(client);
      if (reply.server?.refreshError) toast.error(new Error(reply.server.refreshError));
      else toast.info(`Found ${reply.server?.tools?.length ?? 0} tools on ${server.name}`);
    },
    onError: (error) => toast.error(error),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api().DELETE("/api/v1/mcp/servers/{server_id}", { params: { path: { server_id: server.id ?? "" } } })),
    onSuccess: () => changed(client),
    onError: (error) => toast.error(error),
  });
  return (
    <article aria-label={`Server ${server.name}`} className="flex flex-col gap-2 rounded-md border border-border p-4">
      <div className="flex flex-wrap items-baseline gap-2">
        <h2 className="font-mono font-medium">{server.name}</h2>
        <span className="text-sm text-muted-foreground">{server.url}</span>
        {admin ? (
          <span className="ml-auto flex gap-2">
            <Button size="sm" variant="secondary" onClick={() => refresh.mutate()} disabled={refresh.isPending}>
              Refresh tools
            </Button>
            <Button size="sm" variant="ghost" onClick={() => remove.mutate()} disabled={remove.isPending} aria-label={`Remove ${server.name}`}>
              Remove
            </Button>
          </span>
        ) : null}
      </div>
      {server.description ? <p className="text-sm text-muted-foreground">{server.description}</p> : null}
      <p className="text-xs text-muted-foreground">
        {server.credentialSecretId ? (
          <>
            Credential: secret{" "}
            <Link className="underline" href={`/secrets/${server.credentialSecretId}`}>
              {server.credentialSecretId}
            </Link>
          </>
        ) : (
          "No credential"
        )}{" "}
        · timeout {server.timeoutSeconds || 30} s · tools found {when(server.refreshTime)}
      </p>
      {server.refreshError ? (
        <p role="alert" className="text-sm text-danger">
          The last refresh failed: {server.refreshError}
        </p>
      ) : null}
      <ul aria-label={`Tools of ${server.name}`} className="flex flex-col gap-1">
        {(server.tools ?? []).map((tool) => {
          const name = `${server.name}.${tool.name}`;
          return (
            <li key={tool.name} className="flex items-baseline gap-2 text-sm">
              <Link href={`/mcp?tool=${encodeURIComponent(name)}`} className="font-mono hover:underline">
                {name}
              </Link>
              <span className="text-muted-foreground">{tool.description}</span>
            </li>
          );
        })}
      </ul>
    </article>
  );
}

/** The organization's external MCP servers (admins add, refresh and remove them). */
export function Servers() {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const servers = useQuery({
    queryKey: serversKey,
    queryFn: async () => ((await unwrap(api().GET("/api/v1/mcp/servers", { params: { query: { pageSize: 1000 } } }))).servers ?? []) as Server[],
  });
  return (
    <McpSection title="External MCP servers">
      <p className="max-w-3xl text-sm text-muted-foreground">
        A registered server&apos;s tools are called through the gateway with the caller&apos;s rights, audited, rate limited and subject to the
        roles&apos; allow-lists. A server cannot be renamed (its name prefixes its tools): remove it and add it again.
      </p>
      <ErrorNotice error={servers.error} />
      {(servers.data ?? []).map((server) => (
        <ServerCard key={server.id} server={server} admin={admin} />
      ))}
      {servers.data && servers.data.length === 0 ? <p className="text-sm text-muted-foreground">No servers registered.</p> : null}
      {admin ? <AddServer /> : null}
    </McpSection>
  );
}
