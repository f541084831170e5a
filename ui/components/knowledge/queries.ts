/** The Knowledge Base's queries, shared by its pages. */
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api";
import { type Page, type PageTemplate, pageKey, pagesKey, type Space, spaceKey, spacesKey, templatesKey } from "@/lib/knowledge";

/** Pages of a list route, 1000 at a time until the last. */
async function everyPage<T>(fetchPage: (pageToken: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const page = await fetchPage(pageToken);
    items.push(...page.items);
    pageToken = page.next ?? "";
  } while (pageToken);
  return items;
}

export function useSpaces() {
  return useQuery({
    queryKey: spacesKey,
    queryFn: () =>
      everyPage(async (pageToken) => {
        const reply = await unwrap(api().GET("/api/v1/knowledge/spaces", { params: { query: { pageSize: 1000, pageToken } } }));
        return { items: (reply.spaces ?? []) as Space[], next: reply.nextPageToken };
      }),
  });
}

export function useSpace(spaceId: string) {
  return useQuery({
    queryKey: spaceKey(spaceId),
    enabled: !!spaceId,
    queryFn: async () =>
      (await unwrap(api().GET("/api/v1/knowledge/spaces/{space_id}", { params: { path: { space_id: spaceId } } }))).space as Space,
  });
}

/** The pages directly under `parentId` (the top of the space when empty). */
export function listChildren(spaceId: string, parentId: string): Promise<Page[]> {
  return everyPage(async (pageToken) => {
    const reply = await unwrap(
      api().GET("/api/v1/knowledge/spaces/{space_id}/pages", {
        params: { path: { space_id: spaceId }, query: { parentId, pageSize: 1000, pageToken } },
      }),
    );
    return { items: (reply.pages ?? []) as Page[], next: reply.nextPageToken };
  });
}

export function useChildren(spaceId: string, parentId: string, enabled = true) {
  return useQuery({ queryKey: [...pagesKey(spaceId), parentId], enabled, queryFn: () => listChildren(spaceId, parentId) });
}

/** Every live page of a space, level by level (each level's lists in parallel). */
export async function allPages(spaceId: string): Promise<Page[]> {
  const pages: Page[] = [];
  let level = [""];
  while (level.length) {
    const found = (await Promise.all(level.map((parent) => listChildren(spaceId, parent)))).flat();
    pages.push(...found);
    level = found.map((p) => p.id ?? "");
  }
  return pages;
}

export async function getPage(pageId: string): Promise<Page> {
  return (await unwrap(api().GET("/api/v1/knowledge/pages/{page_id}", { params: { path: { page_id: pageId } } }))).page as Page;
}

export function usePage(pageId: string) {
  return useQuery({ queryKey: pageKey(pageId), enabled: !!pageId, queryFn: () => getPage(pageId) });
}

export function useTemplates() {
  return useQuery({
    queryKey: templatesKey,
    queryFn: () =>
      everyPage(async (pageToken) => {
        const reply = await unwrap(api().GET("/api/v1/knowledge/pageTemplates", { params: { query: { pageSize: 1000, pageToken } } }));
        return { items: (reply.pageTemplates ?? []) as PageTemplate[], next: reply.nextPageToken };
      }),
  });
}
