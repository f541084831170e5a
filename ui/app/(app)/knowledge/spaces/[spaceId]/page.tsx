import type { Metadata } from "next";
import { Suspense } from "react";
import { SpacePage } from "@/components/knowledge/space-page";

export const metadata: Metadata = { title: "Space" };

export default async function Page({ params }: { params: Promise<{ spaceId: string }> }) {
  const { spaceId } = await params;
  return (
    <Suspense>
      <SpacePage spaceId={spaceId} />
    </Suspense>
  );
}
