import type { Metadata } from "next";
import { OrganizationGeneral } from "@/components/identity/organization";

export const metadata: Metadata = { title: "Organization" };

export default function Page() {
  return <OrganizationGeneral />;
}
