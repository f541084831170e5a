"use client";
import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { api, unwrap } from "@/lib/api";
import { type Tool, toolsKey } from "@/lib/mcp";
import { ErrorNotice } from "../errors";
import { cn } from "../ui/cn";
import { McpSection } from "./frame";

// The form generated from the tool's schema loads when a tool is chosen.
const TryTool = dynamic(() => import("./try-tool"), { ssr: false });

/** The tools the caller may call (the platform's and the external servers'), and a form to
 * try the chosen one through the gateway. */
export function Tools() {
  const params = useSearchParams();
  const chosen = params.get("tool") ?? "";
  const tools = useQuery({
    queryKey: toolsKey,
    queryFn: async () => ((await unwrap(api().GET("/api/v1/mcp/tools"))).tools ?? []) as Tool[],
  });
  const groups = [
    { label: "Platform", tools: (tools.data ?? []).filter((t) => t.source !== "TOOL_SOURCE_EXTERNAL") },
    { label: "External servers", tools: (tools.data ?? []).filter((t) => t.source === "TOOL_SOURCE_EXTERNAL") },
  ];
  const tool = (tools.data ?? []).find((t) => t.name === chosen);
  return (
    <McpSection title="MCP tools">
      <p className="max-w-3xl text-sm text-muted-foreground">
        Agents reach these tools over MCP at <code>/mcp</code> with a bearer token; here they are called through the same gateway.
      </p>
      <ErrorNotice error={tools.error} />
      <div className="flex flex-col gap-6 lg:flex-row">
        <nav aria-label="Tools" className="flex w-full shrink-0 flex-col gap-4 lg:w-80">
          {groups.map((group) =>
            group.tools.length ? (
              <section key={group.label} aria-label={group.label} className="flex flex-col gap-1">
                <h2 className="text-sm font-medium text-muted-foreground">{group.label}</h2>
                <ul className="flex flex-col">
                  {group.tools.map((t) => (
                    <li key={t.name}>
                      <Link
                        href={`/mcp?tool=${encodeURIComponent(t.name ?? "")}`}
                        aria-current={t.name === chosen ? "page" : undefined}
                        className={cn("block rounded-md px-2 py-1 font-mono text-sm hover:bg-accent", t.name === chosen && "bg-accent font-medium")}
                      >
                        {t.name}
                      </Link>
                    </li>
                  ))}
                </ul>
              </section>
            ) : null,
          )}
        </nav>
        <div className="min-w-0 flex-1">
          {tool ? (
            <TryTool key={tool.name} tool={tool} />
          ) : chosen && tools.data ? (
            <p className="text-sm text-muted-foreground">No tool {chosen} is offered to you.</p>
          ) : (
            <p className="text-sm text-muted-foreground">Choose a tool to see its schema and try it.</p>
          )}
        </div>
      </div>
    </McpSection>
  );
}
