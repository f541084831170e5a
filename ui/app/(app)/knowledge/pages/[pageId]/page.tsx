import type { Metadata } from "next";
import { Suspense } from "react";
import { PageView } from "@/components/knowledge/page-view";

export const metadata: Metadata = { title: "Page" };

export default async function Page({ params }: { params: Promise<{ pageId: string }> }) {
  const { pageId } = await params;
  return (
    <Suspense>
      <PageView pageId={pageId} />
    </Suspense>
  );
}
