"use client";
import type { ReactNode } from "react";
import { toast } from "../errors";
import { Button } from "../ui/button";

/** A signing secret as create and rotate answer it: shown this once, to copy. */
export function SecretOnce({ title, secret, action }: { title: string; secret: string; action?: ReactNode }) {
  return (
    <div role="status" className="flex max-w-3xl flex-col gap-2 rounded-md border border-primary p-4 text-sm">
      <p className="font-medium">{title}</p>
      <p>The signing secret is shown only now: keep it where the receiver verifies signatures.</p>
      <div className="flex items-center gap-2">
        <code data-testid="webhook-secret" className="break-all rounded bg-muted px-2 py-1">
          {secret}
        </code>
        <Button
          size="sm"
          variant="secondary"
          onClick={() =>
            void navigator.clipboard?.writeText(secret).then(
              () => toast.info("Copied"),
              () => toast.info("Copy it by hand: the clipboard is not available"),
            )
          }
        >
          Copy
        </Button>
        {action}
      </div>
    </div>
  );
}
