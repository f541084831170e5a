import type { Metadata } from "next";
import { Suspense } from "react";
import { CollectionPage } from "@/components/embeddings/collection-page";

export const metadata: Metadata = { title: "Collection" };

export default async function Page({ params }: { params: Promise<{ collectionId: string }> }) {
  const { collectionId } = await params;
  return (
    <Suspense>
      <CollectionPage collectionId={collectionId} />
    </Suspense>
  );
}
