import type { Metadata } from "next";
import { Webhooks } from "@/components/notifications/webhooks";

export const metadata: Metadata = { title: "Webhook endpoints" };

export default function Page() {
  return <Webhooks />;
}
