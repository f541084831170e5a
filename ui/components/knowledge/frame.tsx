"use client";
import type { ReactNode } from "react";
import { Section } from "../identity/common";

const TABS = [
  { href: "/knowledge", label: "Spaces" },
  { href: "/knowledge/search", label: "Search" },
  { href: "/knowledge/templates", label: "Templates" },
];

/** The Knowledge Base's sections: spaces, search, templates. */
export function KnowledgeSection({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Section title={title} tabs={TABS}>
      {children}
    </Section>
  );
}
