import type { Metadata } from "next";
import { NotificationPreferences } from "@/components/notifications/preferences";

export const metadata: Metadata = { title: "Notification preferences" };

export default function Page() {
  return <NotificationPreferences />;
}
