"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { api, unwrap } from "@/lib/api";
import { accessIn, type Page, pageKey } from "@/lib/knowledge";
import { ErrorNotice, toast } from "../errors";
import { when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Checkbox } from "../ui/checkbox";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "../ui/tabs";
import { Comments } from "./comments";
import { usePage, useSpace } from "./queries";

// The editor (markdown-it, DOMPurify) and the revisions load when their tab is first shown.
const Editor = dynamic(() => import("./editor"), { ssr: false });
const Revisions = dynamic(() => import("./revisions"), { ssr: false });

/** The runbook's steps, checkable by a writer. */
function Steps({ page, writer }: { page: Page; writer: boolean }) {
  const client = useQueryClient();
  const check = useMutation({
    mutationFn: ({ stepId, checked }: { stepId: string; checked: boolean }) =>
      unwrap(
        api().POST("/api/v1/knowledge/pages/{page_id}/steps/{step_id}:check", {
          params: { path: { page_id: page.id ?? "", step_id: stepId } },
          body: { checked },
        }),
      ),
    onSuccess: (reply) => client.setQueryData(pageKey(page.id ?? ""), reply.page as Page),
    onError: (error) => toast.error(error),
  });
  const reset = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/knowledge/pages/{page_id}:resetRunbook", { params: { path: { page_id: page.id ?? "" } }, body: {} })),
    onSuccess: (reply) => client.setQueryData(pageKey(page.id ?? ""), reply.page as Page),
    onError: (error) => toast.error(error),
  });
  const steps = page.steps ?? [];
  const done = steps.filter((s) => s.checked).length;
  return (
    <section aria-label="Runbook steps" className="flex flex-col gap-2 rounded-md border border-border p-4">
      <div className="flex items-center justify-between">
        <h2 className="font-medium">
          Steps <span className="text-sm text-muted-foreground">({done} of {steps.length} done)</span>
        </h2>
        {writer && done > 0 ? (
          <Button size="sm" variant="secondary" onClick={() => reset.mutate()} disabled={reset.isPending}>
            Reset the runbook
          </Button>
        ) : null}
      </div>
      {steps.length === 0 ? <p className="text-sm text-muted-foreground">No steps yet: add them in the editor.</p> : null}
      <ol className="flex flex-col gap-2">
        {steps.map((step, index) => (
          <li key={step.id} className="flex items-start gap-2">
            <Checkbox
              id={`step-${step.id}`}
              checked={!!step.checked}
              disabled={!writer || check.isPending}
              onCheckedChange={(value) => check.mutate({ stepId: step.id ?? "", checked: value === true })}
              aria-label={`Step ${index + 1}: ${step.text}`}
            />
            <label htmlFor={`step-${step.id}`} className={step.checked ? "text-sm text-muted-foreground line-through" : "text-sm"}>
              {index + 1}. {step.text}
            </label>
            {step.checked ? <span className="ml-auto text-xs text-muted-foreground">{when(step.checkTime)}</span> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Backlinks({ pageId }: { pageId: string }) {
  const backlinks = useQuery({
    queryKey: [...pageKey(pageId), "backlinks"],
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/knowledge/pages/{page_id}/backlinks", { params: { path: { page_id: pageId }, query: { pageSize: 100 } } })))
        .pages ?? []) as Page[],
  });
  if (!backlinks.data?.length) return null;
  return (
    <section aria-label="Backlinks" className="flex flex-col gap-1">
      <h2 className="text-sm font-medium">Linked from</h2>
      <ul className="flex flex-wrap gap-2 text-sm">
        {backlinks.data.map((p) => (
          <li key={p.id}>
            <Link href={`/knowledge/pages/${p.id}`} className="underline">
              {p.title}
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The page as readers see it: the HTML the service rendered (sanitized there), its tags,
 * steps, backlinks and comments. */
function Reading({ page, writer }: { page: Page; writer: boolean }) {
  return (
    <div className="flex flex-col gap-6">
      {/* The service renders Markdown with raw HTML off and cleans the result with nh3. */}
      <article className="prose-page max-w-3xl" data-testid="page-html" dangerouslySetInnerHTML={{ __html: page.html ?? "" }} />
      {page.kind === "PAGE_KIND_RUNBOOK" ? <Steps page={page} writer={writer} /> : null}
      <Backlinks pageId={page.id ?? ""} />
      <Comments pageId={page.id ?? ""} />
    </div>
  );
}

const TABS = [
  ["page", "Page"],
  ["edit", "Edit"],
  ["revisions", "Revisions"],
] as const;

/** One page: reading, editing and its revisions, each a tab. */
export function PageView({ pageId }: { pageId: string }) {
  const { session } = useSession();
  const page = usePage(pageId);
  const space = useSpace(page.data?.spaceId ?? "");
  const parent = usePage(page.data?.parentId ?? "");
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const writer = space.data ? accessIn(space.data, session?.role) === "write" : false;
  const tab = params.get("tab") ?? "page";
  const shown = !writer && tab === "edit" ? "page" : tab;
  const data = page.data;
  return (
    <div className="flex flex-col gap-4">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
        <Link href="/knowledge" className="hover:underline">
          Knowledge
        </Link>
        {space.data ? (
          <>
            {" / "}
            <Link href={`/knowledge/spaces/${space.data.id}`} className="hover:underline">
              {space.data.name}
            </Link>
          </>
        ) : null}
        {parent.data ? (
          <>
            {" / "}
            <Link href={`/knowledge/pages/${parent.data.id}`} className="hover:underline">
              {parent.data.title}
            </Link>
          </>
        ) : null}
      </nav>
      <div className="flex flex-wrap items-baseline gap-3">
        <h1 className="text-2xl font-semibold">{data?.title ?? "Page"}</h1>
        {data ? (
          <span className="text-sm text-muted-foreground" data-testid="page-meta">
            {data.kind === "PAGE_KIND_RUNBOOK" ? "Runbook" : "Page"} · revision {data.revision} · updated {when(data.updateTime)}
          </span>
        ) : null}
        <ul aria-label="Tags" className="flex flex-wrap gap-1">
          {(data?.tags ?? []).map((tag) => (
            <li key={`${tag.name}=${tag.value}`}>
              <Link
                href={`/knowledge/search?q=${encodeURIComponent(tag.value ? `[${tag.name}=${tag.value}]` : `[${tag.name}]`)}`}
                className="rounded-full border border-border px-2 py-0.5 text-xs hover:bg-accent"
              >
                {tag.value ? `${tag.name}: ${tag.value}` : tag.name}
              </Link>
            </li>
          ))}
        </ul>
      </div>
      <ErrorNotice error={page.error} />
      {data ? (
        <Tabs value={shown} onValueChange={(value) => router.replace(`${pathname}?tab=${value}`)}>
          <TabsList aria-label="Page sections">
            {TABS.filter(([value]) => writer || value !== "edit").map(([value, label]) => (
              <TabsTrigger key={value} value={value}>
                {label}
              </TabsTrigger>
            ))}
          </TabsList>
          <TabsContent value="page" className="pt-4">
            {shown === "page" ? <Reading page={data} writer={writer} /> : null}
          </TabsContent>
          <TabsContent value="edit" className="pt-4">
            {shown === "edit" ? <Editor key={data.id} page={data} onSaved={() => router.replace(`${pathname}?tab=page`)} /> : null}
          </TabsContent>
          <TabsContent value="revisions" className="pt-4">
            {shown === "revisions" ? <Revisions page={data} writer={writer} /> : null}
          </TabsContent>
        </Tabs>
      ) : null}
    </div>
  );
}
