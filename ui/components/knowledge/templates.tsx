"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { formatTags, type PageKind, parseTags, templatesKey } from "@/lib/knowledge";
import { roleMayWrite } from "@/lib/roles";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Table } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";
import { KnowledgeSection } from "./frame";
import { useTemplates } from "./queries";

/** The organization's page templates: new pages of any space can start from one. */
export function Templates() {
  const { session } = useSession();
  const client = useQueryClient();
  const templates = useTemplates();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [kind, setKind] = useState<PageKind>("PAGE_KIND_PAGE");
  const [markdown, setMarkdown] = useState("");
  const [tags, setTags] = useState("");
  const [steps, setSteps] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/knowledge/pageTemplates", {
          body: {
            name,
            description,
            kind,
            markdown,
            tags: parseTags(tags),
            steps:
              kind === "PAGE_KIND_RUNBOOK"
                ? steps
                    .split("\n")
                    .map((text) => text.trim())
                    .filter(Boolean)
                    .map((text) => ({ id: "", text }))
                : [],
          },
        }),
      ),
    onSuccess: (reply) => {
      void client.invalidateQueries({ queryKey: templatesKey });
      toast.info(`Created ${reply.pageTemplate?.name}`);
      setName("");
      setDescription("");
      setMarkdown("");
      setTags("");
      setSteps("");
    },
  });
  const remove = useMutation({
    mutationFn: ({ id, etag }: { id: string; etag: string }) =>
      unwrap(api().DELETE("/api/v1/knowledge/pageTemplates/{page_template_id}", { params: { path: { page_template_id: id }, query: { etag } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: templatesKey }),
    onError: (error) => toast.error(error),
  });
  const writer = roleMayWrite(session?.role);
  return (
    <KnowledgeSection title="Page templates">
      <ErrorNotice error={templates.error} />
      <Table caption="Templates" head={["Name", "Kind", "Tags", "Description", ""]}>
        {(templates.data ?? []).map((t) => (
          <tr key={t.id} className="border-b border-border">
            <td className="p-2 font-medium">{t.name}</td>
            <td className="p-2">{t.kind === "PAGE_KIND_RUNBOOK" ? `Runbook (${t.steps?.length ?? 0} steps)` : "Page"}</td>
            <td className="p-2">{formatTags(t.tags)}</td>
            <td className="p-2 text-muted-foreground">{t.description}</td>
            <td className="p-2 text-right">
              {writer ? (
                <Button size="sm" variant="ghost" onClick={() => remove.mutate({ id: t.id ?? "", etag: t.etag ?? "" })} aria-label={`Delete ${t.name}`}>
                  Delete
                </Button>
              ) : null}
            </td>
          </tr>
        ))}
      </Table>
      {templates.data && templates.data.length === 0 ? <p className="text-sm text-muted-foreground">No templates yet.</p> : null}
      {writer ? (
        <form
          aria-label="New template"
          className="flex max-w-3xl flex-col gap-3 rounded-md border border-border p-4"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <h2 className="font-medium">New template</h2>
          <Field id="template-name" label="Name" error={violationOf(create.error, "name")}>
            <Input id="template-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </Field>
          <Field id="template-description" label="Description">
            <Input id="template-description" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />
          </Field>
          <Field id="template-kind" label="Kind">
            <Select id="template-kind" value={kind} onChange={(e) => setKind(e.target.value as PageKind)}>
              <option value="PAGE_KIND_PAGE">Page</option>
              <option value="PAGE_KIND_RUNBOOK">Runbook</option>
            </Select>
          </Field>
          <Field id="template-markdown" label="Markdown" error={violationOf(create.error, "markdown")}>
            <Textarea id="template-markdown" className="font-mono" value={markdown} onChange={(e) => setMarkdown(e.target.value)} />
          </Field>
          <Field id="template-tags" label="Tags" hint="name=value or name, separated by commas" error={violationOf(create.error, "tags")}>
            <Input id="template-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
          </Field>
          {kind === "PAGE_KIND_RUNBOOK" ? (
            <Field id="template-steps" label="Steps" hint="One a line" error={violationOf(create.error, "steps")}>
              <Textarea id="template-steps" value={steps} onChange={(e) => setSteps(e.target.value)} />
            </Field>
          ) : null}
          {!violationOf(create.error, "name") ? <ErrorNotice error={create.error} /> : null}
          <div>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              Create template
            </Button>
          </div>
        </form>
      ) : null}
    </KnowledgeSection>
  );
}
