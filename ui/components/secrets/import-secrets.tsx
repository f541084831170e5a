"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type SecretScope, toBase64 } from "@/lib/secrets";
import { ErrorNotice, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { ScopeOptions } from "./scope-options";
import { Field, Input, Select, Textarea } from "../ui/field";

type Format = "IMPORT_FORMAT_DOTENV" | "IMPORT_FORMAT_JSON" | "IMPORT_FORMAT_BUNDLE";
type Conflict = "IMPORT_CONFLICT_FAIL" | "IMPORT_CONFLICT_SKIP" | "IMPORT_CONFLICT_NEW_VERSION";

/** Import (owners and admins): a `.env` file, a JSON object or an exported bundle, pasted or
 * read from a file, into one scope; each variable its own secret or all in one set. */
export default function ImportSecrets({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [format, setFormat] = useState<Format>("IMPORT_FORMAT_DOTENV");
  const [content, setContent] = useState("");
  const [scope, setScope] = useState<SecretScope>("SECRET_SCOPE_ORGANIZATION");
  const [scopeId, setScopeId] = useState("");
  const [setName, setSetName] = useState("");
  const [variableType, setVariableType] = useState<"SECRET_TYPE_GENERIC" | "SECRET_TYPE_API_KEY">("SECRET_TYPE_GENERIC");
  const [onConflict, setOnConflict] = useState<Conflict>("IMPORT_CONFLICT_FAIL");
  const [password, setPassword] = useState("");
  const run = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/secret/secrets:import", {
          body: {
            format,
            content: format === "IMPORT_FORMAT_BUNDLE" ? content.trim() : toBase64(content),
            onConflict,
            ...(format === "IMPORT_FORMAT_BUNDLE" ? { password } : { scope, scopeId, setName, variableType }),
          },
        }),
      ),
    onSuccess: () => {
      setContent("");
      void client.invalidateQueries({ queryKey: ["secrets"] });
    },
  });
  const bundle = format === "IMPORT_FORMAT_BUNDLE";
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title="Import secrets" className="max-w-2xl">
        <form
          className="flex flex-col gap-3"
          noValidate
          autoComplete="off"
          onSubmit={(e) => {
            e.preventDefault();
            run.mutate();
          }}
        >
          <div className="grid grid-cols-2 gap-3">
            <Field id="import-format" label="Format">
              <Select id="import-format" value={format} onChange={(e) => setFormat(e.target.value as Format)}>
                <option value="IMPORT_FORMAT_DOTENV">.env file</option>
                <option value="IMPORT_FORMAT_JSON">JSON object</option>
                <option value="IMPORT_FORMAT_BUNDLE">Exported bundle</option>
              </Select>
            </Field>
            <Field id="import-conflict" label="When a name exists">
              <Select id="import-conflict" value={onConflict} onChange={(e) => setOnConflict(e.target.value as Conflict)}>
                <option value="IMPORT_CONFLICT_FAIL">Refuse the import</option>
                <option value="IMPORT_CONFLICT_SKIP">Skip it</option>
                <option value="IMPORT_CONFLICT_NEW_VERSION">Add a version</option>
              </Select>
            </Field>
          </div>
          <Field id="import-file" label="From a file">
            <Input
              id="import-file"
              type="file"
              onChange={(e) => {
                const file = e.target.files?.[0];
                if (file) void file.text().then(setContent);
              }}
            />
          </Field>
          <Field id="import-content" label={bundle ? "Bundle (base64, as exported)" : "Content"} error={violationOf(run.error, "content")}>
            <Textarea id="import-content" className="min-h-40 font-mono" spellCheck={false} value={content} onChange={(e) => setContent(e.target.value)} />
          </Field>
          {bundle ? (
            <Field id="import-password" label="Bundle password" error={violationOf(run.error, "password")}>
              <Input id="import-password" type="password" autoComplete="off" value={password} onChange={(e) => setPassword(e.target.value)} />
            </Field>
          ) : (
            <div className="grid grid-cols-2 gap-3">
              <Field id="import-scope" label="Into scope">
                <Select id="import-scope" value={scope} onChange={(e) => setScope(e.target.value as SecretScope)}>
                  <ScopeOptions />
                </Select>
              </Field>
              {scope !== "SECRET_SCOPE_ORGANIZATION" ? (
                <Field id="import-scope-id" label="Scope id" error={violationOf(run.error, "scope_id")}>
                  <Input id="import-scope-id" value={scopeId} onChange={(e) => setScopeId(e.target.value)} />
                </Field>
              ) : (
                <div />
              )}
              <Field id="import-set-name" label="One set named (optional)" hint="Empty: a secret per variable" error={violationOf(run.error, "set_name")}>
                <Input id="import-set-name" value={setName} onChange={(e) => setSetName(e.target.value)} />
              </Field>
              <Field id="import-variable-type" label="Each variable as">
                <Select id="import-variable-type" value={variableType} disabled={!!setName} onChange={(e) => setVariableType(e.target.value as typeof variableType)}>
                  <option value="SECRET_TYPE_GENERIC">Generic</option>
                  <option value="SECRET_TYPE_API_KEY">API key</option>
                </Select>
              </Field>
            </div>
          )}
          <ErrorNotice error={run.error} />
          {run.data ? (
            <p role="status" className="text-sm">
              Imported: {run.data.created?.length ?? 0} created ({(run.data.created ?? []).map((s) => s.name).join(", ") || "none"}),{" "}
              {run.data.updated?.length ?? 0} new versions, {run.data.skipped?.length ?? 0} skipped.
            </p>
          ) : null}
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={onClose}>
              Close
            </Button>
            <Button type="submit" disabled={!content.trim() || run.isPending}>
              Import
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
