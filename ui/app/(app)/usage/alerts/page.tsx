import type { Metadata } from "next";
import { UsageAlerts } from "@/components/usage/alerts";

export const metadata: Metadata = { title: "Usage alerts" };

export default function Page() {
  return <UsageAlerts />;
}
