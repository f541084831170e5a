"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { buildValue, NAME, needsScopeId, scopeName, type SecretScope, type SecretType, TYPE_OPTIONS } from "@/lib/secrets";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { ScopeOptions } from "./scope-options";
import { Field, Input, Select } from "../ui/field";
import { ValueFields } from "./value-fields";

/** The new-secret dialog: name, type, scope, description and the first value. */
export default function CreateSecret({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const router = useRouter();
  const [name, setName] = useState("");
  const [type, setType] = useState<SecretType>("SECRET_TYPE_API_KEY");
  const [scope, setScope] = useState<SecretScope>("SECRET_SCOPE_USER");
  const [scopeId, setScopeId] = useState("");
  const [description, setDescription] = useState("");
  const [entries, setEntries] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: (value: Record<string, unknown>) =>
      unwrap(
        api().POST("/api/v1/secret/secrets", {
          body: { secret: { name, type, scope, scopeId, description }, value: value as never },
        }),
      ),
    onSuccess: (reply) => {
      setEntries({}); // the value leaves the page's memory with the dialog
      void client.invalidateQueries({ queryKey: ["secrets"] });
      toast.info(`Stored ${reply.secret?.name}`);
      onClose();
      router.push(`/secrets/${reply.secret?.id}`);
    },
  });
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (!NAME.test(name)) next.name = "A letter or _ first, then letters, digits, _ . -";
    if (needsScopeId(scope) && !scopeId) next.scopeId = "Which one";
    const built = buildValue(type, entries);
    if (!built.ok) Object.assign(next, built.errors);
    setErrors(next);
    if (Object.keys(next).length === 0 && built.ok) create.mutate(built.value);
  };
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title="New secret" description="The value is encrypted when stored; it is shown again only to those who may read it, with a reason.">
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate autoComplete="off">
          <Field id="secret-name" label="Name" hint="OPENAI_API_KEY, prod.db-url" error={errors.name ?? violationOf(create.error, "name")}>
            <Input id="secret-name" className="font-mono" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} />
          </Field>
          <div className="grid grid-cols-2 gap-3">
            <Field id="secret-type" label="Type">
              <Select
                id="secret-type"
                value={type}
                onChange={(e) => {
                  setType(e.target.value as SecretType);
                  setEntries({});
                  setErrors({});
                }}
              >
                {TYPE_OPTIONS.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id="secret-scope" label="Scope" error={violationOf(create.error, "scope")}>
              <Select id="secret-scope" value={scope} onChange={(e) => setScope(e.target.value as SecretScope)}>
                <ScopeOptions />
              </Select>
            </Field>
          </div>
          {scope !== "SECRET_SCOPE_ORGANIZATION" ? (
            <Field id="secret-scope-id" label={`${scopeName(scope)} id`} error={errors.scopeId ?? violationOf(create.error, "scope_id")}>
              <Input id="secret-scope-id" value={scopeId} onChange={(e) => setScopeId(e.target.value)} placeholder={scope === "SECRET_SCOPE_USER" ? "empty: me" : ""} />
            </Field>
          ) : null}
          <Field id="secret-description" label="Description" error={violationOf(create.error, "description")}>
            <Input id="secret-description" value={description} onChange={(e) => setDescription(e.target.value)} />
          </Field>
          <ValueFields type={type} prefix="secret-value" entries={entries} errors={errors} apiError={create.error} onChange={setEntries} />
          <ErrorNotice error={create.error} />
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending}>
              Store secret
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
