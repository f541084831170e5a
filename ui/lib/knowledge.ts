/** Knowledge Base types and the logic of its pages: a page's subtree, what a role may do in a
 * space, tags as text, the query's words for highlights, comment threads. */
import type { Schemas } from "./api";
import { roleMayWrite } from "./roles";

type Named<T> = Exclude<T, number>;

export type SpaceAccess = Named<Schemas["coder.knowledge.v1.SpaceAccess"]>;
export type PageKind = Named<Schemas["coder.knowledge.v1.PageKind"]>;
export type SearchMode = Named<Schemas["coder.knowledge.v1.SearchMode"]>;
export type Space = Omit<Schemas["coder.knowledge.v1.Space"], "grants"> & {
  grants?: { role: string; access?: SpaceAccess }[];
};
export type Tag = Schemas["coder.knowledge.v1.Tag"];
export type RunbookStep = Schemas["coder.knowledge.v1.RunbookStep"];
export type Page = Omit<Schemas["coder.knowledge.v1.Page"], "kind"> & { kind?: PageKind };
export type PageRevision = Schemas["coder.knowledge.v1.PageRevision"];
export type Comment = Schemas["coder.knowledge.v1.Comment"];
export type PageTemplate = Omit<Schemas["coder.knowledge.v1.PageTemplate"], "kind"> & { kind?: PageKind };
export type SearchHit = Schemas["coder.knowledge.v1.SearchHit"];

export const knowledgeKey = ["knowledge"] as const;
export const spacesKey = [...knowledgeKey, "spaces"] as const;
export const spaceKey = (spaceId: string) => [...knowledgeKey, "space", spaceId] as const;
export const pagesKey = (spaceId: string) => [...knowledgeKey, "pages", spaceId] as const;
export const pageKey = (pageId: string) => [...knowledgeKey, "page", pageId] as const;
export const binKey = (spaceId: string) => [...knowledgeKey, "bin", spaceId] as const;
export const templatesKey = [...knowledgeKey, "templates"] as const;

export const SEARCH_MODES: { value: SearchMode; label: string }[] = [
  { value: "SEARCH_MODE_HYBRID", label: "Both, fused" },
  { value: "SEARCH_MODE_FULL_TEXT", label: "Full text" },
  { value: "SEARCH_MODE_SEMANTIC", label: "By meaning" },
];

/** What `role` may do in `space`, as the service's SpaceAccess decides: owners and admins
 * always write; a space without grants leaves it to the role's permissions; otherwise only a
 * granted role, at its grant's level. */
export function accessIn(space: Pick<Space, "grants"> | undefined, role: string | undefined): "write" | "read" | "none" {
  if (role === "owner" || role === "admin") return "write";
  const grants = space?.grants ?? [];
  const base = roleMayWrite(role) ? "write" : "read";
  if (grants.length === 0) return base;
  const grant = grants.find((g) => g.role === role);
  if (!grant) return "none";
  if (grant.access === "SPACE_ACCESS_WRITE") return base;
  return "read";
}

/** The ids of `pageId` and every page under it: a page cannot move under one of these. */
export function subtreeIds(pages: Pick<Page, "id" | "parentId">[], pageId: string): Set<string> {
  const found = new Set([pageId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const page of pages) {
      if (page.parentId && found.has(page.parentId) && !found.has(page.id ?? "")) {
        found.add(page.id ?? "");
        grew = true;
      }
    }
  }
  return found;
}

/** Tags as one line of text: `name=value, bare`. */
export function formatTags(tags: Tag[] | undefined): string {
  return (tags ?? []).map((t) => (t.value ? `${t.name}=${t.value}` : t.name)).join(", ");
}

/** The tags of such a line; blanks dropped, the first `=` splits name from value, repeats kept
 * once. */
export function parseTags(text: string): Tag[] {
  const seen = new Set<string>();
  const tags: Tag[] = [];
  for (const part of text.split(",")) {
    const piece = part.trim();
    if (!piece) continue;
    const equals = piece.indexOf("=");
    const tag = equals === -1 ? { name: piece, value: "" } : { name: piece.slice(0, equals).trim(), value: piece.slice(equals + 1).trim() };
    const key = `${tag.name.toLowerCase()}=${tag.value.toLowerCase()}`;
    if (!tag.name || seen.has(key)) continue;
    seen.add(key);
    tags.push(tag);
  }
  return tags;
}

/** The words of a search query to highlight, as the service's full-text side reads it
 * (BookStack syntax): plain words and the words of `"phrases"`; `[tags]` and `{filters}` match
 * no text, so they are left out. Lowercased, distinct. */
export function queryWords(query: string): string[] {
  const words = new Set<string>();
  for (const match of query.matchAll(/"([^"]*)"|\[[^\]]*\]|\{[^}]*\}|(\S+)/g)) {
    const text = match[1] ?? match[2];
    if (text === undefined) continue;
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) words.add(word);
  }
  return [...words];
}

export type Thread<T = Comment> = { start: T; replies: T[] };

/** Comments as threads, oldest thread first, each thread's replies in order. A reply whose
 * thread's start is gone (deleted) opens a thread of its own. */
export function threads<T extends Pick<Comment, "id" | "threadId" | "createTime">>(comments: T[]): Thread<T>[] {
  const byTime = [...comments].sort((a, b) => (a.createTime ?? "").localeCompare(b.createTime ?? "") || (a.id ?? "").localeCompare(b.id ?? ""));
  const starts = new Map<string, Thread<T>>();
  const result: Thread<T>[] = [];
  for (const comment of byTime) {
    const thread = comment.threadId && comment.threadId !== comment.id ? starts.get(comment.threadId) : undefined;
    if (thread) {
      thread.replies.push(comment);
    } else {
      const opened: Thread<T> = { start: comment, replies: [] };
      starts.set(comment.id ?? "", opened);
      result.push(opened);
    }
  }
  return result;
}
