import type { Metadata } from "next";
import { Suspense } from "react";
import { Collections } from "@/components/embeddings/collections";

export const metadata: Metadata = { title: "Embeddings" };

export default function Page() {
  return (
    <Suspense>
      <Collections />
    </Suspense>
  );
}
