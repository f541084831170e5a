"use client";
import { useMutation } from "@tanstack/react-query";
import { Download } from "lucide-react";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { bundleFile, BUNDLE_PASSWORD_MIN, exportErrors, SCOPES, scopeName, type Secret, type SecretScope } from "@/lib/secrets";
import { ErrorNotice, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select } from "../ui/field";

/** Export (admins): the chosen secrets, or every active one of a scope, as a bundle
 * encrypted under a password (scrypt, AES-256-GCM) that Import opens again. Each exported
 * value is recorded in the access audit with the reason given. */
export default function ExportSecrets({ secret, onClose }: { secret?: Secret; onClose: () => void }) {
  const [scope, setScope] = useState<SecretScope | "">("");
  const [scopeId, setScopeId] = useState("");
  const [password, setPassword] = useState("");
  const [repeated, setRepeated] = useState("");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const run = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/secret/secrets:export", {
          body: {
            password,
            reason: reason.trim(),
            ...(secret ? { secretIds: [secret.id ?? ""] } : scope ? { scope, scopeId: scopeId.trim() } : {}),
          },
        }),
      ),
    onSuccess: () => {
      setPassword("");
      setRepeated("");
    },
  });
  const file = run.data?.bundle ? bundleFile(run.data.bundle, run.data.exportTime) : undefined;
  const close = () => {
    run.reset(); // the bundle leaves the page's memory with the dialog
    onClose();
  };
  return (
    <Dialog open onOpenChange={(open) => !open && close()}>
      <DialogContent
        title={secret ? `Export ${secret.name}` : "Export secrets"}
        description="The values leave encrypted under the password; Import (format: exported bundle) opens them again. Every exported value is audited."
        className="max-w-xl"
      >
        <form
          className="flex flex-col gap-3"
          noValidate
          autoComplete="off"
          onSubmit={(e) => {
            e.preventDefault();
            const found = exportErrors(password, repeated);
            setErrors(found);
            if (Object.keys(found).length === 0) run.mutate();
          }}
        >
          {!secret ? (
            <div className="grid grid-cols-2 gap-3">
              <Field id="export-scope" label="Secrets">
                <Select id="export-scope" value={scope} onChange={(e) => setScope(e.target.value as SecretScope | "")}>
                  <option value="">Every active secret</option>
                  {SCOPES.map((s) => (
                    <option key={s.value} value={s.value}>
                      {scopeName(s.value)} secrets
                    </option>
                  ))}
                </Select>
              </Field>
              {scope && scope !== "SECRET_SCOPE_ORGANIZATION" ? (
                <Field id="export-scope-id" label="Only of id (optional)" error={violationOf(run.error, "scope_id")}>
                  <Input id="export-scope-id" value={scopeId} onChange={(e) => setScopeId(e.target.value)} />
                </Field>
              ) : null}
            </div>
          ) : null}
          <Field id="export-password" label="Bundle password" hint={`At least ${BUNDLE_PASSWORD_MIN} characters`} error={errors.password ?? violationOf(run.error, "password")}>
            <Input id="export-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} aria-invalid={!!errors.password} />
          </Field>
          <Field id="export-repeated" label="Password again" error={errors.repeated}>
            <Input id="export-repeated" type="password" autoComplete="new-password" value={repeated} onChange={(e) => setRepeated(e.target.value)} aria-invalid={!!errors.repeated} />
          </Field>
          <Field id="export-reason" label="Reason (kept in the audit)" error={violationOf(run.error, "reason")}>
            <Input id="export-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          </Field>
          <ErrorNotice error={run.error} />
          {run.data && file ? (
            <div role="status" className="flex flex-wrap items-center gap-3 text-sm">
              <span>
                Exported {run.data.secretCount} secret{run.data.secretCount === 1 ? "" : "s"}.
              </span>
              <Button variant="secondary" size="sm" asChild>
                <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(file.text)}`} download={file.name}>
                  <Download className="h-4 w-4" aria-hidden /> Download {file.name}
                </a>
              </Button>
            </div>
          ) : null}
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={close}>
              Close
            </Button>
            <Button type="submit" disabled={run.isPending}>
              Export
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
