"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { knowledgeKey, type Page, pageKey, type PageRevision } from "@/lib/knowledge";
import { sideBySide } from "@/lib/prompts";
import { SideBySide } from "../diff";
import { ErrorNotice, toast } from "../errors";
import { Table, when } from "../identity/common";
import { Button } from "../ui/button";
import { Field, Select } from "../ui/field";

function Diff({ pageId, from, to }: { pageId: string; from: number; to: number }) {
  const diff = useQuery({
    queryKey: [...pageKey(pageId), "diff", from, to],
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/knowledge/pages/{page_id}/revisions:diff", {
          params: { path: { page_id: pageId }, query: { fromRevision: from, toRevision: to } },
        }),
      ),
  });
  if (diff.error) return <ErrorNotice error={diff.error} />;
  if (!diff.data) return <p className="text-sm text-muted-foreground">Comparing…</p>;
  return (
    <div className="flex flex-col gap-2">
      {diff.data.titleChanged || diff.data.tagsChanged ? (
        <p className="text-sm text-muted-foreground">
          {[diff.data.titleChanged ? "The title changed." : "", diff.data.tagsChanged ? "The tags changed." : ""].filter(Boolean).join(" ")}
        </p>
      ) : null}
      <SideBySide rows={sideBySide(diff.data.unifiedDiff ?? "")} fromLabel={`revision ${from}`} toLabel={`revision ${to}`} />
    </div>
  );
}

function RevisionSelect({ id, label, numbers, value, onChange }: { id: string; label: string; numbers: number[]; value: number; onChange: (n: number) => void }) {
  return (
    <Field id={id} label={label}>
      <Select id={id} value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {numbers.map((n) => (
          <option key={n} value={n}>
            Revision {n}
          </option>
        ))}
      </Select>
    </Field>
  );
}

/** A page's revisions newest first, a side-by-side diff of any two, and restore (a new
 * revision with the old content). */
export default function Revisions({ page, writer }: { page: Page; writer: boolean }) {
  const client = useQueryClient();
  const pageId = page.id ?? "";
  const revisions = useQuery({
    queryKey: [...pageKey(pageId), "revisions", page.revision],
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/knowledge/pages/{page_id}/revisions", { params: { path: { page_id: pageId }, query: { pageSize: 1000 } } })))
        .revisions ?? []) as PageRevision[],
  });
  const current = page.revision ?? 1;
  const [from, setFrom] = useState(Math.max(1, current - 1));
  const [to, setTo] = useState(current);
  const restore = useMutation({
    mutationFn: (revision: number) =>
      unwrap(
        api().POST("/api/v1/knowledge/pages/{page_id}/revisions/{revision}:restore", {
          params: { path: { page_id: pageId, revision } },
          body: { etag: page.etag },
        }),
      ),
    onSuccess: (reply, revision) => {
      client.setQueryData(pageKey(pageId), reply.page as Page);
      void client.invalidateQueries({ queryKey: knowledgeKey });
      toast.info(`Restored revision ${revision} as revision ${reply.page?.revision}`);
      setFrom(revision);
      setTo(reply.page?.revision ?? current);
    },
    onError: (error) => toast.error(error),
  });
  const numbers = (revisions.data ?? []).map((r) => r.revision ?? 0);
  return (
    <div className="flex flex-col gap-6">
      <ErrorNotice error={revisions.error} />
      <Table caption="Revisions" head={["Revision", "Summary", "Author", "When", ""]}>
        {(revisions.data ?? []).map((revision) => (
          <tr key={revision.revision} className="border-b border-border" data-revision={revision.revision}>
            <td className="p-2">{revision.revision}</td>
            <td className="p-2">{revision.summary || "—"}</td>
            <td className="p-2 font-mono text-xs">{revision.author}</td>
            <td className="p-2">{when(revision.createTime)}</td>
            <td className="p-2 text-right">
              {writer && revision.revision !== current ? (
                <Button size="sm" variant="secondary" onClick={() => restore.mutate(revision.revision ?? 0)} disabled={restore.isPending}>
                  Restore revision {revision.revision}
                </Button>
              ) : revision.revision === current ? (
                <span className="text-xs text-muted-foreground">current</span>
              ) : null}
            </td>
          </tr>
        ))}
      </Table>
      {numbers.length > 1 ? (
        <section aria-label="Compare revisions" className="flex flex-col gap-3">
          <div className="flex gap-3">
            <RevisionSelect id="diff-from" label="From" numbers={numbers} value={from} onChange={setFrom} />
            <RevisionSelect id="diff-to" label="To" numbers={numbers} value={to} onChange={setTo} />
          </div>
          <Diff pageId={pageId} from={from} to={to} />
        </section>
      ) : null}
    </div>
  );
}
