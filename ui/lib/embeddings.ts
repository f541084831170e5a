/** Embeddings types and the logic of its pages: job progress and states, collection settings
 * as the service reads them, files as documents to index. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type JobState = Named<Schemas["coder.embeddings.v1.JobState"]>;
export type Provider = Named<Schemas["coder.embeddings.v1.Provider"]>;
export type Metric = Named<Schemas["coder.embeddings.v1.Metric"]>;
export type VectorSearchMode = Named<Schemas["coder.embeddings.v1.SearchMode"]>;
export type Collection = Omit<Schemas["coder.embeddings.v1.Collection"], "provider" | "metric"> & { provider?: Provider; metric?: Metric };
export type Job = Omit<Schemas["coder.embeddings.v1.Job"], "state"> & { state?: JobState };
export type Document = Schemas["coder.embeddings.v1.Document"];
export type DocumentInput = Schemas["coder.embeddings.v1.DocumentInput"];
export type VectorHit = Schemas["coder.embeddings.v1.SearchHit"];

export const collectionsKey = ["embeddings", "collections"] as const;
export const collectionKey = (collectionId: string) => ["embeddings", "collection", collectionId] as const;

export const JOB_STATES: Record<JobState, string> = {
  JOB_STATE_UNSPECIFIED: "Unknown",
  JOB_STATE_QUEUED: "Queued",
  JOB_STATE_RUNNING: "Running",
  JOB_STATE_SUCCEEDED: "Succeeded",
  JOB_STATE_FAILED: "Failed",
  JOB_STATE_CANCELLED: "Cancelled",
};

export const PROVIDERS: Record<Provider, string> = {
  PROVIDER_UNSPECIFIED: "Local (default)",
  PROVIDER_LOCAL: "Local model on the CPU",
  PROVIDER_AI_SERVICE: "AI Service (OpenAI-compatible)",
};

export const METRICS: Record<Metric, string> = {
  METRIC_UNSPECIFIED: "Cosine (default)",
  METRIC_COSINE: "Cosine",
  METRIC_DOT_PRODUCT: "Dot product",
  METRIC_EUCLIDEAN: "Euclidean",
};

/** Whether a job has stopped for good (its watch stream ends then). */
export function isFinished(state: JobState | undefined): boolean {
  return state === "JOB_STATE_SUCCEEDED" || state === "JOB_STATE_FAILED" || state === "JOB_STATE_CANCELLED";
}

/** Documents done of the batch, as a whole percent in [0, 100]; a finished empty batch is 100. */
export function progressPercent(job: Pick<Job, "doneDocuments" | "totalDocuments" | "state">): number {
  const total = job.totalDocuments ?? 0;
  if (total <= 0) return job.state === "JOB_STATE_SUCCEEDED" ? 100 : 0;
  return Math.min(100, Math.floor(((job.doneDocuments ?? 0) * 100) / total));
}

/** Files (Markdown or text) as documents: the path is the source id (`/` as `:`, other
 * characters the service refuses as `_`, at most 128), the first `# heading` (or the file
 * name) the title. */
export function filesAsDocuments(files: { name: string; content: string }[]): DocumentInput[] {
  return files.map(({ name, content }) => {
    const heading = /^#\s+(.+)$/m.exec(content)?.[1]?.trim();
    const base = name.split("/").at(-1) ?? name;
    return { id: name.replaceAll("/", ":").replace(/[^0-9A-Za-z_.:@-]/g, "_").slice(0, 128), title: heading || base.replace(/\.(md|markdown|txt)$/i, ""), content, tags: [] };
  });
}
