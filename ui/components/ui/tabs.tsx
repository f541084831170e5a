"use client";
import * as TabsPrimitive from "@radix-ui/react-tabs";
import { cn } from "./cn";

export const Tabs = TabsPrimitive.Root;
export const TabsContent = TabsPrimitive.Content;

export function TabsList(props: TabsPrimitive.TabsListProps) {
  return <TabsPrimitive.List className="inline-flex gap-1 rounded-md bg-muted p-1" {...props} />;
}

export function TabsTrigger({ className, ...props }: TabsPrimitive.TabsTriggerProps) {
  return (
    <TabsPrimitive.Trigger
      className={cn("rounded px-3 py-1 text-sm data-[state=active]:bg-card data-[state=active]:shadow", className)}
      {...props}
    />
  );
}
