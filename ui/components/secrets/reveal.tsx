"use client";
import { useMutation } from "@tanstack/react-query";
import { Copy } from "lucide-react";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type Secret, type SecretType, type SecretValue, showValue } from "@/lib/secrets";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input } from "../ui/field";

/** Reveal a secret's value (the current version or another kept one): the reason asked first
 * goes into the access audit with who read which version. The value lives in this dialog's
 * state only and is dropped when it closes. */
export default function Reveal({ secret, version, onClose }: { secret: Secret; version: number; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string>();
  const read = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/secret/secrets/{secret_id}:access", {
          params: { path: { secret_id: secret.id ?? "" } },
          body: { version, reason: reason.trim() },
        }),
      ),
  });
  const shown = read.data ? showValue(secret.type as SecretType, read.data.value as SecretValue) : [];
  const close = () => {
    read.reset(); // forget the value
    onClose();
  };
  return (
    <Dialog open onOpenChange={(open) => !open && close()}>
      <DialogContent title={`Reveal ${secret.name}`} description="Every read is audited: who, when, which version and why." className="max-w-xl">
        {read.data ? (
          <div className="flex flex-col gap-3" data-testid="revealed-value">
            <p className="text-sm text-muted-foreground">Version {read.data.version}</p>
            {shown.map((item) => (
              <div key={item.label} className="flex flex-col gap-1">
                <p className="text-sm font-medium">{item.label}</p>
                <div className="flex items-start gap-2">
                  <pre className="min-w-0 flex-1 whitespace-pre-wrap break-all rounded-md bg-muted p-2 font-mono text-sm" data-field={item.label}>
                    {item.text}
                  </pre>
                  <Button
                    variant="ghost"
                    size="icon"
                    aria-label={`Copy ${item.label}`}
                    onClick={() =>
                      void navigator.clipboard.writeText(item.text).then(
                        () => toast.info(`Copied ${item.label.toLowerCase()}`),
                        () => toast.info("The browser refused the clipboard"),
                      )
                    }
                  >
                    <Copy className="h-4 w-4" aria-hidden />
                  </Button>
                </div>
              </div>
            ))}
            <Button className="self-end" onClick={close}>
              Hide
            </Button>
          </div>
        ) : (
          <form
            className="flex flex-col gap-3"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              if (reason.trim().length < 3) return setError("Say why you need it (at least 3 characters)");
              setError(undefined);
              read.mutate();
            }}
          >
            <Field id="reveal-reason" label="Reason" hint="Kept in the audit: “debugging the deploy”" error={error ?? violationOf(read.error, "reason")}>
              <Input id="reveal-reason" value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} aria-invalid={!!error} />
            </Field>
            <ErrorNotice error={read.error} />
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" disabled={read.isPending}>
                Reveal version {version || secret.currentVersion}
              </Button>
            </div>
          </form>
        )}
      </DialogContent>
    </Dialog>
  );
}
