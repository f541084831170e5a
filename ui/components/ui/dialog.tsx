"use client";
import * as DialogPrimitive from "@radix-ui/react-dialog";
import type { ReactNode } from "react";
import { cn } from "./cn";

export const Dialog = DialogPrimitive.Root;
export const DialogTrigger = DialogPrimitive.Trigger;
export const DialogClose = DialogPrimitive.Close;

/** A modal panel; `side` makes it a drawer sliding from the right. */
export function DialogContent({
  title,
  description,
  children,
  side,
  className,
}: {
  title: string;
  description?: string;
  children: ReactNode;
  side?: boolean;
  className?: string;
}) {
  return (
    <DialogPrimitive.Portal>
      <DialogPrimitive.Overlay className="fixed inset-0 z-40 bg-black/40" />
      <DialogPrimitive.Content
        className={cn(
          "fixed z-50 flex flex-col gap-4 border border-border bg-card p-6 shadow-xl",
          side
            ? "inset-y-0 right-0 w-full max-w-xl overflow-y-auto"
            : "left-1/2 top-24 w-full max-w-lg -translate-x-1/2 rounded-lg",
          className,
        )}
        aria-describedby={description ? undefined : undefined}
      >
        <DialogPrimitive.Title className="text-lg font-semibold">{title}</DialogPrimitive.Title>
        {description ? (
          <DialogPrimitive.Description className="text-sm text-muted-foreground">{description}</DialogPrimitive.Description>
        ) : (
          <DialogPrimitive.Description className="sr-only">{title}</DialogPrimitive.Description>
        )}
        {children}
      </DialogPrimitive.Content>
    </DialogPrimitive.Portal>
  );
}
