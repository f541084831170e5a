import type { Metadata } from "next";
import { UsagePrices } from "@/components/usage/prices";

export const metadata: Metadata = { title: "Prices and meters" };

export default function Page() {
  return <UsagePrices />;
}
