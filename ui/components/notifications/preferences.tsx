"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo, useState } from "react";
import { api, unwrap } from "@/lib/api";
import {
  type Cell,
  CHANNELS,
  type Channel,
  cellOf,
  type Digest,
  DIGESTS,
  dndActive,
  eventTypeLabel,
  filtersTake,
  fromLocalInput,
  PREFERENCE_MASK,
  type Preferences,
  quietWindow,
  resolve,
  toLocalInput,
  type Toggle,
  type WebhookEndpoint,
  withCell,
} from "@/lib/notifications";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { cn } from "../ui/cn";
import { NotificationSection } from "./frame";
import { useOrganization, useRules } from "./queries";

type Layer = "own" | "defaults";
const PATH = { own: "/api/v1/notification/preferences", defaults: "/api/v1/notification/defaults" } as const;
const digestLabel = (d: Digest) => DIGESTS.find((x) => x.value === d)?.label ?? "Each at once";
const zones = (): string[] => (typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"]);

function useLayer(layer: Layer) {
  const organizationId = useOrganization();
  return useQuery({
    queryKey: ["notification-preferences", organizationId, layer],
    enabled: !!organizationId,
    queryFn: async () => {
      if (layer === "own") return ((await unwrap(api().GET(PATH.own))).preferences ?? {}) as Preferences;
      return ((await unwrap(api().GET(PATH.defaults))).defaults ?? {}) as Preferences;
    },
  });
}

/** Preferences: the caller's own over the organization's defaults (admins edit those). */
export function NotificationPreferences() {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const own = useLayer("own");
  const defaults = useLayer("defaults");
  const [layer, setLayer] = useState<Layer>("own");
  return (
    <NotificationSection title="Notification preferences">
      {/* Two buttons rather than Radix's tabs: this page would be the only one of the frame to load them. */}
      <div role="group" aria-label="Whose preferences" className="inline-flex w-fit gap-1 rounded-md bg-muted p-1">
        {(
          [
            ["own", "Mine"],
            ["defaults", "Organization defaults"],
          ] as const
        ).map(([value, label]) => (
          <button
            key={value}
            type="button"
            aria-pressed={layer === value}
            onClick={() => setLayer(value)}
            className={cn("rounded px-3 py-1 text-sm", layer === value && "bg-card shadow")}
          >
            {label}
          </button>
        ))}
      </div>
      {layer === "own" ? (
        <>
          <ErrorNotice error={own.error ?? defaults.error} />
          {own.data && defaults.data ? (
            <PreferencesForm key={own.data.etag ?? "new"} layer="own" stored={own.data} below={[defaults.data]} editable />
          ) : null}
        </>
      ) : (
        <>
          <ErrorNotice error={defaults.error} />
          {defaults.data ? (
            <PreferencesForm key={defaults.data.etag ?? "new"} layer="defaults" stored={defaults.data} below={[]} editable={admin} />
          ) : null}
        </>
      )}
    </NotificationSection>
  );
}

type Quiet = "inherit" | "none" | "window";

function quietOf(p: Preferences): Quiet {
  if (!p.quietHours) return "inherit";
  return p.quietHours.start ? "window" : "none";
}

/** One layer's form. `below` are the layers it overrides (the organization's defaults under a
 * user's choices), shown as what "inherit" means. A save writes every field. */
function PreferencesForm({ layer, stored, below, editable }: { layer: Layer; stored: Preferences; below: Preferences[]; editable: boolean }) {
  const client = useQueryClient();
  const organizationId = useOrganization();
  const { session } = useSession();
  const rules = useRules();
  const [draft, setDraft] = useState<Preferences>(stored);
  const [quiet, setQuiet] = useState<Quiet>(quietOf(stored));
  const types = useMemo(() => ["*", ...(rules.data ?? []).map((r) => r.eventType ?? "").filter(Boolean)], [rules.data]);
  const inherited = below.find((p) => p.timezone)?.timezone || "UTC";
  const inheritedQuiet = below.find((p) => p.quietHours)?.quietHours;
  const prefix = layer === "own" ? "preferences" : "defaults";
  const id = (name: string) => `${layer}-${name}`;

  const save = useMutation({
    mutationFn: async () => {
      const body: Preferences = {
        ...draft,
        quietHours: quiet === "inherit" ? undefined : quiet === "none" ? { start: "", end: "" } : draft.quietHours,
        updateTime: undefined,
      };
      const query = { query: { updateMask: PREFERENCE_MASK } };
      if (layer === "own") return ((await unwrap(api().PATCH(PATH.own, { params: query, body }))).preferences ?? {}) as Preferences;
      return ((await unwrap(api().PATCH(PATH.defaults, { params: query, body }))).defaults ?? {}) as Preferences;
    },
    onSuccess: (saved) => {
      client.setQueryData(["notification-preferences", organizationId, layer], saved);
      toast.info(layer === "own" ? "Preferences saved" : "Organization defaults saved");
    },
  });
  const error = (field: string) => violationOf(save.error, `${prefix}.${field}`);
  const set = (patch: Partial<Preferences>) => setDraft((d) => ({ ...d, ...patch }));

  const setCell = (type: string, channel: Channel, cell: Cell) => set({ channels: withCell(draft.channels ?? [], type, channel, cell) });
  const inheritedChoice = (type: string, channel: Channel) =>
    resolve([{ ...draft, channels: withCell(draft.channels ?? [], type, channel, { enabled: "TOGGLE_UNSPECIFIED", digest: "DIGEST_UNSPECIFIED" }) }, ...below], type, channel);

  return (
    <form
      aria-label={layer === "own" ? "My preferences" : "Organization defaults"}
      className="flex flex-col gap-6"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <fieldset disabled={!editable} className="flex flex-col gap-6">
        {!editable ? <p className="text-sm text-muted-foreground">Only admins change the organization&apos;s defaults.</p> : null}
        <section aria-labelledby={id("channels-title")} className="flex flex-col gap-2">
          <h2 id={id("channels-title")} className="text-lg font-medium">
            What reaches you, where
          </h2>
          <p className="text-sm text-muted-foreground">
            {layer === "own"
              ? "“Inherit” follows the organization's defaults; your choice for a type wins over your choice for every type."
              : "Members' own choices win over these."}{" "}
            Digests batch low-criticality notifications.
          </p>
          <div className="overflow-x-auto">
            <table className="w-full text-sm">
              <caption className="sr-only">Choices per event type and channel</caption>
              <thead>
                <tr className="border-b border-border text-left">
                  <th scope="col" className="p-2">
                    Event type
                  </th>
                  {CHANNELS.map((c) => (
                    <th key={c.value} scope="col" className="p-2">
                      {c.label}
                    </th>
                  ))}
                  <th scope="col" className="p-2">
                    Webhook
                  </th>
                </tr>
              </thead>
              <tbody>
                {types.map((type) => (
                  <tr key={type} className="border-b border-border" data-event-type={type}>
                    <th scope="row" className="p-2 text-left font-normal">
                      <span className="font-medium">{eventTypeLabel(type)}</span>
                      <span className="block font-mono text-xs text-muted-foreground">{type}</span>
                    </th>
                    {CHANNELS.map((c) => {
                      const cell = cellOf(draft, type, c.value);
                      const base = inheritedChoice(type, c.value);
                      const name = `${eventTypeLabel(type)} · ${c.label}`;
                      return (
                        <td key={c.value} className="p-2">
                          <div className="flex flex-col gap-1">
                            <Select
                              aria-label={name}
                              value={cell.enabled}
                              onChange={(e) => setCell(type, c.value, { ...cell, enabled: e.target.value as Toggle })}
                            >
                              <option value="TOGGLE_UNSPECIFIED">Inherit ({base.enabled ? "on" : "off"})</option>
                              <option value="TOGGLE_ON">On</option>
                              <option value="TOGGLE_OFF">Off</option>
                            </Select>
                            <Select
                              aria-label={`${name} digest`}
                              value={cell.digest}
                              onChange={(e) => setCell(type, c.value, { ...cell, digest: e.target.value as Digest })}
                            >
                              <option value="DIGEST_UNSPECIFIED">Inherit ({digestLabel(base.digest).toLowerCase()})</option>
                              {DIGESTS.map((d) => (
                                <option key={d.value} value={d.value}>
                                  {d.label}
                                </option>
                              ))}
                            </Select>
                          </div>
                        </td>
                      );
                    })}
                    <td className="p-2">
                      <WebhookCell type={type} admin={isAdmin(session?.role)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>

        <section aria-labelledby={id("time-title")} className="grid max-w-3xl grid-cols-1 gap-4 md:grid-cols-2">
          <h2 id={id("time-title")} className="text-lg font-medium md:col-span-2">
            When
          </h2>
          <Field id={id("timezone")} label="Time zone" hint={`Empty inherits (${inherited}).`} error={error("timezone")}>
            <Input id={id("timezone")} list={id("zones")} value={draft.timezone ?? ""} onChange={(e) => set({ timezone: e.target.value })} />
          </Field>
          <datalist id={id("zones")}>
            {zones().map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <Field id={id("locale")} label="Locale" hint="For example en or fr-FR; empty inherits." error={error("locale")}>
            <Input id={id("locale")} value={draft.locale ?? ""} onChange={(e) => set({ locale: e.target.value })} />
          </Field>
          <Field
            id={id("quiet")}
            label="Quiet hours"
            hint="Only critical notifications come through; the rest wait for the end of the window."
            error={error("quiet_hours")}
          >
            <Select id={id("quiet")} value={quiet} onChange={(e) => setQuiet(e.target.value as Quiet)}>
              <option value="inherit">
                Inherit ({(inheritedQuiet && quietWindow(inheritedQuiet.start, inheritedQuiet.end)) || "none"})
              </option>
              <option value="none">None</option>
              <option value="window">A daily window</option>
            </Select>
          </Field>
          {quiet === "window" ? (
            <div className="flex items-end gap-2">
              <Field id={id("quiet-start")} label="From" error={error("quiet_hours.start")}>
                <Input
                  id={id("quiet-start")}
                  type="time"
                  required
                  value={draft.quietHours?.start ?? ""}
                  onChange={(e) => set({ quietHours: { start: e.target.value, end: draft.quietHours?.end ?? "" } })}
                />
              </Field>
              <Field id={id("quiet-end")} label="To" error={error("quiet_hours.end")}>
                <Input
                  id={id("quiet-end")}
                  type="time"
                  required
                  value={draft.quietHours?.end ?? ""}
                  onChange={(e) => set({ quietHours: { start: draft.quietHours?.start ?? "", end: e.target.value } })}
                />
              </Field>
            </div>
          ) : (
            <div />
          )}
          <Field
            id={id("dnd")}
            label="Do not disturb until"
            hint={dndActive(draft.doNotDisturbUntil) ? "On: only critical notifications come through." : "Off. Your browser's time."}
            error={error("do_not_disturb_until")}
          >
            <Input
              id={id("dnd")}
              type="datetime-local"
              value={toLocalInput(draft.doNotDisturbUntil)}
              onChange={(e) => set({ doNotDisturbUntil: fromLocalInput(e.target.value) })}
            />
          </Field>
          <div className="flex items-end gap-2">
            <Button variant="secondary" size="sm" onClick={() => set({ doNotDisturbUntil: new Date(Date.now() + 3_600_000).toISOString() })}>
              For an hour
            </Button>
            <Button variant="secondary" size="sm" onClick={() => set({ doNotDisturbUntil: undefined })}>
              Turn off
            </Button>
          </div>
          <Field id={id("digest-hour")} label="Daily digest at" error={error("digest_hour")}>
            <Select id={id("digest-hour")} value={String(draft.digestHour ?? 0)} onChange={(e) => set({ digestHour: Number(e.target.value) })}>
              {Array.from({ length: 24 }, (_, hour) => (
                <option key={hour} value={hour}>
                  {hour === 0 ? `Inherit (${String(below.find((p) => p.digestHour)?.digestHour ?? 0).padStart(2, "0")}:00)` : `${String(hour).padStart(2, "0")}:00`}
                </option>
              ))}
            </Select>
          </Field>
          <Field id={id("cap")} label="Most per channel per hour" hint="0 inherits (then no cap); critical ones are never held." error={error("hourly_cap")}>
            <Input
              id={id("cap")}
              type="number"
              min={0}
              max={10000}
              value={String(draft.hourlyCap ?? 0)}
              onChange={(e) => set({ hourlyCap: Number(e.target.value) || 0 })}
            />
          </Field>
        </section>
        <ErrorNotice error={save.error} />
        {editable ? (
          <div>
            <Button type="submit" disabled={save.isPending}>
              {layer === "own" ? "Save preferences" : "Save defaults"}
            </Button>
          </div>
        ) : null}
      </fieldset>
    </form>
  );
}

/** Webhooks are the organization's, not a person's channel: the endpoints whose filters take
 * the type (for admins, who see them). */
function WebhookCell({ type, admin }: { type: string; admin: boolean }) {
  const organizationId = useOrganization();
  const endpoints = useQuery({
    queryKey: ["notification-webhooks", organizationId, "all"],
    enabled: admin && !!organizationId,
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/notification/webhooks", { params: { query: { pageSize: 1000 } } }))).endpoints ?? []) as WebhookEndpoint[],
  });
  if (!admin) return <span className="text-xs text-muted-foreground">The organization&apos;s endpoints</span>;
  const taking = (endpoints.data ?? []).filter((e) => !e.disabled && (type === "*" ? (e.eventTypes ?? []).includes("*") : filtersTake(e.eventTypes ?? [], type)));
  return (
    <Link href="/notifications/webhooks" className="text-xs underline-offset-2 hover:underline">
      {taking.length === 1 ? "1 endpoint" : `${taking.length} endpoints`}
    </Link>
  );
}
