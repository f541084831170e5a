/** A job's progress, live: WatchJob's stream (the job now, then each change, ending when it
 * finishes). A dropped stream of an unfinished job is opened again after a backoff. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { backoff } from "@/lib/backoff";
import { collectionKey, collectionsKey, isFinished, type Job } from "@/lib/embeddings";
import { streamGet } from "@/lib/sse";

export function useJobWatch(jobId: string, initial?: Job): { job: Job | undefined; error: unknown } {
  const client = useQueryClient();
  const [job, setJob] = useState<Job | undefined>(initial);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const abort = new AbortController();
    let attempt = 0;
    let last: Job | undefined;
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          await streamGet<{ job?: Job }>(
            `/api/v1/embeddings/jobs/${encodeURIComponent(jobId)}:watch`,
            (message) => {
              attempt = 0;
              last = message.job;
              setJob(message.job);
              setError(null);
            },
            abort.signal,
          );
        } catch (caught) {
          if (abort.signal.aborted) return;
          setError(caught);
        }
        if (isFinished(last?.state)) {
          void client.invalidateQueries({ queryKey: collectionKey(last?.collectionId ?? "") });
          void client.invalidateQueries({ queryKey: collectionsKey });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, backoff(++attempt)));
      }
    };
    void run();
    return () => abort.abort();
  }, [client, jobId]);
  return { job, error };
}
