"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api";
import { type KeyUsage, versionsOffPrimary } from "@/lib/secrets";
import { ErrorNotice, toast } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";

const keysKey = ["secret-keys"] as const;

/** The key-encryption keys (admins): which key wraps how many of the organization's
 * versions, and a rewrap of every data key under the primary one, which decrypts no value.
 * A rotation is over when no version is left under an old key. */
export default function Keys({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const status = useQuery({ queryKey: keysKey, queryFn: () => unwrap(api().GET("/api/v1/secret/keys")) });
  const rewrap = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/secret/keys:rewrap", { body: {} })),
    onSuccess: (reply) => {
      const count = Number(reply.rewrappedCount ?? 0);
      toast.info(`Rewrapped ${count} version${count === 1 ? "" : "s"}`);
      client.setQueryData(keysKey, { ...status.data, keys: reply.keys ?? [] });
      void client.invalidateQueries({ queryKey: keysKey });
    },
  });
  const keys = (status.data?.keys ?? []) as KeyUsage[];
  const left = versionsOffPrimary(keys);
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title="Encryption keys" description="Each version's data key is wrapped by a key-encryption key; a rewrap moves them all under the primary." className="max-w-2xl">
        <ErrorNotice error={status.error ?? rewrap.error} />
        {status.data ? (
          <>
            <p className="text-sm">
              Keys kept by <span className="font-medium">{status.data.provider === "azure-key-vault" ? "Azure Key Vault" : "this installation"}</span>.{" "}
              <span data-testid="versions-off-primary">
                {left === 0 ? "Every version is under the primary key." : `${left} version${left === 1 ? "" : "s"} under an older key.`}
              </span>
            </p>
            <table className="w-full text-sm">
              <caption className="sr-only">Key-encryption keys</caption>
              <thead>
                <tr className="border-b border-border text-left">
                  <th className="p-2">Key</th>
                  <th className="p-2">Versions it wraps</th>
                  <th className="p-2">
                    <span className="sr-only">Primary</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr key={k.keyId} className="border-b border-border" data-key={k.keyId}>
                    <td className="break-all p-2 font-mono text-xs">{k.keyId}</td>
                    <td className="p-2">{k.versionCount ?? "0"}</td>
                    <td className="p-2">{k.primary ? "primary" : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : (
          <p className="text-sm text-muted-foreground">Reading the keys…</p>
        )}
        {rewrap.data ? (
          <p role="status" className="text-sm">
            Rewrapped {rewrap.data.rewrappedCount ?? "0"} version{rewrap.data.rewrappedCount === "1" ? "" : "s"} under the primary key.
          </p>
        ) : null}
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={onClose}>
            Close
          </Button>
          <Button onClick={() => rewrap.mutate()} disabled={!status.data || rewrap.isPending}>
            Rewrap under the primary key
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}
