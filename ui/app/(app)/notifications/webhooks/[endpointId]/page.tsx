import type { Metadata } from "next";
import { WebhookPage } from "@/components/notifications/webhook-page";

export const metadata: Metadata = { title: "Webhook endpoint" };

export default async function Page({ params }: { params: Promise<{ endpointId: string }> }) {
  const { endpointId } = await params;
  return <WebhookPage endpointId={endpointId} />;
}
