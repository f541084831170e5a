"use client";
import type { ReactNode } from "react";
import { Section } from "../identity/common";

const TABS = [
  { href: "/mcp", label: "Tools" },
  { href: "/mcp/servers", label: "External servers" },
];

/** The MCP section: the tools the caller may call, and the organization's external servers. */
export function McpSection({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Section title={title} tabs={TABS}>
      {children}
    </Section>
  );
}
