import type { Metadata } from "next";
import { Suspense } from "react";
import { SignInComplete } from "@/components/auth-forms";

export const metadata: Metadata = { title: "Signing in" };

export default function Page() {
  return (
    <Suspense>
      <SignInComplete />
    </Suspense>
  );
}
