import type { Metadata } from "next";
import { Suspense } from "react";
import { KnowledgeSearch } from "@/components/knowledge/search";

export const metadata: Metadata = { title: "Search knowledge" };

export default function Page() {
  return (
    <Suspense>
      <KnowledgeSearch />
    </Suspense>
  );
}
