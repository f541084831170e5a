"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, FileText, ListChecks } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { accessIn, binKey, type Page, type PageKind, pagesKey, subtreeIds } from "@/lib/knowledge";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Table, when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select } from "../ui/field";
import { allPages, useChildren, useSpace, useTemplates } from "./queries";

function refreshSpace(client: ReturnType<typeof useQueryClient>, spaceId: string) {
  void client.invalidateQueries({ queryKey: pagesKey(spaceId) });
  void client.invalidateQueries({ queryKey: binKey(spaceId) });
}

/** The new-page dialog: title, kind or a template, under `parentId`. */
function NewPage({ spaceId, parent, onClose }: { spaceId: string; parent: Page | null; onClose: () => void }) {
  const client = useQueryClient();
  const router = useRouter();
  const templates = useTemplates();
  const [title, setTitle] = useState("");
  const [kind, setKind] = useState<PageKind>("PAGE_KIND_PAGE");
  const [templateId, setTemplateId] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/knowledge/spaces/{space_id}/pages", {
          params: { path: { space_id: spaceId } },
          body: { page: { title, kind, parentId: parent?.id ?? "" }, pageTemplateId: templateId },
        }),
      ),
    onSuccess: (reply) => {
      refreshSpace(client, spaceId);
      onClose();
      router.push(`/knowledge/pages/${reply.page?.id}?tab=edit`);
    },
  });
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={parent ? `New page under ${parent.title}` : "New page"} description="It opens in the editor.">
        <form
          className="flex flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <Field id="page-title" label="Title" error={violationOf(create.error, "title")}>
            <Input id="page-title" value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={300} />
          </Field>
          <Field id="page-template" label="Template" hint="A template gives the page its kind, content, tags and steps">
            <Select id="page-template" value={templateId} onChange={(e) => setTemplateId(e.target.value)}>
              <option value="">None</option>
              {(templates.data ?? []).map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </Select>
          </Field>
          {!templateId ? (
            <Field id="page-kind" label="Kind">
              <Select id="page-kind" value={kind} onChange={(e) => setKind(e.target.value as PageKind)}>
                <option value="PAGE_KIND_PAGE">Page</option>
                <option value="PAGE_KIND_RUNBOOK">Runbook (checkable steps)</option>
              </Select>
            </Field>
          ) : null}
          {!violationOf(create.error, "title") ? <ErrorNotice error={create.error} /> : null}
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending || !title.trim()}>
              Create page
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** Moves a page (with its subtree) under another page of the space, or to the top. */
function MovePage({ page, onClose }: { page: Page; onClose: () => void }) {
  const client = useQueryClient();
  const spaceId = page.spaceId ?? "";
  const pages = useQuery({ queryKey: [...pagesKey(spaceId), "all"], queryFn: () => allPages(spaceId) });
  const [parentId, setParentId] = useState(page.parentId ?? "");
  const blocked = subtreeIds(pages.data ?? [], page.id ?? "");
  const move = useMutation({
    mutationFn: () =>
      unwrap(
        api().PATCH("/api/v1/knowledge/pages/{page_id}", {
          params: { path: { page_id: page.id ?? "" }, query: { updateMask: "parentId" } },
          body: { parentId, etag: page.etag },
        }),
      ),
    onSuccess: () => {
      refreshSpace(client, spaceId);
      toast.info(`Moved ${page.title}`);
      onClose();
    },
  });
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={`Move ${page.title}`} description="Its pages move with it.">
        <form
          className="flex flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault();
            move.mutate();
          }}
        >
          <ErrorNotice error={pages.error ?? move.error} />
          <Field id="move-parent" label="New parent">
            <Select id="move-parent" value={parentId} onChange={(e) => setParentId(e.target.value)}>
              <option value="">Top of the space</option>
              {(pages.data ?? [])
                .filter((p) => !blocked.has(p.id ?? ""))
                .map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.title}
                  </option>
                ))}
            </Select>
          </Field>
          <div className="flex justify-end">
            <Button type="submit" disabled={move.isPending || !pages.data || parentId === (page.parentId ?? "")}>
              Move
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

type Actions = { onAdd: (parent: Page) => void; onMove: (page: Page) => void; onTrash: (page: Page) => void } | null;

function TreeLevel({ spaceId, parentId, depth, actions }: { spaceId: string; parentId: string; depth: number; actions: Actions }) {
  const children = useChildren(spaceId, parentId);
  if (children.error) return <ErrorNotice error={children.error} />;
  const pages = [...(children.data ?? [])].sort((a, b) => (a.title ?? "").localeCompare(b.title ?? ""));
  if (depth === 0 && children.data && pages.length === 0) return <p className="text-sm text-muted-foreground">No pages yet.</p>;
  return (
    <ul aria-label={depth === 0 ? "Pages" : undefined} className="flex flex-col" data-depth={depth}>
      {pages.map((page) => (
        <TreeItem key={page.id} page={page} depth={depth} actions={actions} />
      ))}
    </ul>
  );
}

function TreeItem({ page, depth, actions }: { page: Page; depth: number; actions: Actions }) {
  const [open, setOpen] = useState(false);
  const Icon = page.kind === "PAGE_KIND_RUNBOOK" ? ListChecks : FileText;
  return (
    <li aria-label={page.title} data-page={page.title}>
      <div className="group flex items-center gap-1 rounded-md py-0.5 pr-1 hover:bg-accent" style={{ paddingLeft: `${depth * 1.25}rem` }}>
        <button type="button" className="rounded p-0.5" aria-label={`Pages under ${page.title}`} aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? <ChevronDown className="h-4 w-4" aria-hidden /> : <ChevronRight className="h-4 w-4" aria-hidden />}
        </button>
        <Icon className="h-4 w-4 text-muted-foreground" aria-hidden />
        <Link href={`/knowledge/pages/${page.id}`} className="flex-1 truncate text-sm hover:underline">
          {page.title}
        </Link>
        {actions ? (
          <span className="flex gap-1 opacity-70 group-hover:opacity-100">
            <Button size="sm" variant="ghost" onClick={() => actions.onAdd(page)} aria-label={`Add a page under ${page.title}`}>
              Add
            </Button>
            <Button size="sm" variant="ghost" onClick={() => actions.onMove(page)} aria-label={`Move ${page.title}`}>
              Move
            </Button>
            <Button size="sm" variant="ghost" onClick={() => actions.onTrash(page)} aria-label={`Trash ${page.title}`}>
              Trash
            </Button>
          </span>
        ) : null}
      </div>
      {open ? <TreeLevel spaceId={page.spaceId ?? ""} parentId={page.id ?? ""} depth={depth + 1} actions={actions} /> : null}
    </li>
  );
}

/** The space's recycle bin: restore (with the pages trashed with it) or purge. */
function RecycleBin({ spaceId, writer }: { spaceId: string; writer: boolean }) {
  const client = useQueryClient();
  const bin = useQuery({
    queryKey: binKey(spaceId),
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/knowledge/recycleBin", { params: { query: { spaceId, pageSize: 1000 } } }))).pages ?? []) as Page[],
  });
  const restore = useMutation({
    mutationFn: (pageId: string) =>
      unwrap(api().POST("/api/v1/knowledge/recycleBin/{page_id}:restore", { params: { path: { page_id: pageId } }, body: {} })),
    onSuccess: (reply) => {
      refreshSpace(client, spaceId);
      toast.info(`Restored ${reply.page?.title} (${reply.restoredPages} page${reply.restoredPages === 1 ? "" : "s"})`);
    },
    onError: (error) => toast.error(error),
  });
  const purge = useMutation({
    mutationFn: (pageId: string) => unwrap(api().DELETE("/api/v1/knowledge/recycleBin/{page_id}", { params: { path: { page_id: pageId } } })),
    onSuccess: () => refreshSpace(client, spaceId),
    onError: (error) => toast.error(error),
  });
  return (
    <section aria-label="Recycle bin" className="flex flex-col gap-2">
      <h2 className="font-medium">Recycle bin</h2>
      <ErrorNotice error={bin.error} />
      {bin.data && bin.data.length === 0 ? <p className="text-sm text-muted-foreground">Empty.</p> : null}
      {bin.data?.length ? (
        <Table caption="Trashed pages" head={["Title", "Trashed", ""]}>
          {bin.data.map((page) => (
            <tr key={page.id} className="border-b border-border" data-trashed={page.title}>
              <td className="p-2">{page.title}</td>
              <td className="p-2">{when(page.trashTime)}</td>
              <td className="p-2 text-right">
                {writer ? (
                  <span className="flex justify-end gap-2">
                    <Button size="sm" variant="secondary" onClick={() => restore.mutate(page.id ?? "")} aria-label={`Restore ${page.title}`}>
                      Restore
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => purge.mutate(page.id ?? "")} aria-label={`Purge ${page.title}`}>
                      Purge
                    </Button>
                  </span>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
    </section>
  );
}

/** One space: its page tree (expand, add under, move, trash), a new page, the recycle bin. */
export function SpacePage({ spaceId }: { spaceId: string }) {
  const { session } = useSession();
  const client = useQueryClient();
  const space = useSpace(spaceId);
  const [adding, setAdding] = useState<Page | null | undefined>(undefined);
  const [moving, setMoving] = useState<Page | null>(null);
  const writer = accessIn(space.data, session?.role) === "write";
  const trash = useMutation({
    mutationFn: (page: Page) =>
      unwrap(api().DELETE("/api/v1/knowledge/pages/{page_id}", { params: { path: { page_id: page.id ?? "" }, query: { etag: page.etag } } })),
    onSuccess: (reply) => {
      refreshSpace(client, spaceId);
      toast.info(`Moved ${reply.trashedPages} page${reply.trashedPages === 1 ? "" : "s"} to the recycle bin`);
    },
    onError: (error) => toast.error(error),
  });
  const actions: Actions = writer ? { onAdd: setAdding, onMove: setMoving, onTrash: (page) => trash.mutate(page) } : null;
  return (
    <div className="flex flex-col gap-4">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
        <Link href="/knowledge" className="hover:underline">
          Knowledge
        </Link>
      </nav>
      <div className="flex items-center justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold">{space.data?.name ?? "Space"}</h1>
          {space.data?.description ? <p className="text-sm text-muted-foreground">{space.data.description}</p> : null}
        </div>
        <div className="flex gap-2">
          <Button asChild variant="secondary">
            <Link href={`/knowledge/search?space=${spaceId}`}>Search this space</Link>
          </Button>
          {writer ? <Button onClick={() => setAdding(null)}>New page</Button> : null}
        </div>
      </div>
      <ErrorNotice error={space.error} />
      {space.data ? <TreeLevel spaceId={spaceId} parentId="" depth={0} actions={actions} /> : null}
      <RecycleBin spaceId={spaceId} writer={writer} />
      {adding !== undefined ? <NewPage spaceId={spaceId} parent={adding} onClose={() => setAdding(undefined)} /> : null}
      {moving ? <MovePage page={moving} onClose={() => setMoving(null)} /> : null}
    </div>
  );
}
