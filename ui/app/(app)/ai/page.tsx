import type { Metadata } from "next";
import { AiAdmin } from "@/components/ai/admin";

export const metadata: Metadata = { title: "AI providers and models" };

export default function Page() {
  return <AiAdmin />;
}
