import type { Metadata } from "next";
import { ServiceAccounts } from "@/components/identity/organization";

export const metadata: Metadata = { title: "Service accounts" };

export default function Page() {
  return <ServiceAccounts />;
}
