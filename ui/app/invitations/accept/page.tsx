import type { Metadata } from "next";
import { Suspense } from "react";
import { AcceptInvitationForm } from "@/components/auth-forms";

export const metadata: Metadata = { title: "Join an organization" };

export default function Page() {
  return (
    <Suspense>
      <AcceptInvitationForm />
    </Suspense>
  );
}
