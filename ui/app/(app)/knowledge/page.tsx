import type { Metadata } from "next";
import { Suspense } from "react";
import { Spaces } from "@/components/knowledge/spaces";

export const metadata: Metadata = { title: "Knowledge" };

export default function Page() {
  return (
    <Suspense>
      <Spaces />
    </Suspense>
  );
}
