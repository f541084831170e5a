"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import {
  type Collection,
  collectionKey,
  collectionsKey,
  type Document,
  filesAsDocuments,
  isFinished,
  type Job,
  JOB_STATES,
  METRICS,
  progressPercent,
  PROVIDERS,
  type VectorHit,
  type VectorSearchMode,
} from "@/lib/embeddings";
import { highlightSpans, utf16Offset } from "@/lib/highlight";
import { roleMayWrite } from "@/lib/roles";
import { ErrorNotice, toast } from "../errors";
import { Table, when } from "../identity/common";
import { Highlighted } from "../highlighted";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { useJobWatch } from "./job-watch";

/** One job's live progress, with Cancel while it runs. */
function JobRow({ jobId, initial, writer }: { jobId: string; initial?: Job; writer: boolean }) {
  const { job, error } = useJobWatch(jobId, initial);
  const cancel = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/embeddings/jobs/{job_id}:cancel", { params: { path: { job_id: jobId } }, body: {} })),
    onError: (caught) => toast.error(caught),
  });
  const percent = job ? progressPercent(job) : 0;
  return (
    <li className="flex flex-col gap-1 rounded-md border border-border p-3" data-job={jobId} aria-label={`Job ${jobId}`}>
      <div className="flex items-center gap-3 text-sm">
        <span className="font-mono text-xs">{jobId}</span>
        <span data-testid="job-state">{JOB_STATES[job?.state ?? "JOB_STATE_UNSPECIFIED"]}</span>
        <span className="text-muted-foreground">
          {job?.doneDocuments ?? 0} of {job?.totalDocuments ?? 0} documents · {job?.unchangedDocuments ?? 0} unchanged · {job?.embeddedChunks ?? 0} chunks
        </span>
        {writer && job && !isFinished(job.state) ? (
          <Button size="sm" variant="secondary" className="ml-auto" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel
          </Button>
        ) : null}
      </div>
      <div role="progressbar" aria-label={`Progress of job ${jobId}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} className="h-2 rounded bg-muted">
        <div className="h-2 rounded bg-primary transition-[width]" style={{ width: `${percent}%` }} />
      </div>
      {job?.error ? <p className="text-xs text-danger">{job.error}</p> : null}
      <ErrorNotice error={error} />
    </li>
  );
}

/** Markdown or text files indexed by a background job. */
function IndexFiles({ collectionId, onStarted }: { collectionId: string; onStarted: (job: Job) => void }) {
  const [files, setFiles] = useState<File[]>([]);
  // A new key empties the file input once its files are sent.
  const [chosen, setChosen] = useState(0);
  const start = useMutation({
    mutationFn: async () => {
      const read = await Promise.all(files.map(async (file) => ({ name: file.webkitRelativePath || file.name, content: await file.text() })));
      return unwrap(
        api().POST("/api/v1/embeddings/collections/{collection_id}/jobs", {
          params: { path: { collection_id: collectionId } },
          body: { documents: filesAsDocuments(read) },
        }),
      );
    },
    onSuccess: (reply) => {
      setFiles([]);
      setChosen((n) => n + 1);
      if (reply.job) onStarted(reply.job as Job);
    },
  });
  return (
    <form
      aria-label="Index files"
      className="flex flex-wrap items-end gap-3"
      onSubmit={(event) => {
        event.preventDefault();
        start.mutate();
      }}
    >
      <Field id="index-files" label="Markdown or text files" hint="Each file a document; its path is its id, so indexing it again replaces it">
        <Input key={chosen} id="index-files" type="file" multiple accept=".md,.markdown,.txt,text/markdown,text/plain" onChange={(e) => setFiles([...(e.target.files ?? [])])} />
      </Field>
      <Button type="submit" disabled={start.isPending || files.length === 0}>
        {files.length ? `Index ${files.length} file${files.length === 1 ? "" : "s"}` : "Index files"}
      </Button>
      <ErrorNotice error={start.error} />
    </form>
  );
}

function HitText({ hit }: { hit: VectorHit }) {
  const text = hit.chunk?.text ?? "";
  // The service's offsets count code points; a JavaScript string counts UTF-16 units.
  const spans = (hit.highlights ?? []).map((h) => ({ start: utf16Offset(text, h.start ?? 0), end: utf16Offset(text, h.end ?? 0) }));
  return <Highlighted segments={highlightSpans(text, spans)} />;
}

function Search({ collectionId }: { collectionId: string }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<VectorSearchMode>("SEARCH_MODE_HYBRID");
  const search = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/embeddings/collections/{collection_id}:search", {
          params: { path: { collection_id: collectionId } },
          body: { query, mode, k: 10, highlight: true },
        }),
      ),
  });
  return (
    <section aria-label="Search the collection" className="flex flex-col gap-3">
      <h2 className="font-medium">Search</h2>
      <form
        role="search"
        className="flex flex-wrap items-end gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          search.mutate();
        }}
      >
        <div className="min-w-72 flex-1">
          <Field id="vector-query" label="Query">
            <Input id="vector-query" value={query} onChange={(e) => setQuery(e.target.value)} />
          </Field>
        </div>
        <Field id="vector-mode" label="Mode">
          <Select id="vector-mode" value={mode} onChange={(e) => setMode(e.target.value as VectorSearchMode)}>
            <option value="SEARCH_MODE_HYBRID">Hybrid (vectors and BM25, fused)</option>
            <option value="SEARCH_MODE_VECTOR">Vectors only</option>
          </Select>
        </Field>
        <Button type="submit" disabled={search.isPending || !query.trim()}>
          Search
        </Button>
      </form>
      <ErrorNotice error={search.error} />
      {search.data ? (
        <ol aria-label="Hits" className="flex flex-col gap-2">
          {(search.data.hits ?? []).map((hit) => (
            <li key={`${hit.chunk?.documentId}-${hit.chunk?.index}`} className="flex flex-col gap-1 rounded-md border border-border p-3">
              <div className="flex flex-wrap items-baseline gap-2 text-sm">
                <span className="font-medium">{hit.title || hit.chunk?.documentId}</span>
                {hit.chunk?.headingPath?.length ? <span className="text-xs text-muted-foreground">{hit.chunk.headingPath.join(" › ")}</span> : null}
                <span className="ml-auto text-xs text-muted-foreground">
                  score {hit.score?.toFixed(4)}
                  {hit.vectorRank ? ` · vector #${hit.vectorRank}` : ""}
                  {hit.textRank ? ` · BM25 #${hit.textRank}` : ""}
                </span>
              </div>
              <p className="whitespace-pre-wrap text-sm">
                <HitText hit={hit} />
              </p>
            </li>
          ))}
          {search.data.hits?.length === 0 ? <p className="text-sm text-muted-foreground">No hits.</p> : null}
        </ol>
      ) : null}
    </section>
  );
}

/** One collection: its settings, documents, indexing jobs with live progress, and search. */
export function CollectionPage({ collectionId }: { collectionId: string }) {
  const { session } = useSession();
  const client = useQueryClient();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const writer = roleMayWrite(session?.role);
  const collection = useQuery({
    queryKey: collectionKey(collectionId),
    queryFn: async () =>
      (await unwrap(api().GET("/api/v1/embeddings/collections/{collection_id}", { params: { path: { collection_id: collectionId } } }))).collection as Collection,
  });
  const documents = useQuery({
    queryKey: [...collectionKey(collectionId), "documents"],
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/embeddings/collections/{collection_id}/documents", { params: { path: { collection_id: collectionId }, query: { pageSize: 200 } } })))
        .documents ?? []) as Document[],
  });
  // Jobs have no listing: those started here, and the one the address names (a reload).
  const [started, setStarted] = useState<Job[]>([]);
  const named = params.get("job") ?? "";
  const jobIds = [...started.map((j) => j.id ?? ""), ...(named && !started.some((j) => j.id === named) ? [named] : [])];
  const remove = useMutation({
    mutationFn: () =>
      unwrap(api().DELETE("/api/v1/embeddings/collections/{collection_id}", { params: { path: { collection_id: collectionId }, query: { etag: collection.data?.etag } } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: collectionsKey });
      router.push("/embeddings");
    },
    onError: (error) => toast.error(error),
  });
  const c = collection.data;
  return (
    <div className="flex flex-col gap-4">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
        <Link href="/embeddings" className="hover:underline">
          Embeddings
        </Link>
      </nav>
      <div className="flex items-baseline gap-3">
        <h1 className="text-2xl font-semibold">{c?.name ?? "Collection"}</h1>
        {c ? (
          <span className="text-sm text-muted-foreground">
            {c.model} · {PROVIDERS[c.provider ?? "PROVIDER_UNSPECIFIED"]} · {c.dimensions} dimensions · {METRICS[c.metric ?? "METRIC_UNSPECIFIED"]} · chunks of{" "}
            {c.chunking?.maxTokens || "the model's limit in"} tokens, {c.chunking?.overlapTokens ?? 0} overlap{c.chunking?.markdown ? ", Markdown-aware" : ""}
          </span>
        ) : null}
        {writer && c ? (
          <Button size="sm" variant="ghost" className="ml-auto" onClick={() => remove.mutate()} disabled={remove.isPending}>
            Delete collection
          </Button>
        ) : null}
      </div>
      {c?.description ? <p className="text-sm text-muted-foreground">{c.description}</p> : null}
      <ErrorNotice error={collection.error} />
      <section aria-label="Indexing jobs" className="flex flex-col gap-3">
        <h2 className="font-medium">Indexing</h2>
        {writer ? (
          <IndexFiles
            collectionId={collectionId}
            onStarted={(job) => {
              setStarted((jobs) => [job, ...jobs]);
              router.replace(`${pathname}?job=${job.id}`);
            }}
          />
        ) : null}
        <ul className="flex flex-col gap-2">
          {jobIds.map((id) => (
            <JobRow key={id} jobId={id} initial={started.find((j) => j.id === id)} writer={writer} />
          ))}
        </ul>
      </section>
      <section aria-label="Documents" className="flex flex-col gap-2">
        <h2 className="font-medium">Documents ({c?.documentCount ?? 0})</h2>
        <ErrorNotice error={documents.error} />
        <Table caption="Documents" head={["Id", "Title", "Chunks", "Tokens", "Indexed"]}>
          {(documents.data ?? []).map((d) => (
            <tr key={d.id} className="border-b border-border">
              <td className="p-2 font-mono text-xs">{d.id}</td>
              <td className="p-2">{d.title}</td>
              <td className="p-2">{d.chunkCount}</td>
              <td className="p-2">{d.tokenCount}</td>
              <td className="p-2">{when(d.updateTime)}</td>
            </tr>
          ))}
        </Table>
      </section>
      <Search collectionId={collectionId} />
    </div>
  );
}
