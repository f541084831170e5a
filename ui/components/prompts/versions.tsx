"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { promptChanged } from "@/lib/prompt-queries";
import { deletionBlocker, type FieldChange, type Prompt, type PromptVersion, showValue, sideBySide } from "@/lib/prompts";
import { SideBySide } from "../diff";
import { ErrorNotice, toast } from "../errors";
import { AlertDialog, AlertDialogCancel, AlertDialogContent } from "../ui/alert-dialog";
import { Button } from "../ui/button";
import { Field, Select } from "../ui/field";

const CHANGE_KINDS: Record<string, string> = {
  CHANGE_KIND_ADDED: "added",
  CHANGE_KIND_REMOVED: "removed",
  CHANGE_KIND_CHANGED: "changed",
};

function Diff({ promptId, from, to }: { promptId: string; from: number; to: number }) {
  const diff = useQuery({
    queryKey: ["prompt-diff", promptId, from, to],
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/prompt/prompts/{prompt_id}/versions:diff", {
          params: { path: { prompt_id: promptId }, query: { fromVersion: from, toVersion: to } },
        }),
      ),
  });
  if (diff.error) return <ErrorNotice error={diff.error} />;
  if (!diff.data) return <p className="text-sm text-muted-foreground">Comparing…</p>;
  const changes = (diff.data.changes ?? []) as FieldChange[];
  return (
    <div className="flex flex-col gap-4">
      <section aria-label="Content" className="flex flex-col gap-2">
        <h3 className="text-sm font-medium">Content</h3>
        <SideBySide rows={sideBySide(diff.data.contentDiff ?? "")} fromLabel={`version ${from}`} toLabel={`version ${to}`} />
      </section>
      <section aria-label="Variables and model config" className="flex flex-col gap-2">
        <h3 className="text-sm font-medium">Variables and model config</h3>
        {changes.length === 0 ? (
          <p className="text-sm text-muted-foreground">No differences.</p>
        ) : (
          <table className="w-full text-sm">
            <caption className="sr-only">Field changes</caption>
            <thead>
              <tr className="border-b border-border text-left">
                <th className="p-1">Field</th>
                <th className="p-1">Change</th>
                <th className="p-1">Version {from}</th>
                <th className="p-1">Version {to}</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((change) => (
                <tr key={change.path} className="border-b border-border">
                  <td className="p-1 font-mono">{change.path}</td>
                  <td className="p-1">{CHANGE_KINDS[change.kind ?? ""] ?? "—"}</td>
                  <td className="break-all p-1 font-mono text-xs">{showValue(change.before)}</td>
                  <td className="break-all p-1 font-mono text-xs">{showValue(change.after)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {diff.data.commitMessageChanged ? (
        <p className="text-sm">
          Commit messages: “{diff.data.from?.commitMessage || "—"}” → “{diff.data.to?.commitMessage || "—"}”
        </p>
      ) : null}
    </div>
  );
}

/** A prompt's versions newest first, and a side-by-side diff of any two of them. */
export default function Versions({ prompt, versions, onOpen }: { prompt: Prompt; versions: PromptVersion[]; onOpen: (version: number) => void }) {
  const client = useQueryClient();
  const numbers = versions.map((v) => v.version ?? 0);
  const [chosenTo, setTo] = useState(numbers[0] ?? 1);
  const [chosenFrom, setFrom] = useState(numbers[1] ?? numbers[0] ?? 1);
  // A deleted version leaves the choice: compare the newest ones left instead.
  const to = numbers.includes(chosenTo) ? chosenTo : (numbers[0] ?? 1);
  const from = numbers.includes(chosenFrom) ? chosenFrom : (numbers.find((n) => n !== to) ?? to);
  const [confirming, setConfirming] = useState<PromptVersion | null>(null);
  const remove = useMutation({
    mutationFn: (version: PromptVersion) =>
      unwrap(
        api().DELETE("/api/v1/prompt/prompts/{prompt_id}/versions/{version_id}", {
          params: { path: { prompt_id: prompt.id ?? "", version_id: version.id ?? "" } },
        }),
      ),
    onSuccess: (_reply, version) => {
      toast.info(`Deleted version ${version.version}`);
      setConfirming(null);
      promptChanged(client, prompt.id ?? "");
    },
  });
  const blocker = confirming ? deletionBlocker(prompt, versions, confirming.version ?? 0) : null;
  return (
    <div className="flex flex-col gap-6">
      <table className="w-full text-sm">
        <caption className="sr-only">Versions</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Version</th>
            <th className="p-2">Labels</th>
            <th className="p-2">What changed</th>
            <th className="p-2">Created</th>
            <th className="p-2">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {versions.map((version) => (
            <tr key={version.id} className="border-b border-border" data-version={version.version}>
              <td className="p-2 font-medium">v{version.version}</td>
              <td className="p-2">{(version.labels ?? []).join(", ") || "—"}</td>
              <td className="p-2">{version.commitMessage || "—"}</td>
              <td className="p-2 text-muted-foreground">{version.createTime ? new Date(version.createTime).toLocaleString() : ""}</td>
              <td className="flex justify-end gap-1 p-2">
                <Button size="sm" variant="secondary" onClick={() => onOpen(version.version ?? 0)}>
                  Edit from v{version.version}
                </Button>
                {!prompt.shared ? (
                  <Button
                    size="sm"
                    variant="ghost"
                    onClick={() => {
                      remove.reset();
                      setConfirming(version);
                    }}
                    aria-label={`Delete version ${version.version}`}
                  >
                    Delete
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <AlertDialog open={confirming !== null} onOpenChange={(open) => !open && setConfirming(null)}>
        {confirming ? (
          <AlertDialogContent
            title={`Delete version ${confirming.version}?`}
            description={
              <div className="flex flex-col gap-2">
                <p>
                  {blocker ??
                    `Version ${confirming.version}${confirming.commitMessage ? ` (“${confirming.commitMessage}”)` : ""} is gone for good; latest moves to the newest version left.`}
                </p>
                <ErrorNotice error={remove.error} />
              </div>
            }
          >
            <AlertDialogCancel asChild>
              <Button variant="secondary">Keep it</Button>
            </AlertDialogCancel>
            <Button variant="danger" disabled={blocker !== null || remove.isPending} onClick={() => remove.mutate(confirming)}>
              Delete version {confirming.version}
            </Button>
          </AlertDialogContent>
        ) : null}
      </AlertDialog>
      <section aria-label="Compare versions" className="flex flex-col gap-3">
        <h2 className="text-lg font-semibold">Compare</h2>
        <div className="flex items-end gap-3">
          <div className="w-40">
            <Field id="diff-from" label="From version">
              <Select id="diff-from" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    v{n}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
          <div className="w-40">
            <Field id="diff-to" label="To version">
              <Select id="diff-to" value={to} onChange={(e) => setTo(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    v{n}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
        </div>
        <Diff promptId={prompt.id ?? ""} from={from} to={to} />
      </section>
    </div>
  );
}
