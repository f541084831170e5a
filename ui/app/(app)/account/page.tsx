import type { Metadata } from "next";
import { Profile } from "@/components/identity/account";

export const metadata: Metadata = { title: "My account" };

export default function Page() {
  return <Profile />;
}
