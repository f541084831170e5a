import type { Metadata } from "next";
import { Suspense } from "react";
import { SecretList } from "@/components/secrets/secret-list";

export const metadata: Metadata = { title: "Secrets" };

export default function Page() {
  return (
    <Suspense>
      <SecretList />
    </Suspense>
  );
}
