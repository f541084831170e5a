import type { Metadata } from "next";
import { Suspense } from "react";
import { PromptPage } from "@/components/prompts/prompt-page";

export const metadata: Metadata = { title: "Prompt" };

export default async function Page({ params }: { params: Promise<{ promptId: string }> }) {
  const { promptId } = await params;
  return (
    <Suspense>
      <PromptPage promptId={promptId} />
    </Suspense>
  );
}
