"use client";
import { zodResolver } from "@hookform/resolvers/zod";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { api, unwrap } from "@/lib/api";
import { ErrorNotice, violationOf } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select, Textarea } from "../ui/field";

const PAGE_SIZE = 20;

const projectSchema = z.object({
  name: z.string().min(1, "Name the project").max(200, "At most 200 characters"),
  description: z.string().max(20000),
});

function CreateProject({ open, onOpenChange }: { open: boolean; onOpenChange: (open: boolean) => void }) {
  const client = useQueryClient();
  const router = useRouter();
  const form = useForm<z.infer<typeof projectSchema>>({
    resolver: zodResolver(projectSchema),
    defaultValues: { name: "", description: "" },
  });
  const create = useMutation({
    mutationFn: (values: z.infer<typeof projectSchema>) =>
      unwrap(api().POST("/api/v1/planning/projects", { body: values })),
    onSuccess: (reply) => {
      void client.invalidateQueries({ queryKey: ["projects"] });
      onOpenChange(false);
      form.reset();
      router.push(`/planning/${reply.project?.id}`);
    },
  });
  const { errors } = form.formState;
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent title="New project">
        <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="flex flex-col gap-4" noValidate>
          <Field id="project-name" label="Name" error={errors.name?.message ?? violationOf(create.error, "name")}>
            <Input id="project-name" aria-invalid={!!errors.name} {...form.register("name")} />
          </Field>
          <Field id="project-description" label="Description" error={violationOf(create.error, "description")}>
            <Textarea id="project-description" {...form.register("description")} />
          </Field>
          <ErrorNotice error={create.error} />
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending}>
              Create project
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** The organization's projects: search by name, filter to mine, pages of 20. */
export function ProjectList() {
  const { session } = useSession();
  const params = useSearchParams();
  const router = useRouter();
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [mine, setMine] = useState(false);
  const creating = params.get("new") === "1";
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const projects = useInfiniteQuery({
    queryKey: ["projects", session?.organizationId, query, mine],
    initialPageParam: "",
    queryFn: ({ pageParam }) =>
      unwrap(
        api().GET("/api/v1/planning/projects", {
          params: {
            query: {
              pageSize: PAGE_SIZE,
              pageToken: pageParam,
              namePrefix: query,
              createdBy: mine ? (session?.user.id ?? "") : "",
            },
          },
        }),
      ),
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const rows = projects.data?.pages.flatMap((page) => page.projects ?? []) ?? [];
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (event.key === "c" && !event.metaKey && !event.ctrlKey && !target.closest("input,textarea,select,[role=dialog]")) {
        event.preventDefault();
        router.push("/planning?new=1");
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [router]);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-semibold">Projects</h1>
        <Button onClick={() => router.push("/planning?new=1")} aria-keyshortcuts="c">
          New project
        </Button>
      </div>
      <div className="flex items-end gap-3">
        <div className="w-72">
          <Field id="project-search" label="Search by name">
            <Input id="project-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
          </Field>
        </div>
        <div className="w-48">
          <Field id="project-owner" label="Created by">
            <Select id="project-owner" value={mine ? "me" : "anyone"} onChange={(e) => setMine(e.target.value === "me")}>
              <option value="anyone">Anyone</option>
              <option value="me">Me</option>
            </Select>
          </Field>
        </div>
      </div>
      <ErrorNotice error={projects.error} />
      <ul className="flex flex-col divide-y divide-border rounded-md border border-border" aria-label="Projects">
        {rows.map((project) => (
          <li key={project.id}>
            <Link href={`/planning/${project.id}`} className="block p-3 hover:bg-accent">
              <span className="font-medium">{project.name}</span>
              {project.description ? <span className="block text-sm text-muted-foreground">{project.description}</span> : null}
            </Link>
          </li>
        ))}
        {projects.isSuccess && rows.length === 0 ? <li className="p-3 text-sm text-muted-foreground">No projects yet.</li> : null}
      </ul>
      {projects.hasNextPage ? (
        <Button variant="secondary" onClick={() => void projects.fetchNextPage()} disabled={projects.isFetchingNextPage}>
          Load more
        </Button>
      ) : null}
      <CreateProject open={creating} onOpenChange={(open) => router.replace(open ? "/planning?new=1" : "/planning")} />
    </div>
  );
}
