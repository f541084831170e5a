import type { Metadata } from "next";
import { Sessions } from "@/components/identity/account";

export const metadata: Metadata = { title: "Sessions" };

export default function Page() {
  return <Sessions />;
}
