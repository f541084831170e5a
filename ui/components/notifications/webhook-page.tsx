"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { deliveryStatus, parseEventTypes, type WebhookDelivery, type WebhookEndpoint } from "@/lib/notifications";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Table, when } from "../identity/common";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";
import { NotificationSection } from "./frame";
import { useOrganization } from "./queries";
import { SecretOnce } from "./secret-once";
import { webhooksKey } from "./webhooks";

const OVERLAPS = [
  { seconds: 0, label: "24 hours (default)" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 7 * 86400, label: "7 days" },
];

/** One endpoint: edit its URL, filters and description, disable or enable it, rotate its
 * secret, send a test, and its delivery log (refreshed while a delivery is pending). */
export function WebhookPage({ endpointId }: { endpointId: string }) {
  const organizationId = useOrganization();
  const client = useQueryClient();
  const router = useRouter();
  const key = [...webhooksKey(organizationId), endpointId];
  const endpoint = useQuery({
    queryKey: key,
    enabled: !!organizationId,
    queryFn: async () =>
      (await unwrap(api().GET("/api/v1/notification/webhooks/{endpoint_id}", { params: { path: { endpoint_id: endpointId } } })))
        .endpoint as WebhookEndpoint,
  });
  const deliveries = useQuery({
    queryKey: [...key, "deliveries"],
    enabled: !!organizationId,
    queryFn: async () =>
      ((
        await unwrap(
          api().GET("/api/v1/notification/webhooks/{endpoint_id}/deliveries", {
            params: { path: { endpoint_id: endpointId }, query: { pageSize: 100 } },
          }),
        )
      ).deliveries ?? []) as WebhookDelivery[],
    // A pending delivery is on its way (or waiting for a retry): follow it until it settles.
    refetchInterval: (query) => (query.state.data?.some((d) => d.state === "DELIVERY_STATE_PENDING") ? 1000 : false),
  });
  const [secret, setSecret] = useState<WebhookEndpoint | null>(null);
  const [overlap, setOverlap] = useState(0);
  const stored = (answer: WebhookEndpoint) => {
    client.setQueryData(key, { ...answer, secret: undefined });
    void client.invalidateQueries({ queryKey: [...webhooksKey(organizationId), "all"] });
  };
  const toggle = useMutation({
    mutationFn: async (disabled: boolean) =>
      (
        await unwrap(
          api().PATCH("/api/v1/notification/webhooks/{endpoint_id}", {
            params: { path: { endpoint_id: endpointId }, query: { updateMask: "disabled" } },
            body: { disabled, etag: endpoint.data?.etag },
          }),
        )
      ).endpoint as WebhookEndpoint,
    onSuccess: (answer) => {
      stored(answer);
      toast.info(answer.disabled ? "Endpoint disabled" : "Endpoint enabled again");
    },
    onError: (error) => toast.error(error),
  });
  const rotate = useMutation({
    mutationFn: async () =>
      (
        await unwrap(
          api().POST("/api/v1/notification/webhooks/{endpoint_id}:rotateSecret", {
            params: { path: { endpoint_id: endpointId } },
            body: { overlapSeconds: overlap },
          }),
        )
      ).endpoint as WebhookEndpoint,
    onSuccess: (answer) => {
      setSecret(answer);
      stored(answer);
    },
    onError: (error) => toast.error(error),
  });
  const test = useMutation({
    mutationFn: () =>
      unwrap(api().POST("/api/v1/notification/webhooks/{endpoint_id}:test", { params: { path: { endpoint_id: endpointId } }, body: {} })),
    onSuccess: () => {
      toast.info("Test delivery queued");
      void client.invalidateQueries({ queryKey: [...key, "deliveries"] });
    },
    onError: (error) => toast.error(error),
  });
  const remove = useMutation({
    mutationFn: () =>
      unwrap(api().DELETE("/api/v1/notification/webhooks/{endpoint_id}", { params: { path: { endpoint_id: endpointId } } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: webhooksKey(organizationId) });
      router.push("/notifications/webhooks");
    },
    onError: (error) => toast.error(error),
  });
  const e = endpoint.data;
  return (
    <NotificationSection title="Webhook endpoint">
      <Link href="/notifications/webhooks" className="text-sm text-muted-foreground hover:underline">
        ← Every endpoint
      </Link>
      <ErrorNotice error={endpoint.error} />
      {e ? (
        <>
          <div className="flex flex-wrap items-center gap-3">
            <h2 className="font-mono text-lg">{e.url}</h2>
            <span data-testid="endpoint-state" className={e.disabled ? "text-sm font-medium text-danger" : "text-sm font-medium"}>
              {e.disabled ? `Disabled${e.disabledReason ? `: ${e.disabledReason}` : ""}` : "Enabled"}
            </span>
            <span className="text-sm text-muted-foreground">{e.consecutiveFailures ?? 0} failures in a row</span>
          </div>
          <div className="flex flex-wrap items-end gap-2">
            <Button onClick={() => test.mutate()} disabled={test.isPending || !!e.disabled}>
              Send test
            </Button>
            <Button variant="secondary" onClick={() => toggle.mutate(!e.disabled)} disabled={toggle.isPending}>
              {e.disabled ? "Enable again" : "Disable"}
            </Button>
            <div className="w-48">
              <Field id="rotate-overlap" label="Old secret keeps signing for">
                <Select id="rotate-overlap" value={overlap} onChange={(ev) => setOverlap(Number(ev.target.value))}>
                  {OVERLAPS.map((o) => (
                    <option key={o.seconds} value={o.seconds}>
                      {o.label}
                    </option>
                  ))}
                </Select>
              </Field>
            </div>
            <Button variant="secondary" onClick={() => rotate.mutate()} disabled={rotate.isPending}>
              Rotate secret
            </Button>
            <Button variant="danger" className="ml-auto" onClick={() => remove.mutate()} disabled={remove.isPending}>
              Delete endpoint
            </Button>
          </div>
          {secret ? <SecretOnce title={`New secret; the previous one signs too until ${when(secret.previousSecretExpireTime)}`} secret={secret.secret ?? ""} /> : null}
          {!secret && e.previousSecretExpireTime && new Date(e.previousSecretExpireTime) > new Date() ? (
            <p className="text-sm text-muted-foreground">The previous secret also signs until {when(e.previousSecretExpireTime)}.</p>
          ) : null}
          <EditEndpoint key={e.etag} endpoint={e} onSaved={stored} />
        </>
      ) : null}
      <section aria-labelledby="delivery-log" className="flex flex-col gap-2">
        <h2 id="delivery-log" className="text-lg font-medium">
          Delivery log
        </h2>
        <ErrorNotice error={deliveries.error} />
        <Table caption="Delivery log" head={["Event", "State", "Attempts", "Next attempt", "Queued"]}>
          {(deliveries.data ?? []).map((d) => (
            <tr key={d.id} className="border-b border-border align-top" data-delivery={d.eventType} data-state={d.state}>
              <td className="p-2">
                <span className="font-mono">{d.eventType}</span>
                <span className="block font-mono text-xs text-muted-foreground">webhook-id {d.id}</span>
              </td>
              <td className="p-2" data-testid="delivery-status">
                {deliveryStatus(d)}
              </td>
              <td className="p-2">
                <ol className="flex flex-col gap-0.5 text-xs">
                  {(d.attempts ?? []).map((a, i) => (
                    <li key={i}>
                      {when(a.time)} · {a.statusCode ? `HTTP ${a.statusCode}` : "no answer"}
                      {a.error ? ` · ${a.error}` : ""}
                    </li>
                  ))}
                </ol>
              </td>
              <td className="p-2 text-muted-foreground">{d.nextAttemptTime ? when(d.nextAttemptTime) : "—"}</td>
              <td className="p-2 text-muted-foreground">{when(d.createTime)}</td>
            </tr>
          ))}
          {deliveries.isSuccess && deliveries.data.length === 0 ? (
            <tr>
              <td colSpan={5} className="p-3 text-muted-foreground">
                Nothing delivered yet.
              </td>
            </tr>
          ) : null}
        </Table>
      </section>
    </NotificationSection>
  );
}

function EditEndpoint({ endpoint, onSaved }: { endpoint: WebhookEndpoint; onSaved: (e: WebhookEndpoint) => void }) {
  const [url, setUrl] = useState(endpoint.url ?? "");
  const [types, setTypes] = useState((endpoint.eventTypes ?? []).join(" "));
  const [description, setDescription] = useState(endpoint.description ?? "");
  const save = useMutation({
    mutationFn: async () =>
      (
        await unwrap(
          api().PATCH("/api/v1/notification/webhooks/{endpoint_id}", {
            params: { path: { endpoint_id: endpoint.id ?? "" }, query: { updateMask: "url,eventTypes,description" } },
            body: { url: url.trim(), eventTypes: parseEventTypes(types), description, etag: endpoint.etag },
          }),
        )
      ).endpoint as WebhookEndpoint,
    onSuccess: (answer) => {
      onSaved(answer);
      toast.info("Endpoint saved");
    },
  });
  return (
    <form
      aria-label="Edit endpoint"
      className="grid max-w-3xl grid-cols-1 gap-3 rounded-md border border-border p-4 md:grid-cols-2"
      onSubmit={(ev) => {
        ev.preventDefault();
        save.mutate();
      }}
    >
      <Field id="edit-url" label="URL" error={violationOf(save.error, "endpoint.url")}>
        <Input id="edit-url" required value={url} onChange={(ev) => setUrl(ev.target.value)} />
      </Field>
      <Field id="edit-types" label="Event types" error={violationOf(save.error, "endpoint.event_types")}>
        <Input id="edit-types" required value={types} onChange={(ev) => setTypes(ev.target.value)} />
      </Field>
      <div className="md:col-span-2">
        <Field id="edit-description" label="Description" error={violationOf(save.error, "endpoint.description")}>
          <Textarea id="edit-description" className="min-h-16" value={description} onChange={(ev) => setDescription(ev.target.value)} />
        </Field>
      </div>
      <div className="md:col-span-2">
        <ErrorNotice error={save.error} />
      </div>
      <div>
        <Button type="submit" disabled={save.isPending}>
          Save endpoint
        </Button>
      </div>
    </form>
  );
}
