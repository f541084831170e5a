"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { useSession } from "../providers";
import { cn } from "../ui/cn";

export const SETTINGS_TABS = [
  { href: "/settings/organization", label: "General" },
  { href: "/settings/organization/members", label: "Members" },
  { href: "/settings/organization/invitations", label: "Invitations" },
  { href: "/settings/organization/roles", label: "Roles" },
  { href: "/settings/organization/teams", label: "Teams" },
  { href: "/settings/organization/service-accounts", label: "Service accounts" },
];

export const ACCOUNT_TABS = [
  { href: "/account", label: "Profile" },
  { href: "/account/sessions", label: "Sessions" },
];

export const SYSTEM_ROLES = ["owner", "admin", "member", "viewer"];

export function useOrganizationId(): string {
  return useSession().session?.organizationId ?? "";
}

export function isAdmin(role: string | undefined): boolean {
  return role === "owner" || role === "admin";
}

export function Section({ title, tabs, children }: { title: string; tabs: { href: string; label: string }[]; children: ReactNode }) {
  const pathname = usePathname();
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">{title}</h1>
      <nav aria-label={`${title} sections`} className="flex gap-1 border-b border-border">
        {tabs.map((tab) => (
          <Link
            key={tab.href}
            href={tab.href}
            aria-current={pathname === tab.href ? "page" : undefined}
            className={cn("px-3 py-2 text-sm", pathname === tab.href ? "border-b-2 border-primary font-medium" : "text-muted-foreground")}
          >
            {tab.label}
          </Link>
        ))}
      </nav>
      {children}
    </div>
  );
}

export function Table({ caption, head, children }: { caption: string; head: string[]; children: ReactNode }) {
  return (
    <table className="w-full text-sm">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr className="border-b border-border text-left">
          {head.map((h) => (
            <th key={h} scope="col" className="p-2">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

export function when(time: string | undefined): string {
  return time ? new Date(time).toLocaleString() : "—";
}
