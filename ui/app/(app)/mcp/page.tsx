import type { Metadata } from "next";
import { Suspense } from "react";
import { Tools } from "@/components/mcp/tools";

export const metadata: Metadata = { title: "MCP tools" };

export default function Page() {
  return (
    <Suspense>
      <Tools />
    </Suspense>
  );
}
