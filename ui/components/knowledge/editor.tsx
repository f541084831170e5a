"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useDeferredValue, useMemo, useState } from "react";
import { api, unwrap } from "@/lib/api";
import { isConflict } from "@/lib/errors";
import { formatTags, knowledgeKey, type Page, pageKey, parseTags, type RunbookStep } from "@/lib/knowledge";
import { renderMarkdown } from "@/lib/markdown";
import { ErrorNotice, toast, violationOf } from "../errors";
import { getPage } from "./queries";
import { Button } from "../ui/button";
import { Field, Input, Textarea } from "../ui/field";

/** The steps of a runbook as the editor holds them: text, and the id that keeps a step's check. */
function StepsEditor({ steps, onChange }: { steps: RunbookStep[]; onChange: (steps: RunbookStep[]) => void }) {
  const set = (index: number, text: string) => onChange(steps.map((s, i) => (i === index ? { ...s, text } : s)));
  const move = (index: number, by: number) => {
    const next = [...steps];
    next.splice(index + by, 0, ...next.splice(index, 1));
    onChange(next);
  };
  return (
    <fieldset className="flex flex-col gap-2">
      <legend className="text-sm font-medium">Steps</legend>
      {steps.map((step, index) => (
        <div key={step.id || `new-${index}`} className="flex gap-2">
          <Input aria-label={`Step ${index + 1}`} value={step.text} onChange={(e) => set(index, e.target.value)} maxLength={2000} />
          <Button size="sm" variant="ghost" disabled={index === 0} onClick={() => move(index, -1)} aria-label={`Move step ${index + 1} up`}>
            ↑
          </Button>
          <Button size="sm" variant="ghost" disabled={index === steps.length - 1} onClick={() => move(index, 1)} aria-label={`Move step ${index + 1} down`}>
            ↓
          </Button>
          <Button size="sm" variant="ghost" onClick={() => onChange(steps.filter((_, i) => i !== index))} aria-label={`Remove step ${index + 1}`}>
            Remove
          </Button>
        </div>
      ))}
      <div>
        <Button size="sm" variant="secondary" onClick={() => onChange([...steps, { id: "", text: "" }])}>
          Add step
        </Button>
      </div>
    </fieldset>
  );
}

/** The Markdown editor with a live preview rendered as the service renders; a save carries the
 * etag the editor opened with, so someone else's newer save is never overwritten unasked. */
export default function Editor({ page, onSaved }: { page: Page; onSaved: () => void }) {
  const client = useQueryClient();
  const [base, setBase] = useState(page);
  const [title, setTitle] = useState(page.title ?? "");
  const [markdown, setMarkdown] = useState(page.markdown ?? "");
  const [tags, setTags] = useState(formatTags(page.tags));
  const [steps, setSteps] = useState<RunbookStep[]>((page.steps ?? []).map((s) => ({ id: s.id, text: s.text })));
  const [summary, setSummary] = useState("");
  const deferred = useDeferredValue(markdown);
  const preview = useMemo(() => renderMarkdown(deferred), [deferred]);
  const runbook = page.kind === "PAGE_KIND_RUNBOOK";
  const save = useMutation({
    mutationFn: (etag: string) =>
      unwrap(
        api().PATCH("/api/v1/knowledge/pages/{page_id}", {
          params: {
            path: { page_id: page.id ?? "" },
            query: { updateMask: runbook ? "title,markdown,tags,steps" : "title,markdown,tags", summary },
          },
          body: { title, markdown, tags: parseTags(tags), ...(runbook ? { steps: steps.filter((s) => s.text.trim()) } : {}), etag },
        }),
      ),
    onSuccess: (reply) => {
      client.setQueryData(pageKey(page.id ?? ""), reply.page as Page);
      void client.invalidateQueries({ queryKey: knowledgeKey });
      toast.info(`Saved revision ${reply.page?.revision}`);
      onSaved();
    },
  });
  const theirs = useMutation({
    mutationFn: () => getPage(page.id ?? ""),
    onSuccess: (latest) => {
      client.setQueryData(pageKey(page.id ?? ""), latest);
      setBase(latest);
      setTitle(latest.title ?? "");
      setMarkdown(latest.markdown ?? "");
      setTags(formatTags(latest.tags));
      setSteps((latest.steps ?? []).map((s) => ({ id: s.id, text: s.text })));
      save.reset();
    },
  });
  const overwrite = useMutation({
    mutationFn: () => getPage(page.id ?? ""),
    onSuccess: (latest) => save.mutate(latest.etag ?? ""),
  });
  const conflict = isConflict(save.error);
  return (
    <form
      aria-label="Edit page"
      className="flex flex-col gap-4"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate(base.etag ?? "");
      }}
    >
      <Field id="edit-title" label="Title" error={violationOf(save.error, "title")}>
        <Input id="edit-title" value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={300} />
      </Field>
      <div className="grid gap-4 lg:grid-cols-2">
        <Field id="edit-markdown" label="Markdown" hint="Link another page with [text](page:<id>)" error={violationOf(save.error, "markdown")}>
          <Textarea id="edit-markdown" className="min-h-96 font-mono" value={markdown} onChange={(e) => setMarkdown(e.target.value)} maxLength={200000} />
        </Field>
        <section aria-label="Preview" className="flex flex-col gap-1.5">
          <h2 className="text-sm font-medium">Preview</h2>
          <div className="prose-page min-h-96 rounded-md border border-border p-3" data-testid="preview" dangerouslySetInnerHTML={{ __html: preview }} />
        </section>
      </div>
      <Field id="edit-tags" label="Tags" hint="name=value or name, separated by commas" error={violationOf(save.error, "tags")}>
        <Input id="edit-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
      </Field>
      {runbook ? <StepsEditor steps={steps} onChange={setSteps} /> : null}
      <Field id="edit-summary" label="What changed" error={violationOf(save.error, "summary")}>
        <Input id="edit-summary" value={summary} onChange={(e) => setSummary(e.target.value)} maxLength={500} />
      </Field>
      {conflict ? (
        <div role="alert" className="flex flex-wrap items-center gap-2 rounded-md border border-danger p-3 text-sm">
          <span>Someone else saved this page since you opened it.</span>
          <Button size="sm" variant="secondary" onClick={() => theirs.mutate()} disabled={theirs.isPending}>
            Load their version
          </Button>
          <Button size="sm" variant="danger" onClick={() => overwrite.mutate()} disabled={overwrite.isPending}>
            Overwrite with mine
          </Button>
        </div>
      ) : !violationOf(save.error, "title") && !violationOf(save.error, "markdown") ? (
        <ErrorNotice error={save.error ?? theirs.error ?? overwrite.error} />
      ) : null}
      <div className="flex gap-2">
        <Button type="submit" disabled={save.isPending || !title.trim()}>
          Save
        </Button>
        <Button variant="ghost" onClick={onSaved}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
