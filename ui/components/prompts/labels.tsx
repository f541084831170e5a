"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Lock } from "lucide-react";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { promptChanged } from "@/lib/prompt-queries";
import type { Label, Prompt, PromptVersion } from "@/lib/prompts";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";

const LABEL = /^[a-z][a-z0-9_-]{0,62}$/;

function useMove(prompt: Prompt) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ label, version }: { label: string; version: number }) =>
      unwrap(
        api().POST("/api/v1/prompt/prompts/{prompt_id}/labels/{label}:move", {
          params: { path: { prompt_id: prompt.id ?? "", label } },
          body: { version, etag: prompt.etag },
        }),
      ),
    onSuccess: (reply, { label, version }) => {
      toast.info(`Moved ${label} to version ${version}`);
      promptChanged(client, prompt.id ?? "", reply.prompt as Prompt);
    },
  });
}

function LabelRow({ prompt, label, versions, mayProtected }: { prompt: Prompt; label: Label; versions: PromptVersion[]; mayProtected: boolean }) {
  const client = useQueryClient();
  const [target, setTarget] = useState(label.version ?? 1);
  const move = useMove(prompt);
  const remove = useMutation({
    mutationFn: () =>
      unwrap(
        api().DELETE("/api/v1/prompt/prompts/{prompt_id}/labels/{label}", {
          params: { path: { prompt_id: prompt.id ?? "", label: label.name ?? "" }, query: { etag: prompt.etag ?? "" } },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Removed ${label.name}`);
      promptChanged(client, prompt.id ?? "", reply.prompt as Prompt);
    },
  });
  const fixed = label.name === "latest" || prompt.shared;
  const locked = label.protected && !mayProtected;
  const why = label.name === "latest" ? "latest follows the newest version" : locked ? "Protected: needs prompt.protected_label.write" : undefined;
  return (
    <tr className="border-b border-border" data-label={label.name}>
      <td className="p-2 font-medium">
        <span className="flex items-center gap-1">
          {label.protected ? <Lock className="h-3 w-3" aria-label="protected" /> : null}
          {label.name}
        </span>
      </td>
      <td className="p-2">v{label.version}</td>
      <td className="p-2">{label.previousVersion ? `v${label.previousVersion}` : "—"}</td>
      <td className="p-2 text-muted-foreground">{label.updateTime ? new Date(label.updateTime).toLocaleString() : ""}</td>
      <td className="p-2">
        {fixed ? (
          <span className="text-xs text-muted-foreground">{why ?? "read-only"}</span>
        ) : (
          <div className="flex flex-wrap items-center gap-1">
            <label className="sr-only" htmlFor={`move-${label.name}`}>
              Version for {label.name}
            </label>
            <Select id={`move-${label.name}`} className="w-24" value={target} disabled={locked} onChange={(e) => setTarget(Number(e.target.value))}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </Select>
            <Button size="sm" variant="secondary" disabled={locked || move.isPending || target === label.version} title={why} onClick={() => move.mutate({ label: label.name ?? "", version: target })}>
              Move {label.name}
            </Button>
            {label.previousVersion ? (
              <Button
                size="sm"
                variant="secondary"
                disabled={locked || move.isPending}
                title={why}
                onClick={() => move.mutate({ label: label.name ?? "", version: label.previousVersion ?? 0 })}
              >
                Roll back to v{label.previousVersion}
              </Button>
            ) : null}
            <Button size="sm" variant="ghost" disabled={locked || remove.isPending} title={why} onClick={() => remove.mutate()}>
              Remove
            </Button>
          </div>
        )}
        <ErrorNotice error={move.error ?? remove.error} />
      </td>
    </tr>
  );
}

function NewLabel({ prompt, versions, protectedLabels, mayProtected }: { prompt: Prompt; versions: PromptVersion[]; protectedLabels: string[]; mayProtected: boolean }) {
  const [name, setName] = useState("");
  const [version, setVersion] = useState(versions[0]?.version ?? 1);
  const [error, setError] = useState<string>();
  const move = useMove(prompt);
  const existing = new Set((prompt.labels ?? []).map((l) => l.name));
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    if (!LABEL.test(name)) return setError("Lowercase: a letter, then letters, digits, _ or -");
    if (name === "latest") return setError("latest is the service's");
    if (existing.has(name)) return setError("Already on a version: move it above");
    setError(undefined);
    move.mutate({ label: name, version }, { onSuccess: () => setName("") });
  };
  return (
    <form onSubmit={submit} className="flex items-end gap-2" noValidate aria-label="Add a label">
      <div className="w-56">
        <Field id="label-name" label="New label" error={error ?? violationOf(move.error, "label")} hint={protectedLabels.includes(name) && !mayProtected ? "Protected: only admins may set it" : undefined}>
          <Input id="label-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="production" />
        </Field>
      </div>
      <div className="w-28">
        <Field id="label-version" label="On version">
          <Select id="label-version" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </Select>
        </Field>
      </div>
      <Button type="submit" disabled={move.isPending}>
        Add label
      </Button>
      <ErrorNotice error={move.error} />
    </form>
  );
}

function Policy() {
  const client = useQueryClient();
  const policy = useQuery({ queryKey: ["label-policy"], queryFn: () => unwrap(api().GET("/api/v1/prompt/labelPolicy")) });
  const [text, setText] = useState<string>();
  const save = useMutation({
    mutationFn: (labels: string[]) =>
      unwrap(api().PATCH("/api/v1/prompt/labelPolicy", { body: { protectedLabels: labels, etag: policy.data?.policy?.etag } })),
    onSuccess: (reply) => {
      client.setQueryData(["label-policy"], reply);
      void client.invalidateQueries({ queryKey: ["prompt"] });
      toast.info("Saved the protected labels");
      setText(undefined);
    },
  });
  const current = (policy.data?.policy?.protectedLabels ?? []).join(" ");
  return (
    <form
      className="flex items-end gap-2"
      aria-label="Protected labels"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate((text ?? current).split(/[\s,]+/).filter(Boolean));
      }}
    >
      <div className="w-96">
        <Field id="protected-labels" label="Protected labels (the organization's policy)" error={violationOf(save.error, "protected_labels")}>
          <Input id="protected-labels" value={text ?? current} onChange={(e) => setText(e.target.value)} />
        </Field>
      </div>
      <Button type="submit" variant="secondary" disabled={save.isPending || text === undefined}>
        Save policy
      </Button>
      <ErrorNotice error={policy.error ?? save.error} />
    </form>
  );
}

/** The labels on a prompt's versions: move (a move to an older version is the rollback),
 * roll back to where a label was, remove, add; protected labels greyed out for those who may
 * not move them. Owners and admins also edit which labels are protected. */
export default function Labels({ prompt, versions }: { prompt: Prompt; versions: PromptVersion[] }) {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const policy = useQuery({ queryKey: ["label-policy"], queryFn: () => unwrap(api().GET("/api/v1/prompt/labelPolicy")) });
  const protectedLabels = policy.data?.policy?.protectedLabels ?? [];
  return (
    <div className="flex flex-col gap-6">
      <table className="w-full text-sm">
        <caption className="sr-only">Labels</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Label</th>
            <th className="p-2">Version</th>
            <th className="p-2">Before its last move</th>
            <th className="p-2">Moved</th>
            <th className="p-2">Move</th>
          </tr>
        </thead>
        <tbody>
          {(prompt.labels ?? []).map((label) => (
            <LabelRow key={label.name} prompt={prompt} label={label} versions={versions} mayProtected={admin} />
          ))}
        </tbody>
      </table>
      {!prompt.shared ? <NewLabel prompt={prompt} versions={versions} protectedLabels={protectedLabels} mayProtected={admin} /> : null}
      {admin ? <Policy /> : null}
    </div>
  );
}
