import type { Metadata } from "next";
import { SecretPage } from "@/components/secrets/secret-page";

export const metadata: Metadata = { title: "Secret" };

export default async function Page({ params }: { params: Promise<{ secretId: string }> }) {
  const { secretId } = await params;
  return <SecretPage secretId={secretId} />;
}
