"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type MoveBody, moveRequest, needsScopeId, scopeName, type Secret, type SecretScope } from "@/lib/secrets";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { ScopeOptions } from "./scope-options";
import { Field, Input, Select } from "../ui/field";

/** Rename a secret or move it to another scope of the organization (MoveSecret): its id,
 * versions, grants and audit stay; the write carries the etag the page read. */
export default function MoveSecret({ secret, onClose }: { secret: Secret; onClose: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState(secret.name ?? "");
  const [scope, setScope] = useState<SecretScope>(secret.scope ?? "SECRET_SCOPE_ORGANIZATION");
  const [scopeId, setScopeId] = useState(secret.scopeId ?? "");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const move = useMutation({
    mutationFn: (body: MoveBody) =>
      unwrap(api().POST("/api/v1/secret/secrets/{secret_id}:move", { params: { path: { secret_id: secret.id ?? "" } }, body })),
    onSuccess: (reply) => {
      toast.info(`Moved: now ${reply.secret?.name}`);
      if (reply.secret) client.setQueryData(["secret", secret.id ?? ""], reply.secret);
      void client.invalidateQueries({ queryKey: ["secret", secret.id ?? ""] });
      void client.invalidateQueries({ queryKey: ["secrets"] });
      onClose();
    },
  });
  const scopeLabel = scopeName(scope);
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={`Move ${secret.name}`} description="Names are unique in their scope. The id, versions, grants and audit stay with the secret.">
        <form
          className="flex flex-col gap-4"
          noValidate
          autoComplete="off"
          onSubmit={(e) => {
            e.preventDefault();
            const request = moveRequest(secret, { name, scope, scopeId });
            setErrors(request.ok ? {} : request.errors);
            if (request.ok) move.mutate(request.body);
          }}
        >
          <Field id="move-name" label="Name" error={errors.name ?? violationOf(move.error, "name")}>
            <Input id="move-name" className="font-mono" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} />
          </Field>
          <Field id="move-scope" label="Scope" error={violationOf(move.error, "scope")}>
            <Select id="move-scope" value={scope} onChange={(e) => setScope(e.target.value as SecretScope)}>
              <ScopeOptions />
            </Select>
          </Field>
          {scope !== "SECRET_SCOPE_ORGANIZATION" ? (
            <Field id="move-scope-id" label={`${scopeLabel} id`} error={errors.scopeId ?? violationOf(move.error, "scope_id")}>
              <Input
                id="move-scope-id"
                value={scopeId}
                onChange={(e) => setScopeId(e.target.value)}
                placeholder={needsScopeId(scope) ? "" : "empty: me"}
                aria-invalid={!!errors.scopeId}
              />
            </Field>
          ) : null}
          <ErrorNotice error={move.error} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={move.isPending}>
              Move
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
