import type { Metadata } from "next";
import { Suspense } from "react";
import { PromptList } from "@/components/prompts/prompt-list";

export const metadata: Metadata = { title: "Prompts" };

export default function Page() {
  return (
    <Suspense>
      <PromptList />
    </Suspense>
  );
}
