"use client";
import type { ReactNode } from "react";
import { isAdmin, Section } from "../identity/common";
import { useSession } from "../providers";
import { ADMIN_TABS, NOTIFICATION_TABS } from "./queries";

/** The notification pages' heading and tabs (webhooks for admins only). */
export function NotificationSection({ title, children }: { title: string; children: ReactNode }) {
  const { session } = useSession();
  return (
    <Section title={title} tabs={isAdmin(session?.role) ? ADMIN_TABS : NOTIFICATION_TABS}>
      {children}
    </Section>
  );
}
