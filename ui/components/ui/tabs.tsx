"use client";
import { createContext, type HTMLAttributes, type KeyboardEvent, type ReactNode, useContext, useId } from "react";
import { cn } from "./cn";

// Tabs as WAI-ARIA's pattern has them (tablist, tabs, tabpanels; arrow keys, Home and End
// move between tabs and show them), written here rather than taken from Radix: the board is
// the first thing people load, and Radix's tabs (with roving focus and collections) weighed
// more in its first load than this whole file. Controlled only, as every use is.

type TabsState = { base: string; value: string; select: (value: string) => void };

const TabsContext = createContext<TabsState | null>(null);

function useTabs(): TabsState {
  const state = useContext(TabsContext);
  if (!state) throw new Error("a tab outside <Tabs>");
  return state;
}

const idOf = (base: string, part: "tab" | "panel", value: string) => `${base}-${part}-${value}`;

export function Tabs({ value, onValueChange, children }: { value: string; onValueChange: (value: string) => void; children: ReactNode }) {
  const base = useId();
  return <TabsContext.Provider value={{ base, value, select: onValueChange }}>{children}</TabsContext.Provider>;
}

/** The tabs of the tablist, in order, answering the keys as a tablist does. */
function move(event: KeyboardEvent<HTMLDivElement>, select: (value: string) => void): void {
  const tabs = [...event.currentTarget.querySelectorAll<HTMLButtonElement>('[role="tab"]:not([disabled])')];
  const at = tabs.indexOf(event.target as HTMLButtonElement);
  if (at < 0) return;
  const next =
    event.key === "ArrowRight" ? (at + 1) % tabs.length
    : event.key === "ArrowLeft" ? (at - 1 + tabs.length) % tabs.length
    : event.key === "Home" ? 0
    : event.key === "End" ? tabs.length - 1
    : -1;
  const tab = tabs[next];
  if (!tab) return;
  event.preventDefault();
  tab.focus();
  select(tab.dataset.value ?? "");
}

export function TabsList({ className, ...props }: HTMLAttributes<HTMLDivElement>) {
  const { select } = useTabs();
  return (
    <div
      role="tablist"
      aria-orientation="horizontal"
      className={cn("inline-flex gap-1 rounded-md bg-muted p-1", className)}
      onKeyDown={(event) => move(event, select)}
      {...props}
    />
  );
}

export function TabsTrigger({ value, className, children }: { value: string; className?: string; children: ReactNode }) {
  const { base, value: current, select } = useTabs();
  const active = value === current;
  return (
    <button
      type="button"
      role="tab"
      id={idOf(base, "tab", value)}
      aria-selected={active}
      aria-controls={idOf(base, "panel", value)}
      data-state={active ? "active" : "inactive"}
      data-value={value}
      tabIndex={active ? 0 : -1}
      onClick={() => select(value)}
      className={cn("rounded px-3 py-1 text-sm data-[state=active]:bg-card data-[state=active]:shadow", className)}
    >
      {children}
    </button>
  );
}

/** The panel of one tab, rendered only while its tab is shown. */
export function TabsContent({ value, className, children }: { value: string; className?: string; children: ReactNode }) {
  const { base, value: current } = useTabs();
  if (value !== current) return null;
  return (
    <div role="tabpanel" id={idOf(base, "panel", value)} aria-labelledby={idOf(base, "tab", value)} tabIndex={0} className={className}>
      {children}
    </div>
  );
}
