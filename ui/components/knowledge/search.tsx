"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { highlightWords } from "@/lib/highlight";
import { knowledgeKey, queryWords, SEARCH_MODES, type SearchHit, type SearchMode } from "@/lib/knowledge";
import { ErrorNotice } from "../errors";
import { Highlighted } from "../highlighted";
import { when } from "../identity/common";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { KnowledgeSection } from "./frame";
import { useSpaces } from "./queries";

const MODE_NAMES: Record<string, string> = {
  SEARCH_MODE_FULL_TEXT: "full text",
  SEARCH_MODE_SEMANTIC: "meaning",
  SEARCH_MODE_HYBRID: "both, fused",
};

/** Search: full text with BookStack's syntax, by meaning, or both fused; the query's words
 * marked in each hit's snippet and title. The query lives in the URL. */
export function KnowledgeSearch() {
  const params = useSearchParams();
  const router = useRouter();
  const spaces = useSpaces();
  const q = params.get("q") ?? "";
  const mode = (params.get("mode") ?? "SEARCH_MODE_HYBRID") as SearchMode;
  const spaceId = params.get("space") ?? "";
  const [draft, setDraft] = useState(q);
  const search = useQuery({
    queryKey: [...knowledgeKey, "search", q, mode, spaceId],
    enabled: q.trim() !== "",
    queryFn: () => unwrap(api().GET("/api/v1/knowledge/search", { params: { query: { query: q, mode, spaceId, pageSize: 50 } } })),
  });
  const go = (next: { q?: string; mode?: string; space?: string }) => {
    const query = new URLSearchParams({ q, mode, space: spaceId, ...next });
    for (const [key, value] of [...query.entries()]) if (!value) query.delete(key);
    router.replace(`/knowledge/search?${query}`);
  };
  const words = queryWords(q);
  const spaceName = new Map((spaces.data ?? []).map((s) => [s.id, s.name]));
  const hits = (search.data?.hits ?? []) as SearchHit[];
  return (
    <KnowledgeSection title="Search the knowledge base">
      <form
        role="search"
        aria-label="Search pages"
        className="flex flex-wrap items-end gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          go({ q: draft });
        }}
      >
        <div className="min-w-72 flex-1">
          <Field id="search-query" label="Query" hint='"exact phrase", [tag=value], {in_name:text}, {updated_by:me}, {type:runbook}'>
            <Input id="search-query" value={draft} onChange={(e) => setDraft(e.target.value)} maxLength={1000} />
          </Field>
        </div>
        <Field id="search-mode" label="Mode">
          <Select id="search-mode" value={mode} onChange={(e) => go({ q: draft, mode: e.target.value })}>
            {SEARCH_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="search-space" label="Space">
          <Select id="search-space" value={spaceId} onChange={(e) => go({ q: draft, space: e.target.value })}>
            <option value="">Every space</option>
            {(spaces.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </Select>
        </Field>
        <Button type="submit">Search</Button>
      </form>
      <ErrorNotice error={search.error} />
      {search.data ? (
        <p className="text-sm text-muted-foreground" data-testid="search-summary">
          {hits.length} page{hits.length === 1 ? "" : "s"} found by {MODE_NAMES[search.data.mode ?? ""] ?? "search"}
          {search.data.mode !== mode ? " (the service had no meaning search to add)" : ""}
        </p>
      ) : null}
      <ol aria-label="Results" className="flex flex-col gap-3">
        {hits.map((hit) => (
          <li key={hit.pageId} className="flex flex-col gap-1 rounded-md border border-border p-3" data-hit={hit.title}>
            <div className="flex flex-wrap items-baseline gap-2">
              <Link href={`/knowledge/pages/${hit.pageId}`} className="font-medium hover:underline">
                <Highlighted segments={highlightWords(hit.title ?? "", words)} />
              </Link>
              <span className="text-xs text-muted-foreground">
                {spaceName.get(hit.spaceId) ?? ""} · updated {when(hit.updateTime)}
                {hit.fullTextRank ? ` · full text #${hit.fullTextRank}` : ""}
                {hit.semanticRank ? ` · meaning #${hit.semanticRank}` : ""}
              </span>
            </div>
            <p className="text-sm" data-testid="snippet">
              <Highlighted segments={highlightWords(hit.snippet ?? "", words)} />
            </p>
            {hit.tags?.length ? (
              <p className="text-xs text-muted-foreground">{hit.tags.map((t) => (t.value ? `${t.name}: ${t.value}` : t.name)).join(" · ")}</p>
            ) : null}
          </li>
        ))}
      </ol>
      {search.data && hits.length === 0 ? <p className="text-sm text-muted-foreground">Nothing matches.</p> : null}
    </KnowledgeSection>
  );
}
