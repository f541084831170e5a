"use client";
import * as Menu from "@radix-ui/react-dropdown-menu";
import type { ReactNode } from "react";

export const DropdownMenu = Menu.Root;
export const DropdownMenuTrigger = Menu.Trigger;

export function DropdownMenuContent({ children, label }: { children: ReactNode; label: string }) {
  return (
    <Menu.Portal>
      <Menu.Content
        aria-label={label}
        align="start"
        sideOffset={4}
        className="z-50 min-w-48 rounded-md border border-border bg-card p-1 shadow-lg"
      >
        {children}
      </Menu.Content>
    </Menu.Portal>
  );
}

export function DropdownMenuItem({ children, onSelect }: { children: ReactNode; onSelect: () => void }) {
  return (
    <Menu.Item
      onSelect={onSelect}
      className="cursor-pointer rounded px-2 py-1.5 text-sm outline-none data-[highlighted]:bg-accent"
    >
      {children}
    </Menu.Item>
  );
}
