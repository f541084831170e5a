import type { Metadata } from "next";
import { Playground } from "@/components/ai/playground";

export const metadata: Metadata = { title: "AI playground" };

export default function Page() {
  return <Playground />;
}
