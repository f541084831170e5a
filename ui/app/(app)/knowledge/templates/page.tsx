import type { Metadata } from "next";
import { Suspense } from "react";
import { Templates } from "@/components/knowledge/templates";

export const metadata: Metadata = { title: "Page templates" };

export default function Page() {
  return (
    <Suspense>
      <Templates />
    </Suspense>
  );
}
