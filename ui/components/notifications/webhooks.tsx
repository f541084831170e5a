"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { parseEventTypes, type WebhookEndpoint } from "@/lib/notifications";
import { ErrorNotice, violationOf } from "../errors";
import { Table, when } from "../identity/common";
import { Button } from "../ui/button";
import { Field, Input, Textarea } from "../ui/field";
import { NotificationSection } from "./frame";
import { useOrganization } from "./queries";
import { SecretOnce } from "./secret-once";

export const webhooksKey = (organizationId: string | undefined) => ["notification-webhooks", organizationId] as const;

/** The organization's webhook endpoints (admins): list, create; each has its own page. */
export function Webhooks() {
  const organizationId = useOrganization();
  const endpoints = useQuery({
    queryKey: [...webhooksKey(organizationId), "all"],
    enabled: !!organizationId,
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/notification/webhooks", { params: { query: { pageSize: 1000 } } }))).endpoints ?? []) as WebhookEndpoint[],
  });
  const [created, setCreated] = useState<WebhookEndpoint | null>(null);
  return (
    <NotificationSection title="Webhook endpoints">
      <p className="max-w-3xl text-sm text-muted-foreground">
        Events are POSTed as <code>{"{type, timestamp, data}"}</code> with Standard Webhooks signatures (<code>webhook-id</code>,{" "}
        <code>webhook-timestamp</code>, <code>webhook-signature</code>). Failed deliveries are retried with backoff; an endpoint that keeps
        failing is disabled and the admins are told.
      </p>
      {created ? (
        <SecretOnce
          title={`Created ${created.url}`}
          secret={created.secret ?? ""}
          action={
            <Button asChild size="sm" variant="secondary">
              <Link href={`/notifications/webhooks/${created.id}`}>Open the endpoint</Link>
            </Button>
          }
        />
      ) : null}
      <CreateEndpoint onCreated={setCreated} />
      <ErrorNotice error={endpoints.error} />
      <Table caption="Webhook endpoints" head={["URL", "Event types", "State", "Failures in a row", "Created"]}>
        {(endpoints.data ?? []).map((e) => (
          <tr key={e.id} className="border-b border-border" data-endpoint={e.url}>
            <td className="p-2">
              <Link href={`/notifications/webhooks/${e.id}`} className="font-mono hover:underline">
                {e.url}
              </Link>
              {e.description ? <span className="block text-xs text-muted-foreground">{e.description}</span> : null}
            </td>
            <td className="p-2 font-mono text-xs">{(e.eventTypes ?? []).join(", ")}</td>
            <td className="p-2" data-testid="endpoint-state">
              {e.disabled ? <span className="text-danger">Disabled{e.disabledReason ? `: ${e.disabledReason}` : ""}</span> : "Enabled"}
            </td>
            <td className="p-2">{e.consecutiveFailures ?? 0}</td>
            <td className="p-2 text-muted-foreground">{when(e.createTime)}</td>
          </tr>
        ))}
        {endpoints.isSuccess && endpoints.data.length === 0 ? (
          <tr>
            <td colSpan={5} className="p-3 text-muted-foreground">
              No endpoints yet.
            </td>
          </tr>
        ) : null}
      </Table>
    </NotificationSection>
  );
}

function CreateEndpoint({ onCreated }: { onCreated: (endpoint: WebhookEndpoint) => void }) {
  const client = useQueryClient();
  const organizationId = useOrganization();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("*");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: async () =>
      (
        await unwrap(
          api().POST("/api/v1/notification/webhooks", {
            body: { url: url.trim(), eventTypes: parseEventTypes(types), description },
          }),
        )
      ).endpoint as WebhookEndpoint,
    onSuccess: (endpoint) => {
      void client.invalidateQueries({ queryKey: webhooksKey(organizationId) });
      setUrl("");
      setDescription("");
      onCreated(endpoint);
    },
  });
  return (
    <form
      aria-label="New endpoint"
      className="grid max-w-3xl grid-cols-1 gap-3 rounded-md border border-border p-4 md:grid-cols-2"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h2 className="text-lg font-medium md:col-span-2">New endpoint</h2>
      <Field id="webhook-url" label="URL" hint="https://, or http:// to a loopback host" error={violationOf(create.error, "endpoint.url")}>
        <Input id="webhook-url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hooks/coder" />
      </Field>
      <Field
        id="webhook-types"
        label="Event types"
        hint="Separated by spaces or commas: planning.task.assigned, planning.task.*, or * for every one"
        error={violationOf(create.error, "endpoint.event_types")}
      >
        <Input id="webhook-types" required value={types} onChange={(e) => setTypes(e.target.value)} />
      </Field>
      <div className="md:col-span-2">
        <Field id="webhook-description" label="Description" error={violationOf(create.error, "endpoint.description")}>
          <Textarea id="webhook-description" className="min-h-16" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
      </div>
      <div className="md:col-span-2">
        <ErrorNotice error={create.error} />
      </div>
      <div>
        <Button type="submit" disabled={create.isPending}>
          Create endpoint
        </Button>
      </div>
    </form>
  );
}
