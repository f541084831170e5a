"use client";
import { useQuery } from "@tanstack/react-query";
import { Folder, Share2 } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { api, unwrap } from "@/lib/api";
import { allPrompts } from "@/lib/prompt-queries";
import { byFolder, foldersOf, overrideOf, type Prompt, promptsKey } from "@/lib/prompts";
import { ErrorNotice } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { cn } from "../ui/cn";

// The dialog (Radix, the form libraries) loads when it first opens.
const CreatePrompt = dynamic(() => import("./create-prompt"), { ssr: false });

function PromptRows({ prompts, shared, own }: { prompts: Prompt[]; shared?: boolean; own?: Prompt[] }) {
  return (
    <ul className="flex flex-col divide-y divide-border rounded-md border border-border">
      {prompts.map((prompt) => (
        <li key={prompt.id}>
          <Link href={`/prompts/${prompt.id}`} className="flex items-baseline gap-3 p-3 hover:bg-accent">
            <span className="font-mono text-sm font-medium">{prompt.name}</span>
            <span className="text-xs text-muted-foreground">
              {prompt.type === "PROMPT_TYPE_CHAT" ? "chat" : "text"} · v{prompt.latestVersion}
              {(prompt.labels ?? [])
                .filter((l) => l.name !== "latest")
                .map((l) => ` · ${l.name}→v${l.version}`)
                .join("")}
            </span>
            {prompt.overridesShared ? <span className="text-xs text-muted-foreground">overrides shared</span> : null}
            {shared && own && overrideOf(prompt, own) ? <span className="text-xs font-medium">overridden by your organization</span> : null}
            {shared ? <Share2 className="ml-auto h-4 w-4 text-muted-foreground" aria-label="Shared" /> : null}
            {prompt.description ? <span className="ml-auto truncate text-sm text-muted-foreground">{prompt.description}</span> : null}
          </Link>
        </li>
      ))}
    </ul>
  );
}

/** The organization's prompts in their folders, and the platform's shared library. */
export function PromptList() {
  const { session } = useSession();
  const params = useSearchParams();
  const router = useRouter();
  const folder = params.get("folder") ?? "";
  const creating = params.get("new") === "1";
  const organization = session?.organizationId ?? "";
  const everything = useQuery({ queryKey: [...promptsKey, organization, ""], queryFn: () => allPrompts("") });
  const inFolder = useQuery({
    queryKey: [...promptsKey, organization, folder],
    queryFn: () => allPrompts(folder),
    enabled: folder !== "",
  });
  const shared = useQuery({
    queryKey: ["shared-prompts"],
    queryFn: () => unwrap(api().GET("/api/v1/prompt/sharedPrompts", { params: { query: { pageSize: 1000 } } })),
  });
  const folders = foldersOf((everything.data ?? []).map((p) => p.name ?? ""));
  const shown = folder ? inFolder.data : everything.data;
  const href = (next: Record<string, string>) => {
    const query = new URLSearchParams({ ...(folder ? { folder } : {}), ...next });
    return `/prompts${query.size ? `?${query}` : ""}`;
  };
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-semibold">Prompts</h1>
        <Button onClick={() => router.push(href({ new: "1" }))}>New prompt</Button>
      </div>
      <div className="flex gap-6">
        <nav aria-label="Folders" className="flex w-48 shrink-0 flex-col gap-1">
          {["", ...folders].map((f) => (
            <Link
              key={f || "(all)"}
              href={f ? `/prompts?folder=${encodeURIComponent(f)}` : "/prompts"}
              aria-current={f === folder ? "page" : undefined}
              className={cn(
                "flex items-center gap-2 rounded-md px-2 py-1 text-sm hover:bg-accent",
                f === folder && "bg-accent font-medium",
              )}
              style={{ paddingLeft: `${0.5 + (f ? f.split("/").length - 1 : 0)}rem` }}
            >
              <Folder className="h-4 w-4" aria-hidden />
              {f ? f.split("/").at(-1) : "All prompts"}
            </Link>
          ))}
        </nav>
        <div className="flex min-w-0 flex-1 flex-col gap-4">
          <ErrorNotice error={everything.error ?? inFolder.error} />
          {byFolder(shown ?? []).map((group) => (
            <section key={group.folder || "(top)"} aria-label={group.folder ? `Folder ${group.folder}` : "Top level"} className="flex flex-col gap-2">
              <h2 className="text-sm font-medium text-muted-foreground">{group.folder ? `${group.folder}/` : "Top level"}</h2>
              <PromptRows prompts={group.prompts} />
            </section>
          ))}
          {shown && shown.length === 0 ? <p className="text-sm text-muted-foreground">No prompts here yet.</p> : null}
          {!folder ? (
            <section aria-label="Shared library" className="flex flex-col gap-2">
              <h2 className="text-sm font-medium text-muted-foreground">Shared library (read-only; override to change)</h2>
              <ErrorNotice error={shared.error} />
              <PromptRows prompts={(shared.data?.prompts ?? []) as Prompt[]} shared own={everything.data ?? []} />
            </section>
          ) : null}
        </div>
      </div>
      {creating ? <CreatePrompt folder={folder} onClose={() => router.replace(href({}))} /> : null}
    </div>
  );
}
