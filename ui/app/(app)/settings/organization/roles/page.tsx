import type { Metadata } from "next";
import { Roles } from "@/components/identity/organization";

export const metadata: Metadata = { title: "Roles" };

export default function Page() {
  return <Roles />;
}
