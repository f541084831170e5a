"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type Collection, collectionsKey, METRICS, type Metric, type Provider, PROVIDERS } from "@/lib/embeddings";
import { roleMayWrite } from "@/lib/roles";
import { ErrorNotice, violationOf } from "../errors";
import { Table, when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Checkbox } from "../ui/checkbox";
import { Field, Input, Select } from "../ui/field";

/** The organization's collections, and a new one with its model, metric and chunking. */
export function Collections() {
  const { session } = useSession();
  const client = useQueryClient();
  const router = useRouter();
  const collections = useQuery({
    queryKey: collectionsKey,
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/embeddings/collections", { params: { query: { pageSize: 1000 } } }))).collections ?? []) as Collection[],
  });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [provider, setProvider] = useState<Provider>("PROVIDER_LOCAL");
  const [model, setModel] = useState("");
  const [metric, setMetric] = useState<Metric>("METRIC_COSINE");
  const [maxTokens, setMaxTokens] = useState("0");
  const [overlapTokens, setOverlapTokens] = useState("0");
  const [markdown, setMarkdown] = useState(true);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/embeddings/collections", {
          body: {
            name,
            description,
            provider,
            model,
            metric,
            chunking: { maxTokens: Number(maxTokens) || 0, overlapTokens: Number(overlapTokens) || 0, markdown },
          },
        }),
      ),
    onSuccess: (reply) => {
      void client.invalidateQueries({ queryKey: collectionsKey });
      router.push(`/embeddings/${reply.collection?.id}`);
    },
  });
  const writer = roleMayWrite(session?.role);
  const violation = (field: string) => violationOf(create.error, field);
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">Embeddings</h1>
      <ErrorNotice error={collections.error} />
      <Table caption="Collections" head={["Name", "Model", "Dimensions", "Metric", "Documents", "Created"]}>
        {(collections.data ?? []).map((c) => (
          <tr key={c.id} className="border-b border-border" data-collection={c.name}>
            <td className="p-2">
              <Link href={`/embeddings/${c.id}`} className="font-medium hover:underline">
                {c.name}
              </Link>
              {c.description ? <span className="block text-xs text-muted-foreground">{c.description}</span> : null}
            </td>
            <td className="p-2">
              {c.model} <span className="text-xs text-muted-foreground">({PROVIDERS[c.provider ?? "PROVIDER_UNSPECIFIED"]})</span>
            </td>
            <td className="p-2">{c.dimensions}</td>
            <td className="p-2">{METRICS[c.metric ?? "METRIC_UNSPECIFIED"]}</td>
            <td className="p-2">{c.documentCount}</td>
            <td className="p-2">{when(c.createTime)}</td>
          </tr>
        ))}
      </Table>
      {collections.data && collections.data.length === 0 ? <p className="text-sm text-muted-foreground">No collections yet.</p> : null}
      {writer ? (
        <form
          aria-label="New collection"
          className="grid max-w-3xl gap-3 rounded-md border border-border p-4 sm:grid-cols-2"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <h2 className="font-medium sm:col-span-2">New collection</h2>
          <Field id="collection-name" label="Name" hint="Letters, digits, _ - ." error={violation("name")}>
            <Input id="collection-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
          </Field>
          <Field id="collection-description" label="Description" error={violation("description")}>
            <Input id="collection-description" value={description} onChange={(e) => setDescription(e.target.value)} />
          </Field>
          <Field id="collection-provider" label="Provider">
            <Select id="collection-provider" value={provider} onChange={(e) => setProvider(e.target.value as Provider)}>
              <option value="PROVIDER_LOCAL">{PROVIDERS.PROVIDER_LOCAL}</option>
              <option value="PROVIDER_AI_SERVICE">{PROVIDERS.PROVIDER_AI_SERVICE}</option>
            </Select>
          </Field>
          <Field id="collection-model" label="Model" hint={provider === "PROVIDER_LOCAL" ? "Empty: all-MiniLM-L6-v2" : "An embeddings model of the AI registry"} error={violation("model")}>
            <Input id="collection-model" value={model} onChange={(e) => setModel(e.target.value)} />
          </Field>
          <Field id="collection-metric" label="Metric">
            <Select id="collection-metric" value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
              <option value="METRIC_COSINE">{METRICS.METRIC_COSINE}</option>
              <option value="METRIC_DOT_PRODUCT">{METRICS.METRIC_DOT_PRODUCT}</option>
              <option value="METRIC_EUCLIDEAN">{METRICS.METRIC_EUCLIDEAN}</option>
            </Select>
          </Field>
          <Field id="collection-max-tokens" label="Chunk size (tokens)" hint="0: the model's limit" error={violation("max_tokens")}>
            <Input id="collection-max-tokens" type="number" min={0} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </Field>
          <Field id="collection-overlap" label="Overlap (tokens)" error={violation("overlap_tokens")}>
            <Input id="collection-overlap" type="number" min={0} value={overlapTokens} onChange={(e) => setOverlapTokens(e.target.value)} />
          </Field>
          <div className="flex items-center gap-2 self-end pb-2">
            <Checkbox id="collection-markdown" checked={markdown} onCheckedChange={(v) => setMarkdown(v === true)} />
            <label htmlFor="collection-markdown" className="text-sm">
              Respect Markdown headings and code blocks
            </label>
          </div>
          {!violation("name") && !violation("model") ? (
            <div className="sm:col-span-2">
              <ErrorNotice error={create.error} />
            </div>
          ) : null}
          <div className="sm:col-span-2">
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              Create collection
            </Button>
          </div>
        </form>
      ) : null}
    </div>
  );
}
