import type { Metadata } from "next";
import { Invitations } from "@/components/identity/organization";

export const metadata: Metadata = { title: "Invitations" };

export default function Page() {
  return <Invitations />;
}
