import type { Metadata } from "next";
import { Suspense } from "react";
import { Servers } from "@/components/mcp/servers";

export const metadata: Metadata = { title: "MCP servers" };

export default function Page() {
  return (
    <Suspense>
      <Servers />
    </Suspense>
  );
}
