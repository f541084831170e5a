import type { Metadata } from "next";
import { UsageLimits } from "@/components/usage/limits";

export const metadata: Metadata = { title: "Quotas and budgets" };

export default function Page() {
  return <UsageLimits />;
}
