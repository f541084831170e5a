"use client";
import { Lock } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { usePrompt, useVersions } from "@/lib/prompt-queries";
import { ErrorNotice } from "../errors";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "../ui/tabs";

// Each tab's code loads when the tab is first shown.
const Editor = dynamic(() => import("./editor"), { ssr: false });
const Versions = dynamic(() => import("./versions"), { ssr: false });
const Labels = dynamic(() => import("./labels"), { ssr: false });
const Experiments = dynamic(() => import("./experiments"), { ssr: false });
const Override = dynamic(() => import("./override"), { ssr: false });

const TABS = [
  ["editor", "Editor"],
  ["versions", "Versions"],
  ["labels", "Labels"],
  ["experiments", "Experiments"],
] as const;

/** One prompt: its editor, versions with a side-by-side diff, labels and experiments. */
export function PromptPage({ promptId }: { promptId: string }) {
  const prompt = usePrompt(promptId);
  const versions = useVersions(promptId);
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const tab = params.get("tab") ?? "editor";
  const version = Number(params.get("version") ?? 0);
  const go = (next: Record<string, string>) => router.replace(`${pathname}?${new URLSearchParams(next)}`);
  const data = prompt.data;
  return (
    <div className="flex flex-col gap-4">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
        <Link href="/prompts" className="hover:underline">
          Prompts
        </Link>
        {data?.folder ? (
          <>
            {" / "}
            <Link href={`/prompts?folder=${encodeURIComponent(data.folder)}`} className="hover:underline">
              {data.folder}
            </Link>
          </>
        ) : null}
      </nav>
      <div className="flex flex-wrap items-baseline gap-3">
        <h1 className="font-mono text-2xl font-semibold">{data?.name ?? "Prompt"}</h1>
        {data ? (
          <span className="text-sm text-muted-foreground">
            {data.type === "PROMPT_TYPE_CHAT" ? "Chat" : "Text"} prompt · {data.latestVersion} version
            {data.latestVersion === 1 ? "" : "s"}
            {data.shared ? " · shared library (read-only)" : ""}
          </span>
        ) : null}
        <ul aria-label="Labels" className="flex flex-wrap gap-1">
          {(data?.labels ?? []).map((label) => (
            <li key={label.name} className="flex items-center gap-1 rounded-full border border-border px-2 py-0.5 text-xs">
              {label.protected ? <Lock className="h-3 w-3" aria-label="protected" /> : null}
              {label.name} → v{label.version}
            </li>
          ))}
        </ul>
      </div>
      {data?.description ? <p className="text-sm text-muted-foreground">{data.description}</p> : null}
      {data?.overridesShared ? (
        <p className="text-sm text-muted-foreground" data-testid="overrides-shared">
          Overrides the shared prompt of this name wherever it carries the label asked for (move its production label to put it live).
        </p>
      ) : null}
      {data?.shared && versions.data ? <Override prompt={data} versions={versions.data} /> : null}
      <ErrorNotice error={prompt.error ?? versions.error} />
      {data && versions.data ? (
        <Tabs value={tab} onValueChange={(value) => go({ tab: value })}>
          <TabsList aria-label="Prompt sections">
            {TABS.map(([value, label]) => (
              <TabsTrigger key={value} value={value}>
                {label}
              </TabsTrigger>
            ))}
          </TabsList>
          <TabsContent value="editor" className="pt-4">
            {tab === "editor" ? (
              <Editor
                key={`${version}-${versions.data[0]?.version ?? 0}`}
                prompt={data}
                versions={versions.data}
                version={version || data.latestVersion || 0}
              />
            ) : null}
          </TabsContent>
          <TabsContent value="versions" className="pt-4">
            {tab === "versions" ? (
              <Versions prompt={data} versions={versions.data} onOpen={(n) => go({ tab: "editor", version: String(n) })} />
            ) : null}
          </TabsContent>
          <TabsContent value="labels" className="pt-4">
            {tab === "labels" ? <Labels prompt={data} versions={versions.data} /> : null}
          </TabsContent>
          <TabsContent value="experiments" className="pt-4">
            {tab === "experiments" ? <Experiments prompt={data} versions={versions.data} /> : null}
          </TabsContent>
        </Tabs>
      ) : null}
    </div>
  );
}
