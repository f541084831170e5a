import type { Metadata } from "next";
import { UsageOverview } from "@/components/usage/overview";

export const metadata: Metadata = { title: "Usage" };

export default function Page() {
  return <UsageOverview />;
}
