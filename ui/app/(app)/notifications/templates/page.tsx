import type { Metadata } from "next";
import { Templates } from "@/components/notifications/templates";

export const metadata: Metadata = { title: "Notification templates" };

export default function Page() {
  return <Templates />;
}
