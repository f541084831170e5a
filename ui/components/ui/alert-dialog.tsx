"use client";
import * as AlertPrimitive from "@radix-ui/react-alert-dialog";
import type { ReactNode } from "react";

export const AlertDialog = AlertPrimitive.Root;
export const AlertDialogAction = AlertPrimitive.Action;
export const AlertDialogCancel = AlertPrimitive.Cancel;

/** A confirmation that must be answered before anything else. */
export function AlertDialogContent({
  title,
  description,
  children,
}: {
  title: string;
  description: ReactNode;
  children: ReactNode;
}) {
  return (
    <AlertPrimitive.Portal>
      <AlertPrimitive.Overlay className="fixed inset-0 z-50 bg-black/50" />
      <AlertPrimitive.Content className="fixed left-1/2 top-32 z-50 flex w-full max-w-md -translate-x-1/2 flex-col gap-4 rounded-lg border border-border bg-card p-6 shadow-xl">
        <AlertPrimitive.Title className="text-lg font-semibold">{title}</AlertPrimitive.Title>
        <AlertPrimitive.Description asChild>
          <div className="text-sm text-muted-foreground">{description}</div>
        </AlertPrimitive.Description>
        <div className="flex justify-end gap-2">{children}</div>
      </AlertPrimitive.Content>
    </AlertPrimitive.Portal>
  );
}
