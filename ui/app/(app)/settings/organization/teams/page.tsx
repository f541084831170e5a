import type { Metadata } from "next";
import { Teams } from "@/components/identity/organization";

export const metadata: Metadata = { title: "Teams" };

export default function Page() {
  return <Teams />;
}
