"use client";
import { type SecretType, TYPES } from "@/lib/secrets";
import { violationOf } from "../errors";
import { Field, Input, Textarea } from "../ui/field";

/** The value form of a secret type: one control per field of its SecretValue member. Secret
 * lines are password inputs, so the value is not on the screen while it is typed. */
export function ValueFields({
  type,
  prefix,
  entries,
  errors,
  apiError,
  onChange,
}: {
  type: SecretType;
  prefix: string;
  entries: Record<string, string>;
  errors: Record<string, string>;
  apiError: unknown;
  onChange: (entries: Record<string, string>) => void;
}) {
  return (
    <>
      {TYPES[type].fields.map((field) => {
        const id = `${prefix}-${field.key}`;
        const snake = field.key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        const error = errors[field.key] ?? violationOf(apiError, snake);
        const set = (text: string) => onChange({ ...entries, [field.key]: text });
        const visible = field.kind || /username|tokenType|tokenUrl|clientId|publicKey/.test(field.key);
        return (
          <Field key={field.key} id={id} label={field.label} error={error}>
            {field.kind ? (
              <Textarea
                id={id}
                className="font-mono"
                spellCheck={false}
                autoComplete="off"
                aria-invalid={!!error}
                value={entries[field.key] ?? ""}
                onChange={(e) => set(e.target.value)}
              />
            ) : (
              <Input
                id={id}
                type={visible ? "text" : "password"}
                className="font-mono"
                autoComplete={visible ? "off" : "new-password"}
                spellCheck={false}
                aria-invalid={!!error}
                value={entries[field.key] ?? ""}
                onChange={(e) => set(e.target.value)}
              />
            )}
          </Field>
        );
      })}
    </>
  );
}
