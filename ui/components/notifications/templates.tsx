"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, unwrap } from "@/lib/api";
import { CHANNELS, type Channel, eventTypeLabel, parseTemplateData, type Template } from "@/lib/notifications";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, Table, when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";
import { NotificationSection } from "./frame";
import { useOrganization, useRules } from "./queries";

/** Digests are worded like any type, though no rule names them. */
const DIGEST_TYPE = "notification.digest.sent";
const channelLabel = (c: Channel | undefined) => CHANNELS.find((x) => x.value === c)?.label ?? "";

type Target = { eventType: string; channel: Channel; locale: string };

/** The organization's wordings per event type, channel and locale over the built-in ones,
 * with a preview of the draft (or of what applies now) rendered with sample data. */
export function Templates() {
  const organizationId = useOrganization();
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const rules = useRules();
  const client = useQueryClient();
  const key = ["notification-templates", organizationId];
  const templates = useQuery({
    queryKey: key,
    enabled: !!organizationId,
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/notification/templates", { params: { query: { pageSize: 1000 } } }))).templates ?? []) as Template[],
  });
  const types = useMemo(() => [...(rules.data ?? []).map((r) => r.eventType ?? "").filter(Boolean), DIGEST_TYPE], [rules.data]);
  const [target, setTarget] = useState<Target>({ eventType: "planning.task.assigned", channel: "CHANNEL_IN_APP", locale: "" });
  const stored = templates.data?.find(
    (t) => t.eventType === target.eventType && t.channel === target.channel && (t.locale ?? "") === target.locale,
  );
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api().DELETE("/api/v1/notification/templates/{template_id}", { params: { path: { template_id: id } } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: key });
      toast.info("Template deleted: the built-in wording applies again");
    },
    onError: (error) => toast.error(error),
  });
  return (
    <NotificationSection title="Notification templates">
      <section aria-labelledby="overrides" className="flex flex-col gap-2">
        <h2 id="overrides" className="text-lg font-medium">
          The organization&apos;s wordings
        </h2>
        <ErrorNotice error={templates.error} />
        <Table caption="The organization's templates" head={["Event type", "Channel", "Locale", "Title", "Changed", ""]}>
          {(templates.data ?? []).map((t) => (
            <tr key={t.id} className="border-b border-border" data-template={t.id}>
              <td className="p-2 font-mono text-xs">{t.eventType}</td>
              <td className="p-2">{channelLabel(t.channel)}</td>
              <td className="p-2">{t.locale || "every locale"}</td>
              <td className="p-2">{t.title}</td>
              <td className="p-2 text-muted-foreground">{when(t.updateTime)}</td>
              <td className="flex gap-2 p-2">
                <Button
                  size="sm"
                  variant="secondary"
                  onClick={() => setTarget({ eventType: t.eventType, channel: t.channel ?? "CHANNEL_IN_APP", locale: t.locale ?? "" })}
                >
                  Edit
                </Button>
                {admin ? (
                  <Button size="sm" variant="ghost" onClick={() => remove.mutate(t.id ?? "")} aria-label={`Delete ${t.id}`}>
                    Delete
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
          {templates.isSuccess && templates.data.length === 0 ? (
            <tr>
              <td colSpan={6} className="p-3 text-muted-foreground">
                None: every notification uses the built-in wording.
              </td>
            </tr>
          ) : null}
        </Table>
      </section>
      <div className="grid max-w-3xl grid-cols-1 gap-3 md:grid-cols-3">
        <Field id="template-type" label="Event type">
          <Select id="template-type" value={target.eventType} onChange={(e) => setTarget({ ...target, eventType: e.target.value })}>
            {types.map((t) => (
              <option key={t} value={t}>
                {eventTypeLabel(t)} ({t})
              </option>
            ))}
          </Select>
        </Field>
        <Field id="template-channel" label="Channel">
          <Select id="template-channel" value={target.channel} onChange={(e) => setTarget({ ...target, channel: e.target.value as Channel })}>
            {CHANNELS.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="template-locale" label="Locale" hint="fr, en-GB…; empty for every locale without its own">
          <Input id="template-locale" value={target.locale} onChange={(e) => setTarget({ ...target, locale: e.target.value.trim() })} />
        </Field>
      </div>
      <TemplateEditor
        key={`${target.eventType}~${target.channel}~${target.locale}~${stored?.updateTime ?? ""}`}
        target={target}
        stored={stored}
        editable={admin}
        onSaved={() => void client.invalidateQueries({ queryKey: key })}
      />
    </NotificationSection>
  );
}

function TemplateEditor({ target, stored, editable, onSaved }: { target: Target; stored?: Template; editable: boolean; onSaved: () => void }) {
  const [title, setTitle] = useState(stored?.title ?? "");
  const [body, setBody] = useState(stored?.body ?? "");
  const [html, setHtml] = useState(stored?.html ?? "");
  const [data, setData] = useState("");
  const [timezone, setTimezone] = useState("");
  const email = target.channel === "CHANNEL_EMAIL";
  const draft = { eventType: target.eventType, channel: target.channel, locale: target.locale, title, body, html: email ? html : "" };

  const preview = useMutation({
    mutationFn: async (withDraft: boolean) => {
      const parsed = parseTemplateData(data);
      if (parsed.error) throw new Error(parsed.error);
      return (
        await unwrap(
          api().POST("/api/v1/notification/templates:preview", {
            body: {
              eventType: target.eventType,
              channel: target.channel,
              locale: target.locale,
              timezone,
              ...(withDraft ? { draft } : {}),
              ...(parsed.data ? { data: parsed.data } : {}),
            },
          }),
        )
      ).rendered;
    },
  });
  const save = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/notification/templates", { body: draft })),
    onSuccess: () => {
      toast.info("Template saved");
      onSaved();
    },
  });
  const rendered = preview.data;
  return (
    <div className="grid grid-cols-1 gap-6 xl:grid-cols-2">
      <form
        aria-label="Template"
        className="flex flex-col gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <p className="text-sm text-muted-foreground">
          {stored ? "The organization's own wording." : "No wording of the organization's here: the built-in one applies."} Jinja, sandboxed:{" "}
          <code>{"{{ actor.name }}"}</code>, <code>{"{{ recipient.name }}"}</code>, <code>{"{{ link }}"}</code>, the event&apos;s fields (
          <code>{"{{ task.title }}"}</code>) and the filters <code>datetime</code>, <code>date</code>, <code>number</code>.
        </p>
        <fieldset disabled={!editable} className="flex flex-col gap-3">
          <Field id="template-title" label={email ? "Subject" : "Title"} error={violationOf(save.error, "template.title")}>
            <Input id="template-title" required value={title} onChange={(e) => setTitle(e.target.value)} />
          </Field>
          <Field id="template-body" label="Body" error={violationOf(save.error, "template.body")}>
            <Textarea id="template-body" className="min-h-32 font-mono" value={body} onChange={(e) => setBody(e.target.value)} />
          </Field>
          {email ? (
            <Field id="template-html" label="HTML body" hint="Empty derives it from the text." error={violationOf(save.error, "template.html")}>
              <Textarea id="template-html" className="min-h-32 font-mono" value={html} onChange={(e) => setHtml(e.target.value)} />
            </Field>
          ) : null}
          <ErrorNotice error={save.error} />
          {editable ? (
            <div>
              <Button type="submit" disabled={save.isPending}>
                Save template
              </Button>
            </div>
          ) : (
            <p className="text-sm text-muted-foreground">Only admins change templates.</p>
          )}
        </fieldset>
      </form>
      <section aria-label="Template preview" className="flex flex-col gap-3">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
          <Field id="preview-timezone" label="Time zone" hint="Empty for UTC">
            <Input id="preview-timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)} />
          </Field>
          <Field id="preview-data" label="Data (JSON)" hint="Empty for the event type's sample; each top-level key given replaces the sample's" error={violationOf(preview.error, "data")}>
            <Textarea id="preview-data" className="min-h-16 font-mono" value={data} onChange={(e) => setData(e.target.value)} />
          </Field>
        </div>
        <div className="flex gap-2">
          <Button onClick={() => preview.mutate(true)} disabled={preview.isPending || !title}>
            Preview the draft
          </Button>
          <Button variant="secondary" onClick={() => preview.mutate(false)} disabled={preview.isPending}>
            Preview what applies now
          </Button>
        </div>
        {violationOf(preview.error, "draft") ? (
          <p role="alert" className="text-sm text-danger" data-testid="preview-error">
            {violationOf(preview.error, "draft")}
          </p>
        ) : (
          <ErrorNotice error={preview.error} />
        )}
        {rendered ? (
          <div className="flex flex-col gap-2 rounded-md border border-border p-4" data-testid="template-preview">
            <p className="font-medium" data-testid="preview-title">
              {rendered.title}
            </p>
            <p className="whitespace-pre-line text-sm" data-testid="preview-body">
              {rendered.body}
            </p>
            {email && rendered.html ? (
              <iframe title="HTML body preview" sandbox="" srcDoc={rendered.html} className="h-64 w-full rounded border border-border bg-white" />
            ) : null}
          </div>
        ) : null}
      </section>
    </div>
  );
}
