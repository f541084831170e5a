"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { CAPABILITIES, type Capability, kindLabel, type Model, type Provider, PROVIDER_KINDS, type ProviderKind } from "@/lib/ai";
import type { Secret } from "@/lib/secrets";
import { formatDecimal } from "@/lib/usage";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, Section } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";

export const AI_TABS = [
  { href: "/ai", label: "Providers and models" },
  { href: "/ai/playground", label: "Playground" },
];

const DECIMAL = /^[0-9]{1,18}(\.[0-9]{1,12})?$/;

export function useProviders() {
  return useQuery({
    queryKey: ["ai-providers"],
    queryFn: () => unwrap(api().GET("/api/v1/ai/providers", { params: { query: { pageSize: 1000 } } })).then((r) => (r.providers ?? []) as Provider[]),
  });
}

export function useModels() {
  return useQuery({
    queryKey: ["ai-models"],
    queryFn: () => unwrap(api().GET("/api/v1/ai/models", { params: { query: { pageSize: 1000 } } })).then((r) => (r.models ?? []) as Model[]),
  });
}

function CreateProvider({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ProviderKind>("PROVIDER_KIND_OPENAI_COMPATIBLE");
  const [baseUrl, setBaseUrl] = useState("");
  const [apiVersion, setApiVersion] = useState("");
  const [secretId, setSecretId] = useState("");
  // The API keys the admin may read: a provider's key is read with the caller's rights.
  const keys = useQuery({
    queryKey: ["secrets", "api-keys"],
    queryFn: () =>
      unwrap(api().GET("/api/v1/secret/secrets", { params: { query: { type: "SECRET_TYPE_API_KEY", pageSize: 1000 } } })).then(
        (r) => (r.secrets ?? []) as Secret[],
      ),
  });
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/ai/providers", {
          body: { name, kind, baseUrl, ...(kind === "PROVIDER_KIND_AZURE_OPENAI" ? { apiVersion } : {}), credentialSecretId: secretId },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Added provider ${reply.provider?.name}`);
      void client.invalidateQueries({ queryKey: ["ai-providers"] });
      onDone();
    },
  });
  return (
    <form
      className="grid grid-cols-2 gap-3 rounded-md border border-border p-3"
      aria-label="New provider"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <Field id="provider-name" label="Name" hint="Shown in usage: openai, azure-eu" error={violationOf(create.error, "name")}>
        <Input id="provider-name" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id="provider-kind" label="Protocol">
        <Select id="provider-kind" value={kind} onChange={(e) => setKind(e.target.value as ProviderKind)}>
          {PROVIDER_KINDS.map((k) => (
            <option key={k.value} value={k.value}>
              {k.label}
            </option>
          ))}
        </Select>
      </Field>
      <Field id="provider-url" label="Base URL" hint="Empty: the vendor's default (required for Azure and compatible servers)" error={violationOf(create.error, "base_url")}>
        <Input id="provider-url" type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="http://127.0.0.1:11434/v1" />
      </Field>
      {kind === "PROVIDER_KIND_AZURE_OPENAI" ? (
        <Field id="provider-api-version" label="API version" error={violationOf(create.error, "api_version")}>
          <Input id="provider-api-version" value={apiVersion} onChange={(e) => setApiVersion(e.target.value)} placeholder="2024-10-21" />
        </Field>
      ) : null}
      <Field id="provider-key" label="API key (a secret)" hint="Read from Secret Management at call time, never stored here" error={violationOf(create.error, "credential_secret_id")}>
        <Select id="provider-key" value={secretId} onChange={(e) => setSecretId(e.target.value)}>
          <option value="">None (a server that needs no key)</option>
          {(keys.data ?? []).map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </Select>
      </Field>
      <div className="col-span-2 flex flex-col gap-2">
        <ErrorNotice error={create.error ?? keys.error} />
        <Button type="submit" className="self-start" disabled={!name || create.isPending}>
          Add provider
        </Button>
      </div>
    </form>
  );
}

function CreateModel({ providers, onDone }: { providers: Provider[]; onDone: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [providerId, setProviderId] = useState(providers[0]?.id ?? "");
  const [providerModel, setProviderModel] = useState("");
  const [contextWindow, setContextWindow] = useState("");
  const [maxOutput, setMaxOutput] = useState("");
  const [capabilities, setCapabilities] = useState<Capability[]>(["CAPABILITY_CHAT"]);
  const [input, setInput] = useState("");
  const [output, setOutput] = useState("");
  const [taskTypes, setTaskTypes] = useState("chat");
  const [fallbacks, setFallbacks] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/ai/models", {
          body: {
            name,
            providerId,
            providerModel,
            contextWindow: Number(contextWindow || 0),
            maxOutputTokens: Number(maxOutput || 0),
            capabilities,
            ...(input || output ? { pricing: { ...(input ? { inputPerMillion: input } : {}), ...(output ? { outputPerMillion: output } : {}) } } : {}),
            taskTypes: taskTypes.split(/[\s,]+/).filter(Boolean),
            fallbackModels: fallbacks.split(/[\s,]+/).filter(Boolean),
          },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Added model ${reply.model?.name}`);
      void client.invalidateQueries({ queryKey: ["ai-models"] });
      onDone();
    },
  });
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    if (!name) next.name = "Name the model";
    if (contextWindow && !/^\d+$/.test(contextWindow)) next.contextWindow = "A whole number";
    if (maxOutput && !/^\d+$/.test(maxOutput)) next.maxOutput = "A whole number";
    if (input && !DECIMAL.test(input)) next.input = "A decimal";
    if (output && !DECIMAL.test(output)) next.output = "A decimal";
    setErrors(next);
    if (Object.keys(next).length === 0) create.mutate();
  };
  return (
    <form className="grid grid-cols-3 gap-3 rounded-md border border-border p-3" aria-label="New model" noValidate onSubmit={submit}>
      <Field id="model-name" label="Name callers use" error={errors.name ?? violationOf(create.error, "name")}>
        <Input id="model-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="gpt-4o-mini" />
      </Field>
      <Field id="model-provider" label="Provider" error={violationOf(create.error, "provider_id")}>
        <Select id="model-provider" value={providerId} onChange={(e) => setProviderId(e.target.value)}>
          {providers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </Select>
      </Field>
      <Field id="model-provider-model" label="Provider's name (deployment)" hint="Empty: the same name">
        <Input id="model-provider-model" value={providerModel} onChange={(e) => setProviderModel(e.target.value)} />
      </Field>
      <Field id="model-context" label="Context window (tokens)" hint="Empty: the catalog's" error={errors.contextWindow ?? violationOf(create.error, "context_window")}>
        <Input id="model-context" inputMode="numeric" value={contextWindow} onChange={(e) => setContextWindow(e.target.value)} />
      </Field>
      <Field id="model-max-output" label="Max output tokens" hint="Empty: 4,096" error={errors.maxOutput ?? violationOf(create.error, "max_output_tokens")}>
        <Input id="model-max-output" inputMode="numeric" value={maxOutput} onChange={(e) => setMaxOutput(e.target.value)} />
      </Field>
      <Field id="model-tasks" label="Task types" hint="Routing: chat code summarize">
        <Input id="model-tasks" value={taskTypes} onChange={(e) => setTaskTypes(e.target.value)} />
      </Field>
      <Field id="model-input-price" label="USD per 1M input tokens" hint="Empty: the catalog's price" error={errors.input ?? violationOf(create.error, "input_per_million")}>
        <Input id="model-input-price" inputMode="decimal" value={input} onChange={(e) => setInput(e.target.value)} />
      </Field>
      <Field id="model-output-price" label="USD per 1M output tokens" error={errors.output ?? violationOf(create.error, "output_per_million")}>
        <Input id="model-output-price" inputMode="decimal" value={output} onChange={(e) => setOutput(e.target.value)} />
      </Field>
      <Field id="model-fallbacks" label="Fallback models, in order" error={violationOf(create.error, "fallback_models")}>
        <Input id="model-fallbacks" value={fallbacks} onChange={(e) => setFallbacks(e.target.value)} />
      </Field>
      <fieldset className="col-span-3 flex flex-wrap gap-4">
        <legend className="text-sm font-medium">Capabilities</legend>
        {CAPABILITIES.map((c) => (
          <label key={c.value} className="flex items-center gap-1 text-sm">
            <input
              type="checkbox"
              checked={capabilities.includes(c.value)}
              onChange={(e) => setCapabilities(e.target.checked ? [...capabilities, c.value] : capabilities.filter((x) => x !== c.value))}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
      <div className="col-span-3 flex flex-col gap-2">
        <ErrorNotice error={create.error} />
        <Button type="submit" className="self-start" disabled={!providerId || create.isPending}>
          Add model
        </Button>
      </div>
    </form>
  );
}

/** The organization's providers (with the secret holding each key) and models (context,
 * capabilities, prices, routing, fallbacks); owners and admins add and delete them. */
export function AiAdmin() {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const client = useQueryClient();
  const providers = useProviders();
  const models = useModels();
  const [creating, setCreating] = useState<"provider" | "model" | null>(null);
  const removeProvider = useMutation({
    mutationFn: (p: Provider) => unwrap(api().DELETE("/api/v1/ai/providers/{provider_id}", { params: { path: { provider_id: p.id ?? "" }, query: { etag: p.etag ?? "" } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["ai-providers"] }),
  });
  const removeModel = useMutation({
    mutationFn: (m: Model) => unwrap(api().DELETE("/api/v1/ai/models/{model_id}", { params: { path: { model_id: m.id ?? "" }, query: { etag: m.etag ?? "" } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["ai-models"] }),
  });
  const providerName = new Map((providers.data ?? []).map((p) => [p.id, p.name]));
  return (
    <Section title="AI" tabs={AI_TABS}>
      <ErrorNotice error={providers.error ?? models.error ?? removeProvider.error ?? removeModel.error} />
      <section aria-label="Providers" className="flex flex-col gap-3">
        <div className="flex items-center justify-between">
          <h2 className="text-lg font-semibold">Providers</h2>
          {admin ? (
            <Button variant="secondary" onClick={() => setCreating(creating === "provider" ? null : "provider")}>
              {creating === "provider" ? "Cancel" : "New provider"}
            </Button>
          ) : null}
        </div>
        {creating === "provider" ? <CreateProvider onDone={() => setCreating(null)} /> : null}
        <table className="w-full text-sm">
          <caption className="sr-only">Providers</caption>
          <thead>
            <tr className="border-b border-border text-left">
              <th className="p-2">Name</th>
              <th className="p-2">Protocol</th>
              <th className="p-2">Base URL</th>
              <th className="p-2">Key</th>
              {admin ? (
                <th className="p-2">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {(providers.data ?? []).map((p) => (
              <tr key={p.id} className="border-b border-border" data-provider={p.name}>
                <td className="p-2 font-medium">{p.name}</td>
                <td className="p-2">{kindLabel(p.kind)}</td>
                <td className="p-2 font-mono text-xs">{p.baseUrl || "vendor default"}</td>
                <td className="p-2">{p.credentialSecretId ? <Link className="underline" href={`/secrets/${p.credentialSecretId}`}>secret</Link> : "none"}</td>
                {admin ? (
                  <td className="p-2 text-right">
                    <Button size="sm" variant="ghost" onClick={() => removeProvider.mutate(p)}>
                      Delete
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
        {providers.isSuccess && providers.data.length === 0 ? <p className="text-sm text-muted-foreground">No providers yet.</p> : null}
      </section>
      <section aria-label="Models" className="flex flex-col gap-3">
        <div className="flex items-center justify-between">
          <h2 className="text-lg font-semibold">Models</h2>
          {admin && providers.data?.length ? (
            <Button variant="secondary" onClick={() => setCreating(creating === "model" ? null : "model")}>
              {creating === "model" ? "Cancel" : "New model"}
            </Button>
          ) : null}
        </div>
        {creating === "model" && providers.data ? <CreateModel providers={providers.data} onDone={() => setCreating(null)} /> : null}
        <table className="w-full text-sm">
          <caption className="sr-only">Models</caption>
          <thead>
            <tr className="border-b border-border text-left">
              <th className="p-2">Name</th>
              <th className="p-2">Provider</th>
              <th className="p-2">Context / output</th>
              <th className="p-2">USD per 1M in / out</th>
              <th className="p-2">Routing</th>
              {admin ? (
                <th className="p-2">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {(models.data ?? []).map((m) => (
              <tr key={m.id} className="border-b border-border" data-model={m.name}>
                <td className="p-2 font-medium">
                  {m.name}
                  <span className="block text-xs text-muted-foreground">
                    {(m.capabilities ?? []).map((c) => CAPABILITIES.find((x) => x.value === c)?.label).join(", ") || "Chat"}
                  </span>
                </td>
                <td className="p-2">
                  {providerName.get(m.providerId) ?? m.providerId}
                  {m.providerModel ? <span className="block text-xs text-muted-foreground">as {m.providerModel}</span> : null}
                </td>
                <td className="p-2">
                  {(m.contextWindow ?? 0).toLocaleString()} / {(m.maxOutputTokens ?? 0).toLocaleString()}
                </td>
                <td className="p-2">
                  ${formatDecimal(m.pricing?.inputPerMillion, 6)} / ${formatDecimal(m.pricing?.outputPerMillion, 6)}
                  <span className="block text-xs text-muted-foreground">
                    {m.pricing?.source === "PRICE_SOURCE_OVERRIDE" ? "organization's" : m.pricing?.source === "PRICE_SOURCE_CATALOG" ? "catalog" : "unknown: free"}
                  </span>
                </td>
                <td className="p-2 text-xs">
                  {(m.taskTypes ?? []).join(", ") || "—"}
                  {m.fallbackModels?.length ? <span className="block text-muted-foreground">then {m.fallbackModels.join(" → ")}</span> : null}
                </td>
                {admin ? (
                  <td className="p-2 text-right">
                    <Button size="sm" variant="ghost" onClick={() => removeModel.mutate(m)}>
                      Delete
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
        {models.isSuccess && models.data.length === 0 ? <p className="text-sm text-muted-foreground">No models yet.</p> : null}
      </section>
    </Section>
  );
}
